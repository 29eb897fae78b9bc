// validateRaftMessage and the frame codec together: what a Raft message looks like after a
// trip through MessagePack, which inputs are refused and why. Example cases pin each rule;
// fast-check properties cover every message type over its whole range and random damage.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Packr } from "msgpackr";
import type { Message, NodeId } from "@geolock/raft";
import { buildFrame, decodeFrame, encodeEnvelope, encodeValue } from "../src/codec.js";
import { DEFAULT_RAFT_WIRE_LIMITS, raftChannelValidator, validateRaftMessage } from "../src/raft-validation.js";
import { DEFAULT_LIMITS } from "../src/types.js";
import { isWellFormed, mutatedMessage, validMessage } from "./raft-arbitraries.js";

/** The transport's receive path without a socket: envelope, frame, decode, validate. */
function throughTheWire(message: unknown): ReturnType<typeof validateRaftMessage> {
  const decoded = decodeFrame(buildFrame([encodeEnvelope("raft", message)]), DEFAULT_LIMITS);
  if (!decoded.ok) throw new Error(`frame did not decode: ${decoded.reason}`);
  expect(decoded.envelopes).toHaveLength(1);
  return validateRaftMessage(decoded.envelopes[0]![1]);
}

const heartbeat = { type: "heartbeat", from: 1, to: 2, term: 5, commit: 7, context: new Uint8Array([9]) };
const append = {
  type: "append",
  from: 1,
  to: 2,
  term: 3,
  prevLogIndex: 10,
  prevLogTerm: 2,
  commit: 9,
  entries: [
    { term: 2, index: 11, kind: "normal", data: new Uint8Array([1, 2]) },
    { term: 3, index: 12, kind: "confChange", data: new Uint8Array([3]) },
  ],
};

function refusalOf(value: unknown): { code: string; path: string } {
  const result = throughTheWire(value);
  if (result.ok) throw new Error(`expected a refusal, got ${JSON.stringify(result.value)}`);
  return { code: result.error.code, path: result.error.path };
}

describe("validateRaftMessage", () => {
  it("accepts a heartbeat and returns a plain Uint8Array copy, not a Buffer", () => {
    const result = throughTheWire(heartbeat);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toStrictEqual(heartbeat);
    const context = (result.value as { context: Uint8Array }).context;
    expect(Object.getPrototypeOf(context)).toBe(Uint8Array.prototype);
    expect(Buffer.isBuffer(context)).toBe(false);
  });

  it("accepts an append with consecutive entries", () => {
    expect(throughTheWire(append)).toStrictEqual({ ok: true, value: append });
  });

  it.each([
    ["an unknown type", { ...heartbeat, type: "gossip" }, "unknownKind", "type"],
    ["a negative term", { ...heartbeat, term: -1 }, "outOfRange", "term"],
    ["a fractional commit", { ...heartbeat, commit: 1.5 }, "outOfRange", "commit"],
    ["a term beyond 2^53", { ...heartbeat, term: 2 ** 60 }, "outOfRange", "term"],
    ["a string term", { ...heartbeat, term: "5" }, "wrongType", "term"],
    ["node 0 as sender", { ...heartbeat, from: 0 }, "outOfRange", "from"],
    ["a message to itself", { ...heartbeat, to: 1 }, "inconsistent", "to"],
    ["a missing field", { type: "heartbeat", from: 1, to: 2, term: 5, context: new Uint8Array() }, "missingField", "commit"],
    ["an extra field", { ...heartbeat, admin: true }, "unexpectedField", "admin"],
    ["a context as an array of numbers", { ...heartbeat, context: [1, 2] }, "wrongType", "context"],
    ["an oversized context", { ...heartbeat, context: new Uint8Array(DEFAULT_RAFT_WIRE_LIMITS.maxContextBytes + 1) }, "tooLarge", "context"],
    ["a message wrapped in an array", [heartbeat], "wrongType", "(message)"],
  ])("refuses %s", (_name, value, code, path) => {
    expect(refusalOf(value)).toEqual({ code, path });
  });

  it.each([
    ["a gap in entry indexes", { ...append, entries: [append.entries[0], { ...append.entries[1], index: 13 }] }, "inconsistent", "entries[1].index"],
    ["decreasing entry terms", { ...append, entries: [{ ...append.entries[0], term: 3 }, { ...append.entries[1], term: 2 }] }, "inconsistent", "entries[1].term"],
    ["an entry term above the message term", { ...append, entries: [{ ...append.entries[0], term: 4 }] }, "inconsistent", "entries[0].term"],
    ["an unknown entry kind", { ...append, entries: [{ ...append.entries[0], kind: "noop" }] }, "unknownKind", "entries[0].kind"],
    ["an entry without data", { ...append, entries: [{ term: 2, index: 11, kind: "normal" }] }, "missingField", "entries[0].data"],
    ["entries as a map", { ...append, entries: { 0: append.entries[0] } }, "wrongType", "entries"],
  ])("refuses an append with %s", (_name, value, code, path) => {
    expect(refusalOf(value)).toEqual({ code, path });
  });

  it("refuses more entries than maxEntriesPerAppend", () => {
    const limits = { ...DEFAULT_RAFT_WIRE_LIMITS, maxEntriesPerAppend: 1 };
    const result = validateRaftMessage(append, limits);
    expect(result.ok ? "accepted" : result.error.code).toBe("tooLarge");
  });

  it("refuses a snapshot chunk that ends beyond the snapshot, and a node listed twice", () => {
    const base = {
      type: "snapshot",
      from: 1,
      to: 2,
      term: 4,
      metadata: { index: 100, term: 3, confState: { voters: [1, 2, 3], learners: [4] } },
      offset: 10,
      totalBytes: 12,
      chunk: new Uint8Array(2),
    };
    expect(throughTheWire(base).ok).toBe(true);
    expect(refusalOf({ ...base, chunk: new Uint8Array(3) })).toEqual({ code: "inconsistent", path: "chunk" });
    const twice = { ...base, metadata: { ...base.metadata, confState: { voters: [1, 2], learners: [2] } } };
    expect(refusalOf(twice)).toEqual({ code: "inconsistent", path: "metadata.confState" });
  });

  it("never lets a __proto__ key through the frame decoder", () => {
    // A map {"__proto__": {"polluted": 1}} hand-encoded, inside a valid envelope.
    const key = Buffer.from("__proto__");
    const payload = Buffer.from([0x81, 0xa0 | key.length, ...key, 0x81, 0xa8, ...Buffer.from("polluted"), 0x01]);
    const envelope = Buffer.concat([Buffer.from([0x92, 0xa4, ...Buffer.from("raft")]), payload]);
    const decoded = decodeFrame(buildFrame([envelope]), DEFAULT_LIMITS);
    expect(decoded.ok).toBe(false);
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
  });

  it("refuses a uint64 beyond 2^53 instead of rounding it", () => {
    const huge = Buffer.from([0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    const envelope = Buffer.concat([Buffer.from([0x92, 0xa4, ...Buffer.from("raft")]), huge]);
    expect(decodeFrame(buildFrame([envelope]), DEFAULT_LIMITS).ok).toBe(false);
  });

  it("refuses msgpackr extension types (Date, Set) that the protocol never sends", () => {
    // A sender using msgpackr's richer defaults, as an attacker could.
    const rich = new Packr({ moreTypes: true, structuredClone: false, useRecords: false });
    for (const exotic of [new Date(0), new Set([1]), new Error("x"), /a+/, new Float64Array(2), 2n ** 70n]) {
      expect(decodeFrame(buildFrame([rich.pack(["raft", exotic])]), DEFAULT_LIMITS).ok, String(exotic)).toBe(false);
    }
  });

  it("refuses frames nested deeper than maxDecodeDepth", () => {
    let deep: unknown = 1;
    for (let i = 0; i < DEFAULT_LIMITS.maxDecodeDepth + 1; i++) deep = [deep];
    expect(decodeFrame(buildFrame([encodeEnvelope("raft", deep)]), DEFAULT_LIMITS).ok).toBe(false);
  });

  it("survives nesting deep enough to overflow the decoder's stack, and decodes normally after", () => {
    const deep = new Uint8Array(500_000).fill(0x91);
    deep[deep.length - 1] = 0x01;
    expect(decodeFrame(deep, DEFAULT_LIMITS).ok).toBe(false);
    expect(throughTheWire(heartbeat).ok).toBe(true);
  });

  it("property: every valid message round-trips through encode, decode and validate unchanged", () => {
    fc.assert(
      fc.property(validMessage, (message) => {
        expect(isWellFormed(message)).toBe(true);
        expect(throughTheWire(message)).toStrictEqual({ ok: true, value: message });
      }),
      { numRuns: 500 },
    );
  });

  it("property: a damaged message is refused or is still a well-formed message", () => {
    const seen = { refused: 0, accepted: 0 };
    fc.assert(
      fc.property(mutatedMessage, (damaged) => {
        const result = throughTheWire(damaged);
        if (!result.ok) {
          seen.refused += 1;
          expect(isWellFormed(damaged)).toBe(false);
          return;
        }
        seen.accepted += 1;
        // Accepted means the damage left a valid message, not that the validator repaired it.
        expect(isWellFormed(damaged)).toBe(true);
        expect(isWellFormed(result.value)).toBe(true);
        expect(validateRaftMessage(result.value)).toStrictEqual(result);
      }),
      { numRuns: 2000 },
    );
    // Both outcomes must occur, or the mutations are not exercising the validator.
    expect(seen.refused).toBeGreaterThan(0);
    expect(seen.accepted).toBeGreaterThan(0);
  });

  it("property: random bytes never throw out of the decoder", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        const decoded = decodeFrame(bytes, DEFAULT_LIMITS);
        if (decoded.ok) expect(Array.isArray(decoded.envelopes)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("raftChannelValidator", () => {
  const validate = raftChannelValidator({
    self: 2 as NodeId,
    nodeIdOf: (peer) => (peer === "us-east/1" ? (1 as NodeId) : peer === "us-east/3" ? (3 as NodeId) : undefined),
  });

  it("accepts a message whose sender matches the authenticated peer", () => {
    expect(validate(heartbeat, "us-east/1").ok).toBe(true);
  });

  it("refuses a message claiming another node than the link's peer", () => {
    const result = validate(heartbeat, "us-east/3");
    expect(result.ok ? "accepted" : result.error.code).toBe("wrongPeer");
  });

  it("refuses Raft messages from a peer outside the group, and messages for another node", () => {
    expect(validate(heartbeat, "eu-west/1").ok).toBe(false);
    const forThree: Message = { ...(heartbeat as unknown as Message), to: 3 as NodeId };
    expect(validate(forThree, "us-east/1").ok).toBe(false);
  });
});

it("encodeValue and encodeEnvelope agree on settings (undefined travels as nil)", () => {
  const decoded = decodeFrame(buildFrame([encodeValue(["raft", undefined])]), DEFAULT_LIMITS);
  expect(decoded).toStrictEqual({ ok: true, envelopes: [["raft", null]] });
});
