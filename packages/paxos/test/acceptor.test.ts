// The acceptor's rules, one by one: it never promises below what it promised, never
// accepts below its promise, reports exactly the accepted values a prepare asks for (the
// highest ballot per instance), and refuses what is outside its window or beyond its keys.

import { describe, expect, it } from "vitest";
import { AcceptorState, asGlobalKey, asInstance, ballot, compareBallots, ZERO_BALLOT, type AcceptorReply } from "../src/index.js";
import { acquire } from "./harness.js";

const K = asGlobalKey("global:k");
const i = asInstance;
const v1 = [acquire("a")];
const v2 = [acquire("b")];

function fresh(keysMax = 4, instancesAheadMax = 8): AcceptorState {
  return new AcceptorState({ keysMax, instancesAheadMax });
}

function kind(reply: AcceptorReply): string {
  return reply.kind === "refused" ? `refused:${reply.reason}` : reply.kind;
}

describe("acceptor", () => {
  it("promises a higher ballot and nacks a lower one with the ballot it promised", () => {
    const a = fresh();
    expect(kind(a.prepare(K, ballot(2, "us-east", 1), i(1), i(0)))).toBe("promise");
    const reply = a.prepare(K, ballot(1, "us-west", 1), i(1), i(0));
    expect(reply).toMatchObject({ kind: "nack", promised: ballot(2, "us-east", 1) });
    expect(a.promised(K)).toEqual(ballot(2, "us-east", 1));
  });

  it("promises the same ballot again, so a retransmitted prepare gets the same answer", () => {
    const a = fresh();
    const b = ballot(1, "us-east", 1);
    a.prepare(K, b, i(1), i(0));
    a.accept(K, b, i(1), v1, i(0));
    const first = a.prepare(K, b, i(1), i(0));
    const again = a.prepare(K, b, i(1), i(0));
    expect(first).toMatchObject({ kind: "promise", ballot: b, accepted: [{ instance: 1, ballot: b, value: v1 }] });
    expect(again).toEqual(first);
  });

  it("never lowers its promise, whatever sequence of prepares and accepts arrives", () => {
    const a = fresh();
    const ballots = [ballot(3, "b", 0), ballot(1, "c", 0), ballot(3, "a", 0), ballot(4, "a", 0), ballot(2, "z", 0), ballot(4, "a", 1)];
    let previous = ZERO_BALLOT;
    for (const [n, b] of ballots.entries()) {
      if (n % 2 === 0) a.prepare(K, b, i(1), i(0));
      else a.accept(K, b, i(1), v1, i(0));
      expect(compareBallots(a.promised(K), previous)).toBeGreaterThanOrEqual(0);
      previous = a.promised(K);
    }
    expect(a.promised(K)).toEqual(ballot(4, "a", 1));
  });

  it("never accepts below its promise", () => {
    const a = fresh();
    a.prepare(K, ballot(5, "us-east", 1), i(1), i(0));
    expect(kind(a.accept(K, ballot(4, "us-west", 1), i(1), v1, i(0)))).toBe("nack");
    expect(a.acceptedEntries(K)).toEqual([]);
    expect(kind(a.accept(K, ballot(5, "us-east", 1), i(1), v1, i(0)))).toBe("accepted");
  });

  it("raises its promise when it accepts a higher ballot", () => {
    const a = fresh();
    a.accept(K, ballot(3, "us-east", 1), i(1), v1, i(0));
    expect(a.promised(K)).toEqual(ballot(3, "us-east", 1));
    expect(kind(a.prepare(K, ballot(2, "us-west", 1), i(1), i(0)))).toBe("nack");
  });

  it("reports every accepted value at or above fromInstance, with the highest ballot per instance", () => {
    const a = fresh();
    a.accept(K, ballot(1, "us-east", 1), i(1), v1, i(0));
    a.accept(K, ballot(1, "us-east", 1), i(2), v1, i(0));
    a.accept(K, ballot(2, "us-west", 1), i(2), v2, i(0));
    a.accept(K, ballot(2, "us-west", 1), i(4), v2, i(0));
    const reply = a.prepare(K, ballot(3, "eu-west", 1), i(2), i(0));
    expect(reply).toEqual({
      kind: "promise",
      ballot: ballot(3, "eu-west", 1),
      chosenThrough: i(0),
      accepted: [
        { instance: i(2), ballot: ballot(2, "us-west", 1), value: v2 },
        { instance: i(4), ballot: ballot(2, "us-west", 1), value: v2 },
      ],
    });
  });

  it("reports only instances above what its region applied, and says how far that is", () => {
    const a = fresh();
    a.accept(K, ballot(1, "us-east", 1), i(1), v1, i(0));
    a.accept(K, ballot(1, "us-east", 1), i(2), v1, i(0));
    const reply = a.prepare(K, ballot(2, "us-east", 1), i(1), i(1));
    expect(reply).toMatchObject({ kind: "promise", chosenThrough: 1, accepted: [{ instance: 2 }] });
  });

  it("refuses an accept for an instance its region has applied, or one beyond its window", () => {
    const a = fresh(4, 8);
    expect(a.accept(K, ballot(1, "us-east", 1), i(3), v1, i(3))).toMatchObject({ kind: "refused", reason: "chosen", chosenThrough: 3 });
    expect(a.accept(K, ballot(1, "us-east", 1), i(12), v1, i(3))).toMatchObject({ kind: "refused", reason: "behind" });
    expect(kind(a.accept(K, ballot(1, "us-east", 1), i(11), v1, i(3)))).toBe("accepted");
  });

  it("refuses a new key beyond keysMax, but keeps serving the keys it has", () => {
    const a = fresh(2);
    a.prepare(asGlobalKey("global:a"), ballot(1, "x", 0), i(1), i(0));
    a.prepare(asGlobalKey("global:b"), ballot(1, "x", 0), i(1), i(0));
    expect(a.prepare(asGlobalKey("global:c"), ballot(1, "x", 0), i(1), i(0))).toMatchObject({ kind: "refused", reason: "overloaded" });
    expect(kind(a.accept(asGlobalKey("global:a"), ballot(1, "x", 0), i(1), v1, i(0)))).toBe("accepted");
    expect(a.keyCount).toBe(2);
  });

  it("forgets accepted values once its region applied them, and keeps the promise", () => {
    const a = fresh();
    a.accept(K, ballot(2, "us-east", 1), i(1), v1, i(0));
    a.accept(K, ballot(2, "us-east", 1), i(2), v1, i(0));
    a.compact(K, i(1));
    expect(a.acceptedEntries(K).map((e) => e.instance)).toEqual([2]);
    expect(a.promised(K)).toEqual(ballot(2, "us-east", 1));
  });

  it("restores from its snapshot to the same promises and accepted values", () => {
    const a = fresh();
    a.accept(K, ballot(2, "us-east", 1), i(1), v1, i(0));
    a.prepare(asGlobalKey("global:other"), ballot(7, "eu-west", 3), i(1), i(0));
    const copy = fresh();
    copy.restoreKeys(JSON.parse(JSON.stringify(a.snapshot())));
    expect(copy.snapshot()).toEqual(a.snapshot());
    expect(kind(copy.prepare(K, ballot(1, "zz", 9), i(1), i(0)))).toBe("nack");
  });
});
