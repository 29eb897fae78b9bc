// RaftLog over a MemoryStorage plus the unstable part: appends and conflicts, fast
// backtracking hints, byte-bounded slices across the durable/unstable boundary, commit and
// applied bounds, and snapshot restore.

import { describe, expect, it } from "vitest";
import { MemoryStorage } from "../src/memory-storage.js";
import { RaftLog } from "../src/raft-log.js";
import { asIndex, asTerm } from "../src/types.js";
import type { Entry } from "../src/types.js";

const entry = (index: number, term: number, size = 0): Entry => ({ index: asIndex(index), term: asTerm(term), kind: "normal", data: new Uint8Array(size) });
const terms = (log: RaftLog): number[] => {
  const out: number[] = [];
  for (let i = log.firstIndex(); i <= log.lastIndex(); i++) out.push(log.term(asIndex(i)));
  return out;
};

/** A log with `stable` terms in storage (indexes 1..) and then `unstable` terms appended. */
function logWith(stable: number[], unstable: number[] = []): RaftLog {
  const storage = new MemoryStorage();
  storage.append(stable.map((t, i) => entry(i + 1, t)));
  const log = new RaftLog(storage, asIndex(0), asIndex(0));
  log.append(unstable.map((t, i) => entry(stable.length + i + 1, t)));
  return log;
}

describe("RaftLog", () => {
  it("reads terms through storage and the unstable part", () => {
    const log = logWith([1, 1, 2], [2, 3]);
    expect(terms(log)).toEqual([1, 1, 2, 2, 3]);
    expect(log.lastIndex()).toBe(5);
    expect(log.term(asIndex(9))).toBe(0);
  });

  it("appends after a matching entry and replaces a conflicting suffix", () => {
    const log = logWith([1, 1, 2], [2, 2]);
    expect(log.maybeAppend(asIndex(2), asTerm(1), asIndex(0), [entry(3, 2), entry(4, 3)])).toBe(4);
    expect(terms(log)).toEqual([1, 1, 2, 3]);
  });

  it("refuses an append whose previous entry does not match", () => {
    const log = logWith([1, 1, 2]);
    expect(log.maybeAppend(asIndex(3), asTerm(1), asIndex(0), [entry(4, 3)])).toBeUndefined();
    expect(log.maybeAppend(asIndex(5), asTerm(2), asIndex(0), [])).toBeUndefined();
  });

  it("does not truncate on an append it already holds (a delayed duplicate)", () => {
    const log = logWith([1, 1, 2, 2]);
    expect(log.maybeAppend(asIndex(1), asTerm(1), asIndex(0), [entry(2, 1)])).toBe(2);
    expect(terms(log)).toEqual([1, 1, 2, 2]);
  });

  it("throws rather than replace a committed entry", () => {
    const log = logWith([1, 1, 2]);
    log.commitTo(asIndex(3));
    expect(() => log.maybeAppend(asIndex(2), asTerm(1), asIndex(3), [entry(3, 3)])).toThrow(/committed/);
  });

  it("commits up to the leader's commit, but only what it knows to match", () => {
    // The log holds more than the append covers: commit stops at the last entry the append
    // vouched for (index 3), not at the log's end (5).
    const log = logWith([1, 1, 1, 1, 1]);
    log.maybeAppend(asIndex(2), asTerm(1), asIndex(9), [entry(3, 1)]);
    expect(log.committed).toBe(3);
  });

  it("never moves commit back and refuses commit beyond the last index", () => {
    const log = logWith([1, 1, 1]);
    log.commitTo(asIndex(3));
    log.commitTo(asIndex(1));
    expect(log.committed).toBe(3);
    expect(() => log.commitTo(asIndex(4))).toThrow(/beyond last index/);
    expect(() => log.appliedTo(asIndex(4))).toThrow(/applied/);
  });

  it("finds the fast-backtracking hint: the last index whose term is at most the given one", () => {
    const log = logWith([1, 1, 1, 4, 4, 5, 5, 6, 6, 6]);
    expect(log.findConflictByTerm(asIndex(10), asTerm(3))).toEqual({ index: 3, term: 1 });
    expect(log.findConflictByTerm(asIndex(10), asTerm(5))).toEqual({ index: 7, term: 5 });
    expect(log.findConflictByTerm(asIndex(8), asTerm(9))).toEqual({ index: 8, term: 6 });
    expect(log.findConflictByTerm(asIndex(10), asTerm(0))).toEqual({ index: 0, term: 0 });
  });

  it("slices across storage and unstable within a byte bound, always at least one entry", () => {
    const storage = new MemoryStorage();
    storage.append([entry(1, 1, 100), entry(2, 1, 100)]);
    const log = new RaftLog(storage, asIndex(0), asIndex(0));
    log.append([entry(3, 1, 100), entry(4, 1, 100)]);
    expect(log.slice(asIndex(1), asIndex(5), 10_000)?.map((e) => e.index)).toEqual([1, 2, 3, 4]);
    expect(log.slice(asIndex(2), asIndex(5), 260)?.map((e) => e.index)).toEqual([2, 3]);
    expect(log.slice(asIndex(3), asIndex(5), 1)?.map((e) => e.index)).toEqual([3]);
  });

  it("answers undefined for a compacted range (the caller sends a snapshot)", () => {
    const storage = new MemoryStorage();
    storage.append([entry(1, 1), entry(2, 1), entry(3, 2)]);
    storage.createSnapshot(asIndex(2), { voters: [], learners: [] }, new Uint8Array(0));
    storage.compact(asIndex(2));
    const log = new RaftLog(storage, asIndex(2), asIndex(2));
    expect(log.slice(asIndex(1), asIndex(4), 100)).toBeUndefined();
    expect(log.term(asIndex(2))).toBe(1);
    expect(log.term(asIndex(1))).toBe(0);
  });

  it("restores from a snapshot: commit jumps to it and the log starts after it", () => {
    const log = logWith([1, 1]);
    log.restore({ metadata: { index: asIndex(7), term: asTerm(3), confState: { voters: [], learners: [] } }, data: new Uint8Array(0) });
    expect(log.committed).toBe(7);
    expect(log.firstIndex()).toBe(8);
    expect(log.lastIndex()).toBe(7);
    expect(log.term(asIndex(7))).toBe(3);
    expect(log.nextCommittedEntries(100)).toEqual([]);
    log.stableSnapTo(asIndex(7));
    expect(log.unstable.snapshot).toBeUndefined();
  });

  it("throws when entries would break contiguity or make terms decrease", () => {
    const log = logWith([1, 2]);
    expect(() => log.append([entry(4, 2)])).toThrow(/does not follow/);
    expect(() => log.append([entry(3, 1)])).toThrow(/terms never decrease/);
  });

  it("drops entries from the unstable part once stable, unless they were replaced", () => {
    const log = logWith([1], [1, 1]);
    log.stableTo(asIndex(3), asTerm(2));
    expect(log.unstable.entries.length).toBe(2);
    log.stableTo(asIndex(2), asTerm(1));
    expect(log.unstable.entries.map((e) => e.index)).toEqual([3]);
  });
});
