// The boundary: every message kind survives an encode/decode round trip through plain data
// and validates; a frame with an unknown field, a foreign region, an oversized batch, a bad
// key or an out-of-range number is refused with a message naming the field.

import { describe, expect, it } from "vitest";
import { asGlobalKey, decodeMessage, decodeReplicaCommand, routeInbound, type PaxosMessage } from "../src/index.js";
import { acquire, between, config3, HandCluster, KEY, US_EAST, US_WEST } from "./harness.js";

function roundTrip(m: unknown): unknown {
  return JSON.parse(JSON.stringify(m));
}

/** A takeover the old leader hears nothing of, then its nacked return with catch-up: every message kind. */
function everyKind(): PaxosMessage[] {
  const c = new HandCluster(config3());
  c.propose(US_EAST, acquire("a"));
  c.deliver();
  c.propose(US_WEST, acquire("b", US_WEST));
  c.deliver((m) => m.to !== US_EAST);
  c.drop(between(null, US_EAST));
  c.propose(US_EAST, acquire("c"));
  c.deliver();
  c.tick(40);
  c.deliver();
  return c.delivered;
}

describe("message validation", () => {
  it("accepts every message the protocol sends, after a round trip through plain data", () => {
    const messages = everyKind();
    const kinds = new Set(messages.map((m) => m.kind));
    expect([...kinds].sort()).toEqual(["accept", "accepted", "catchUpReply", "catchUpRequest", "chosen", "nack", "prepare", "promise"]);
    for (const m of messages) {
      const decoded = decodeMessage(roundTrip(m), config3());
      expect(decoded, JSON.stringify(m)).toEqual({ ok: true, value: m });
    }
  });

  it("accepts every command the driver appends to the log, and refuses a malformed one", () => {
    const c = new HandCluster(config3());
    const messages = everyKind();
    const commands = messages.flatMap((m) => routeInbound(m, c.replica(m.to)).log);
    expect(new Set(commands.map((x) => x.type))).toEqual(new Set(["prepare", "accept", "learn", "installKey"]));
    for (const command of commands) expect(decodeReplicaCommand(roundTrip(command), config3())).toEqual({ ok: true, value: command });
    expect(decodeReplicaCommand({ type: "learn", key: KEY, instance: 0, value: [] }, config3()).ok).toBe(false);
  });

  it("accepts a refusal, which the protocol sends only under load or lag", () => {
    const refused = { kind: "refused", from: US_WEST, to: US_EAST, key: KEY, ballot: { round: 2, region: US_EAST, epoch: 1 }, instance: 3, reason: "behind", chosenThrough: 1 };
    expect(decodeMessage(refused, config3())).toEqual({ ok: true, value: refused });
    expect(decodeMessage({ ...refused, reason: "tired" }, config3()).ok).toBe(false);
  });

  it("refuses an unknown field, a foreign region, a bad key, an oversized batch and a negative instance", () => {
    const config = config3({ batchCommandsMax: 1 });
    const chosen = { kind: "chosen", from: US_EAST, to: US_WEST, key: KEY, instance: 1, value: [acquire("a")] };
    const cases: [unknown, RegExp][] = [
      [{ ...chosen, extra: 1 }, /exactly the fields/],
      [{ ...chosen, from: "mars" }, /from: expected one of/],
      [{ ...chosen, key: "us-east:x" }, /key: .*global:/],
      [{ ...chosen, value: [acquire("a"), acquire("b")] }, /value: expected an array of at most 1/],
      [{ ...chosen, instance: -1 }, /instance: expected an integer/],
      [{ ...chosen, value: [{ ...acquire("a"), ttlMs: 1 }] }, /ttlMs/],
      [{ ...chosen, kind: "bogus" }, /kind/],
      ["not an object", /kind/],
    ];
    for (const [raw, error] of cases) {
      const decoded = decodeMessage(raw, config);
      expect(decoded.ok, JSON.stringify(raw)).toBe(false);
      if (!decoded.ok) expect(decoded.error).toMatch(error);
    }
  });

  it("refuses a key longer than keyBytesMax, counting UTF-8 bytes", () => {
    const config = config3({ keyBytesMax: 10 });
    const m = { kind: "chosen", from: US_EAST, to: US_WEST, key: asGlobalKey("global:ééé"), instance: 1, value: [] };
    expect(decodeMessage(m, config).ok).toBe(false);
    expect(decodeMessage({ ...m, key: "global:abc" }, config).ok).toBe(true);
  });
});
