// The proposer, message by message, on a hand-driven three-region cluster (test/harness.ts):
// the phase-2-only fast path of the region that leads a key, takeover by phase 1 with a
// higher round, re-proposal of accepted values (on five regions where that takes telling
// apart values accepted at three different ballots), NO_QUORUM in a cut-off region, seeded
// backoff after a lost ballot, retransmission, and bounds.

import { describe, expect, it } from "vitest";
import {
  asGlobalKey,
  asInstance,
  asRegionId,
  ballot,
  ballotGreater,
  paxosConfig,
  type AcceptMessage,
  type Ballot,
  type LockCommand,
  type PaxosMessage,
  type PaxosValue,
  type PrepareMessage,
  type PromiseMessage,
  type RegionId,
} from "../src/index.js";
import { acquire, between, config3, EU_WEST, HandCluster, KEY, kindIs, US_EAST, US_WEST } from "./harness.js";

const isPrepare = (m: PaxosMessage): m is PrepareMessage => m.kind === "prepare";
const isAccept = (m: PaxosMessage): m is AcceptMessage => m.kind === "accept";
const isPromise = (m: PaxosMessage): m is PromiseMessage => m.kind === "promise";

const clientOf = (command: LockCommand | undefined): string => (command?.type === "acquire" ? command.holder.clientId : "?");

const AP_SOUTH = asRegionId("ap-south");
const SA_EAST = asRegionId("sa-east");
const REGIONS5 = [US_EAST, US_WEST, EU_WEST, AP_SOUTH, SA_EAST] as const;

/**
 * An earlier proposer's attempt at instance 1 of KEY, applied straight to the replicas: its
 * phase 1 at `ballot` is promised by `promisedBy` with nothing accepted reported (so it was
 * free to propose `value`), and its phase 2 reaches `acceptedBy` only.
 */
function earlierAttempt(c: HandCluster, b: Ballot, value: PaxosValue, promisedBy: readonly RegionId[], acceptedBy: readonly RegionId[]): void {
  const instance = asInstance(1);
  for (const region of promisedBy) {
    const { reply } = c.replica(region).apply({ type: "prepare", from: b.region, key: KEY, ballot: b, fromInstance: instance });
    expect(reply).toMatchObject({ kind: "promise", ballot: b, accepted: [] });
  }
  for (const region of acceptedBy) {
    const { reply } = c.replica(region).apply({ type: "accept", from: b.region, key: KEY, ballot: b, instance, value });
    expect(reply).toMatchObject({ kind: "accepted", ballot: b, instance });
  }
}

/** Delivers everything and returns the cluster; bounded by the harness. */
function settle(c: HandCluster): HandCluster {
  c.deliver();
  return c;
}

function decidedOnce(c: HandCluster): HandCluster {
  c.propose(US_EAST, acquire("a"));
  return settle(c);
}

describe("proposer", () => {
  it("decides a key's first value with phase 1, then phase 2, and every region learns it", () => {
    const c = new HandCluster(config3());
    c.propose(US_EAST, acquire("a"));
    expect(c.inFlight.map((m) => m.kind)).toEqual(["prepare", "prepare", "prepare"]);
    settle(c);
    expect(c.outcomes).toMatchObject([{ kind: "chosen", key: KEY, instance: 1 }]);
    for (const region of [US_EAST, US_WEST, EU_WEST]) {
      expect(c.replica(region).appliedInstance(KEY)).toBe(1);
      expect(c.replica(region).lockTable.holder(KEY)?.holder.clientId).toBe("a");
    }
    expect(c.proposer(US_EAST).isLeading(KEY)).toBe(true);
  });

  it("decides the next instance with phase 2 only while its ballot stands", () => {
    const c = decidedOnce(new HandCluster(config3()));
    c.propose(US_EAST, acquire("b"));
    expect(c.inFlight.every(isAccept)).toBe(true);
    expect(c.inFlight).toHaveLength(3);
    // One round trip to the nearest majority: itself and us-west. eu-west hears nothing.
    c.drop(between(null, EU_WEST));
    c.deliver(between(null, null, "accept", "accepted"));
    expect(c.outcomes.at(-1)).toMatchObject({ kind: "chosen", instance: 2 });
  });

  it("lets another region take the key over with phase 1 at a higher round", () => {
    const c = decidedOnce(new HandCluster(config3()));
    const ownerBallot = c.replica(US_WEST).promised(KEY);
    c.propose(EU_WEST, acquire("b", EU_WEST));
    const prepares = c.inFlight.filter(isPrepare);
    expect(prepares).toHaveLength(3);
    expect(prepares.every((p) => ballotGreater(p.ballot, ownerBallot) && p.fromInstance === 2)).toBe(true);
    settle(c);
    expect(c.outcomes.at(-1)).toMatchObject({ kind: "chosen", instance: 2 });
    expect(c.replica(US_EAST).lockTable.keyState(KEY).applied).toBe(2);
  });

  it("loses the key to a higher ballot: its accept is nacked, it backs off, then takes it back", () => {
    const c = decidedOnce(new HandCluster(config3()));
    c.propose(EU_WEST, acquire("b", EU_WEST));
    c.deliver((m) => m.to !== US_EAST);
    c.drop(between(null, US_EAST)); // us-east hears nothing of the takeover
    c.propose(US_EAST, acquire("c"));
    expect(c.inFlight.every(isAccept)).toBe(true); // it still believes it leads
    settle(c);
    expect(c.proposer(US_EAST).isLeading(KEY)).toBe(false);
    expect(c.inFlight).toHaveLength(0); // backing off: nothing sent yet
    c.tick(40);
    expect(c.inFlight.some(isPrepare)).toBe(true);
    settle(c);
    expect(c.outcomes.at(-1)).toMatchObject({ kind: "chosen", instance: 3 });
    // It learned instance 2 through catch-up (the chosen message never reached it).
    expect(c.replica(US_EAST).appliedInstance(KEY)).toBe(3);
  });

  it("re-proposes a value chosen without anyone learning it, then its own at the next instance", () => {
    const c = new HandCluster(config3());
    c.propose(US_EAST, acquire("a"));
    c.deliver(kindIs("prepare", "promise"));
    // us-east's value reaches the acceptors of us-east and us-west (so it is chosen), but
    // nobody hears about it: the acknowledgements and the accept to eu-west are lost.
    c.drop(between(US_EAST, EU_WEST, "accept"));
    c.deliver(kindIs("accept"));
    c.drop(kindIs("accepted"));
    c.propose(EU_WEST, acquire("b", EU_WEST));
    c.drop(between(EU_WEST, US_EAST)); // eu-west's majority is itself and us-west
    c.deliver(kindIs("prepare", "promise"));
    const accepts = c.inFlight.filter(isAccept);
    expect(accepts[0]).toMatchObject({ instance: 1, value: [{ type: "acquire", requestId: { clientId: "a" } }] });
    c.drop(between(EU_WEST, US_EAST));
    c.deliver((m) => m.to !== US_EAST || m.kind === "chosen");
    expect(c.outcomes.at(-1)).toMatchObject({ kind: "chosen", instance: 2 });
    const answers = (c.applied.get(EU_WEST) ?? []).map((a) => `${a.instance}:${a.answer.kind}`);
    expect(answers).toEqual(["1:granted", "2:held"]);
  });

  it("re-proposes the value accepted at the highest ballot the promises report, not the first promise's, the lowest ballot's or the first region's, then its own", () => {
    const c = new HandCluster(paxosConfig(REGIONS5, { ttlMsMin: 10 }));
    const a = [acquire("a")];
    const b = [acquire("b", EU_WEST)];
    const cValue = [acquire("c", US_WEST)];
    // Three earlier proposers, each at a higher round, find instance 1 free and get their own
    // value accepted by their own acceptor only: us-east holds a at round 1, eu-west b at
    // round 2, us-west c at round 3.
    earlierAttempt(c, ballot(1, US_EAST, 1), a, [US_EAST, US_WEST, EU_WEST], [US_EAST]);
    earlierAttempt(c, ballot(2, EU_WEST, 1), b, [EU_WEST, AP_SOUTH, SA_EAST], [EU_WEST]);
    earlierAttempt(c, ballot(3, US_WEST, 1), cValue, [US_WEST, AP_SOUTH, SA_EAST], [US_WEST]);

    c.propose(AP_SOUTH, acquire("d", AP_SOUTH));
    const prepares = c.inFlight.filter(isPrepare);
    expect(prepares).toHaveLength(5);
    expect(prepares.every((p) => ballotGreater(p.ballot, ballot(3, US_WEST, 1)) && p.fromInstance === 1)).toBe(true);
    // Its majority is eu-west, us-west and us-east, whose promises arrive in that order; the
    // prepares to its own acceptor and to sa-east (which accepted nothing) are lost.
    c.drop(between(AP_SOUTH, AP_SOUTH));
    c.drop(between(AP_SOUTH, SA_EAST));
    for (const region of [EU_WEST, US_WEST, US_EAST]) {
      c.deliver(between(AP_SOUTH, region, "prepare"));
      expect(c.inFlight.filter(isAccept)).toHaveLength(0); // no majority yet
      c.deliver(between(region, AP_SOUTH, "promise"));
    }
    // The history is as claimed: the highest ballot arrives second, from neither the first
    // region of the configuration (us-east) nor the first by name (eu-west).
    const reported = c.delivered.filter(isPromise).map((p) => p.accepted.map((e) => `${p.from}:${e.instance}:${e.ballot.round}:${clientOf(e.value[0])}`));
    expect(reported).toEqual([["eu-west:1:2:b"], ["us-west:1:3:c"], ["us-east:1:1:a"]]);

    const accepts = c.inFlight.filter(isAccept);
    expect(accepts.map((m) => m.to)).toEqual([...REGIONS5]);
    for (const accept of accepts) {
      expect(accept.ballot).toEqual(prepares[0]?.ballot);
      expect(accept.instance).toBe(1);
      expect(accept.value).toEqual(cValue);
    }
    c.deliver();
    expect(c.outcomes).toMatchObject([{ kind: "chosen", key: KEY, instance: 2 }]);
    for (const region of REGIONS5) {
      const answers = (c.applied.get(region) ?? []).map((x) => `${x.instance}:${clientOf(x.command)}:${x.answer.kind}`);
      expect(answers).toEqual(["1:c:granted", "2:d:held"]);
    }
  });

  it("fails with NO_QUORUM when only its own region answers, and leaves nothing pending", () => {
    const c = new HandCluster(config3());
    c.propose(US_EAST, acquire("a"));
    for (let t = 0; t < 120; t++) {
      c.drop((m) => m.from !== m.to);
      c.deliver();
      c.tick();
    }
    expect(c.outcomes).toMatchObject([{ kind: "failed", code: "NO_QUORUM" }]);
    expect(c.proposer(US_EAST).stats().pendingProposals).toBe(0);
    expect(c.replica(US_EAST).appliedInstance(KEY)).toBe(0);
  });

  it("backs off a seeded random number of ticks, at least backoffTicksMin, after a lost ballot", () => {
    const waits = new Set<number>();
    for (let seed = 0; seed < 8; seed++) {
      const c = decidedOnce(new HandCluster(config3(), {}, seed * 10));
      c.propose(EU_WEST, acquire("b", EU_WEST));
      c.deliver((m) => m.to !== US_EAST);
      c.drop(between(null, US_EAST));
      c.propose(US_EAST, acquire("c"));
      settle(c); // its accepts are nacked
      let wait = 0;
      while (!c.inFlight.some(isPrepare) && wait < 100) {
        c.tick();
        wait++;
      }
      expect(wait).toBeGreaterThanOrEqual(4); // backoffTicksMin
      expect(wait).toBeLessThanOrEqual(64); // backoffTicksMax: it did retry
      waits.add(wait);
    }
    expect(waits.size).toBeGreaterThan(1);
  });

  it("sends a lost accept again to the regions that did not answer", () => {
    const c = decidedOnce(new HandCluster(config3()));
    c.propose(US_EAST, acquire("b"));
    c.drop((m) => m.to !== US_EAST);
    c.deliver();
    c.tick(10);
    expect(c.inFlight.filter(isAccept).map((m) => m.to).sort()).toEqual([EU_WEST, US_WEST]);
    settle(c);
    expect(c.outcomes.at(-1)).toMatchObject({ kind: "chosen", instance: 2 });
  });

  it("as a new incarnation after a crash, recovers the old incarnation's half-chosen value under a new ballot", () => {
    const c = decidedOnce(new HandCluster(config3()));
    c.propose(US_EAST, acquire("b"));
    c.deliver(between(US_EAST, US_WEST, "accept"));
    c.inFlight = [];
    c.restartProposer(US_EAST, 2, 7);
    c.propose(US_EAST, acquire("c"));
    const prepare = c.inFlight.find(isPrepare);
    expect(prepare?.ballot.epoch).toBe(2);
    settle(c);
    const answers = (c.applied.get(EU_WEST) ?? []).map((a) => `${a.instance}:${a.command.type === "acquire" ? a.command.holder.clientId : "?"}`);
    expect(answers).toEqual(["1:a", "2:b", "3:c"]);
  });

  it("takes the key over again at once, and asks for the key, when an acceptor says the instance is chosen", () => {
    const c = decidedOnce(new HandCluster(config3()));
    c.propose(US_EAST, acquire("b"));
    const accept = c.inFlight.find(isAccept);
    if (accept === undefined) throw new Error("no accept in flight");
    c.inFlight = [];
    const { ballot, instance } = accept;
    c.proposer(US_EAST).step({ kind: "refused", from: US_WEST, to: US_EAST, key: KEY, ballot, instance, reason: "chosen", chosenThrough: instance });
    c.collect();
    expect(c.proposer(US_EAST).isLeading(KEY)).toBe(false);
    expect(c.inFlight.filter(isPrepare).map((m) => m.fromInstance)).toEqual([3, 3, 3]);
    expect(c.inFlight.some((m) => m.kind === "catchUpRequest" && m.to === US_WEST)).toBe(true);
  });

  it("refuses a key without the global: prefix and proposals beyond pendingProposalsMax", () => {
    const c = new HandCluster(config3(), { pendingProposalsMax: 2 });
    const p = c.proposer(US_EAST);
    expect(p.propose(asGlobalKey("us-east:x"), acquire("a"))).toMatchObject({ ok: false, reason: "invalid" });
    expect(p.propose(KEY, acquire("a")).ok).toBe(true);
    expect(p.propose(KEY, acquire("b")).ok).toBe(true);
    expect(p.propose(KEY, acquire("c"))).toMatchObject({ ok: false, reason: "overloaded" });
    p.assertInvariants();
  });

  it("fails with OVERLOADED when a majority of acceptors has no room for another key", () => {
    const c = new HandCluster(config3({ keysMax: 1 }));
    c.propose(US_EAST, acquire("a"));
    settle(c);
    c.propose(US_EAST, acquire("b"), asGlobalKey("global:second"));
    settle(c);
    expect(c.outcomes.at(-1)).toMatchObject({ kind: "failed", code: "OVERLOADED", key: "global:second" });
    expect(c.proposer(US_EAST).stats().pendingProposals).toBe(0);
  });

  it("batches commands queued while an instance is in flight into the next value", () => {
    const c = decidedOnce(new HandCluster(config3()));
    c.propose(US_EAST, acquire("b"));
    c.propose(US_EAST, acquire("c"));
    c.propose(US_EAST, acquire("d"));
    settle(c);
    const instances = c.outcomes.map((o) => (o.kind === "chosen" ? o.instance : -1));
    expect(instances).toEqual([1, 2, 3, 3]);
  });

  it("keeps keys independent: a stuck key does not delay another", () => {
    const c = new HandCluster(config3());
    const other = asGlobalKey("global:other");
    c.propose(US_EAST, acquire("a"));
    c.drop(() => true); // KEY's prepares are lost
    c.propose(US_EAST, acquire("b"), other);
    settle(c);
    expect(c.outcomes).toMatchObject([{ kind: "chosen", key: other, instance: 1 }]);
  });
});
