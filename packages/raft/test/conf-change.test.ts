// The conf change wire format (round trip, validation) and how a change transforms a membership.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyConfChange, decodeConfChange, encodeConfChange } from "../src/conf-change.js";
import { asNodeId } from "../src/types.js";
import type { ConfChange } from "../src/types.js";

const n = asNodeId;

describe("conf change encoding", () => {
  it("round-trips every valid change (property)", () => {
    const change = fc.record({
      type: fc.constantFrom<ConfChange["type"]>("addVoter", "addLearner", "removeNode"),
      nodeId: fc.integer({ min: 1, max: 0xffff_ffff }).map(n),
    });
    fc.assert(
      fc.property(change, (c) => {
        expect(decodeConfChange(encodeConfChange(c))).toEqual(c);
      }),
    );
  });

  it("rejects malformed bytes on decode", () => {
    const good = encodeConfChange({ type: "addVoter", nodeId: n(7) });
    expect(() => decodeConfChange(good.subarray(0, 5))).toThrow(/6 bytes/);
    expect(() => decodeConfChange(Uint8Array.of(2, 0, 0, 0, 0, 7))).toThrow(/version/);
    expect(() => decodeConfChange(Uint8Array.of(1, 9, 0, 0, 0, 7))).toThrow(/type/);
    expect(() => decodeConfChange(Uint8Array.of(1, 0, 0, 0, 0, 0))).toThrow(/node id/);
    expect(() => encodeConfChange({ type: "addVoter", nodeId: n(0) })).toThrow(/node id/);
  });
});

describe("applyConfChange", () => {
  const conf = { voters: [n(1), n(2)], learners: [n(3)] };
  it("adds voters and learners, promotes a learner, removes a node", () => {
    expect(applyConfChange(conf, { type: "addVoter", nodeId: n(4) })).toEqual({ voters: [1, 2, 4], learners: [3] });
    expect(applyConfChange(conf, { type: "addVoter", nodeId: n(3) })).toEqual({ voters: [1, 2, 3], learners: [] });
    expect(applyConfChange(conf, { type: "addLearner", nodeId: n(5) })).toEqual({ voters: [1, 2], learners: [3, 5] });
    expect(applyConfChange(conf, { type: "removeNode", nodeId: n(1) })).toEqual({ voters: [2], learners: [3] });
    expect(applyConfChange(conf, { type: "removeNode", nodeId: n(3) })).toEqual({ voters: [1, 2], learners: [] });
  });

  it("refuses changes that do not apply", () => {
    expect(applyConfChange(conf, { type: "addVoter", nodeId: n(1) })).toBeUndefined();
    expect(applyConfChange(conf, { type: "addLearner", nodeId: n(1) })).toBeUndefined();
    expect(applyConfChange(conf, { type: "removeNode", nodeId: n(9) })).toBeUndefined();
    expect(applyConfChange({ voters: [n(1)], learners: [] }, { type: "removeNode", nodeId: n(1) })).toBeUndefined();
  });
});
