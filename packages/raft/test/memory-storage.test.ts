// MemoryStorage: the durable log view. Appends with suffix replacement, compaction and
// snapshots, byte-bounded reads, and the hard-state guards.

import { describe, expect, it } from "vitest";
import { CompactedError, MemoryStorage } from "../src/memory-storage.js";
import { asIndex, asNodeId, asTerm } from "../src/types.js";
import type { Entry } from "../src/types.js";

const entry = (index: number, term: number, size = 0): Entry => ({ index: asIndex(index), term: asTerm(term), kind: "normal", data: new Uint8Array(size) });

describe("MemoryStorage", () => {
  it("appends, replaces a conflicting suffix, and refuses a gap", () => {
    const s = new MemoryStorage();
    s.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
    s.append([entry(2, 2)]);
    expect(s.lastIndex()).toBe(2);
    expect(s.term(asIndex(2))).toBe(2);
    expect(() => s.append([entry(5, 2)])).toThrow(/gap/);
  });

  it("reads entries within a byte bound, at least one", () => {
    const s = new MemoryStorage();
    s.append([entry(1, 1, 100), entry(2, 1, 100), entry(3, 1, 100)]);
    expect(s.entries(asIndex(1), asIndex(4), 1).length).toBe(1);
    expect(s.entries(asIndex(1), asIndex(4), 250).length).toBe(2);
  });

  it("compacts behind a snapshot and reports compacted reads", () => {
    const s = new MemoryStorage();
    s.append([entry(1, 1), entry(2, 1), entry(3, 2)]);
    s.createSnapshot(asIndex(2), { voters: [asNodeId(1)], learners: [] }, Uint8Array.of(7));
    s.compact(asIndex(2));
    expect(s.firstIndex()).toBe(3);
    expect(s.term(asIndex(2))).toBe(1);
    expect(() => s.entries(asIndex(2), asIndex(4), 100)).toThrow(CompactedError);
    expect(() => s.compact(asIndex(3))).toThrow(/beyond snapshot/);
  });

  it("applies a received snapshot, keeping a matching suffix", () => {
    const s = new MemoryStorage();
    s.append([entry(1, 1), entry(2, 1), entry(3, 2)]);
    s.applySnapshot({ metadata: { index: asIndex(2), term: asTerm(1), confState: { voters: [], learners: [] } }, data: new Uint8Array(0) });
    expect(s.firstIndex()).toBe(3);
    expect(s.lastIndex()).toBe(3);
    s.applySnapshot({ metadata: { index: asIndex(5), term: asTerm(3), confState: { voters: [], learners: [] } }, data: new Uint8Array(0) });
    expect(s.lastIndex()).toBe(5);
  });

  it("refuses a hard state that moves the term back or changes a vote", () => {
    const s = new MemoryStorage();
    s.setHardState({ term: asTerm(2), vote: asNodeId(1), commit: asIndex(0) });
    expect(() => s.setHardState({ term: asTerm(1), vote: asNodeId(0), commit: asIndex(0) })).toThrow(/term/);
    expect(() => s.setHardState({ term: asTerm(2), vote: asNodeId(3), commit: asIndex(0) })).toThrow(/vote/);
  });
});
