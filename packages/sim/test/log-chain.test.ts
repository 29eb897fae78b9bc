// Log matching through chain hashes: two logs holding the same (index, term) must agree on
// everything before it; the chains notice the first entry where that fails.

import { describe, expect, it } from "vitest";
import { asIndex, asNodeId, asTerm } from "@geolock/raft";
import type { Entry } from "@geolock/raft";
import { InvariantViolation, LogChains } from "../src/index.js";

const [a, b] = [asNodeId(1), asNodeId(2)];

function entry(index: number, term: number, text = `e${index}`): Entry {
  return { index: asIndex(index), term: asTerm(term), kind: "normal", data: new TextEncoder().encode(text) };
}

describe("LogChains", () => {
  it("accepts logs that agree, and a suffix replaced by a later term", () => {
    const chains = new LogChains(100);
    chains.append(a, [entry(1, 1), entry(2, 1), entry(3, 1)]);
    chains.append(b, [entry(1, 1), entry(2, 1)]);
    chains.append(b, [entry(3, 2, "other")]);
    chains.append(a, [entry(3, 2, "other"), entry(4, 2)]);
    expect(chains.lastIndex(a)).toBe(4);
    expect(chains.hashAt(a, 3)).toBe(chains.hashAt(b, 3));
  });

  it("catches two logs with the same last entry but different histories", () => {
    const chains = new LogChains(100);
    chains.append(a, [entry(1, 1), entry(2, 2)]);
    chains.append(b, [entry(1, 2)]);
    expect(() => chains.append(b, [entry(2, 2)])).toThrow(InvariantViolation);
    expect(() => chains.append(b, [entry(2, 2)])).toThrow(/logMatching: node 2 holds 2@2, but its log up to there differs/);
  });

  it("catches two nodes holding different data under one (index, term)", () => {
    const chains = new LogChains(100);
    chains.append(a, [entry(1, 1, "x")]);
    expect(() => chains.append(b, [entry(1, 1, "y")])).toThrow(/node 2 holds 1@1/);
  });

  it("catches a gap in what a node appends", () => {
    const chains = new LogChains(100);
    chains.append(a, [entry(1, 1)]);
    expect(() => chains.append(a, [entry(3, 1)])).toThrow(/appends 3@1 after last index 1/);
  });

  it("starts a log at a snapshot and keeps entries that agree with it", () => {
    const chains = new LogChains(100);
    chains.append(a, [entry(1, 1), entry(2, 1), entry(3, 1)]);
    chains.installSnapshot(b, 2, 1);
    chains.append(b, [entry(3, 1)]);
    expect(chains.hashAt(b, 3)).toBe(chains.hashAt(a, 3));
    chains.installSnapshot(a, 2, 1);
    expect(chains.lastIndex(a)).toBe(3);
    expect(chains.baseIndex(a)).toBe(2);
  });

  it("is bounded", () => {
    const chains = new LogChains(2);
    chains.append(a, [entry(1, 1), entry(2, 1)]);
    expect(() => chains.append(a, [entry(3, 1)])).toThrow(/more than 2 distinct entries/);
  });
});
