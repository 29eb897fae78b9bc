// The node's log as the protocol sees it: the durable part in RaftStorage followed by the
// unstable part, plus the commit and applied indexes. Reads never fail on a compacted
// index: term() answers 0 there, and the callers treat that as "unknown".

import { CompactedError, entryBytes } from "./memory-storage.js";
import type { RaftStorage } from "./contract.js";
import { UnstableLog } from "./unstable-log.js";
import { asIndex, asTerm } from "./types.js";
import type { Entry, Index, Snapshot, Term } from "./types.js";

export class RaftLog {
  readonly unstable: UnstableLog;
  /**
   * Highest index known to be committed. Invariant: applied <= committed <= lastIndex(),
   * and committed never decreases.
   */
  committed: Index;
  /** Highest index the application has applied (acknowledged through advance()). */
  applied: Index;

  constructor(readonly storage: RaftStorage, committed: Index, applied: Index) {
    this.unstable = new UnstableLog(asIndex(storage.lastIndex() + 1));
    this.committed = committed;
    this.applied = applied;
    if (!(applied <= committed && committed <= this.lastIndex() && applied >= storage.firstIndex() - 1)) {
      throw new Error(`raft log: invariant violated at start (applied ${applied}, committed ${committed}, first ${storage.firstIndex()}, last ${this.lastIndex()})`);
    }
  }

  firstIndex(): Index {
    return this.unstable.firstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): Index {
    return this.unstable.lastIndex() ?? this.storage.lastIndex();
  }

  /** The term at `index`, or 0 when it is compacted or beyond the last index. */
  term(index: Index): Term {
    const unstable = this.unstable.term(index);
    if (unstable !== undefined) return unstable;
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return asTerm(0);
    if (index >= this.unstable.offset) return asTerm(0);
    return this.storage.term(index);
  }

  lastTerm(): Term {
    return this.term(this.lastIndex());
  }

  matchTerm(index: Index, term: Term): boolean {
    return this.term(index) === term && (term > 0 || index === 0);
  }

  /** Leader append: entries must continue the log exactly. */
  append(entries: readonly Entry[]): Index {
    const first = entries[0];
    if (first === undefined) return this.lastIndex();
    if (first.index !== this.lastIndex() + 1) {
      throw new Error(`raft log: append at ${first.index} does not follow last index ${this.lastIndex()}`);
    }
    this.truncateAndAppend(entries);
    return this.lastIndex();
  }

  /**
   * Follower append after (prevIndex, prevTerm). Returns the last index now known to match
   * the leader's, or undefined when the log does not contain (prevIndex, prevTerm).
   */
  maybeAppend(prevIndex: Index, prevTerm: Term, commit: Index, entries: readonly Entry[]): Index | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = asIndex(prevIndex + entries.length);
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      if (conflict <= this.committed) {
        throw new Error(`raft log: entry ${conflict} conflicts with committed index ${this.committed}`);
      }
      this.truncateAndAppend(entries.slice(conflict - (prevIndex + 1)));
    }
    this.commitTo(asIndex(Math.min(commit, lastNew)));
    return lastNew;
  }

  /** The first index whose term differs from the log's (or that the log lacks); 0 if none. */
  private findConflict(entries: readonly Entry[]): Index | 0 {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * Fast backtracking: the largest index <= `index` whose term is <= `term`, with its term.
   * Entries above it cannot match a log whose entry at `index` has term `term` or less.
   */
  findConflictByTerm(index: Index, term: Term): { index: Index; term: Term } {
    const floor = Math.max(this.firstIndex() - 1, 0);
    let i = Math.min(index, this.lastIndex());
    if (i < floor) return { index: asIndex(i), term: asTerm(0) };
    for (; i > floor; i--) {
      const t = this.term(asIndex(i));
      if (t <= term) return { index: asIndex(i), term: t };
    }
    return { index: asIndex(floor), term: this.term(asIndex(floor)) };
  }

  private truncateAndAppend(entries: readonly Entry[]): void {
    assertEntriesFollow(entries, this.term(asIndex((entries[0] as Entry).index - 1)));
    this.unstable.truncateAndAppend(entries);
  }

  commitTo(index: Index): void {
    if (index <= this.committed) return;
    if (index > this.lastIndex()) {
      throw new Error(`raft log: commit ${index} beyond last index ${this.lastIndex()} (was the log lost or truncated?)`);
    }
    this.committed = index;
  }

  appliedTo(index: Index): void {
    if (index < this.applied || index > this.committed) {
      throw new Error(`raft log: applied ${index} out of range [${this.applied}, ${this.committed}]`);
    }
    this.applied = index;
  }

  /**
   * Entries in [lo, hi): at least one when the range is not empty, beyond it at most
   * maxBytes in total. Undefined when lo is compacted (the caller needs a snapshot).
   */
  slice(lo: Index, hi: Index, maxBytes: number): Entry[] | undefined {
    if (lo < this.firstIndex()) return undefined;
    if (hi > this.lastIndex() + 1 || lo > hi) {
      throw new Error(`raft log: slice [${lo}, ${hi}) out of range [${this.firstIndex()}, ${this.lastIndex() + 1})`);
    }
    const split = this.unstable.offset;
    let out: Entry[] = [];
    if (lo < split) {
      try {
        out = this.storage.entries(lo, asIndex(Math.min(hi, split)), maxBytes);
      } catch (err) {
        if (err instanceof CompactedError) return undefined;
        throw err;
      }
      if (out.length < Math.min(hi, split) - lo) return out;
    }
    if (hi > split) {
      let bytes = out.reduce((sum, e) => sum + entryBytes(e), 0);
      for (const entry of this.unstable.slice(asIndex(Math.max(lo, split)), hi)) {
        bytes += entryBytes(entry);
        if (out.length > 0 && bytes > maxBytes) break;
        out.push(entry);
      }
    }
    return out;
  }

  /**
   * Committed entries after `after` (by default the applied index) and at most `upTo`, up to
   * maxBytes; none while a snapshot is pending.
   */
  nextCommittedEntries(maxBytes: number, after: Index = this.applied, upTo: Index = this.committed): Entry[] {
    const last = Math.min(upTo, this.committed);
    if (this.unstable.snapshot !== undefined || last <= after) return [];
    if (after < this.applied) throw new Error(`raft log: committed entries after ${after} asked for, below applied ${this.applied}`);
    return this.slice(asIndex(after + 1), asIndex(last + 1), maxBytes) ?? [];
  }

  hasNextCommittedEntries(): boolean {
    return this.unstable.snapshot === undefined && this.committed > this.applied;
  }

  restore(snapshot: Snapshot): void {
    const index = snapshot.metadata.index;
    if (index <= this.committed) throw new Error(`raft log: restore to ${index} at or below commit ${this.committed}`);
    this.unstable.restore(snapshot);
    this.committed = index;
  }

  /** The last index the driver has confirmed durable (everything before the unstable entries). */
  stableLastIndex(): Index {
    return this.unstable.entries.length > 0 ? asIndex(this.unstable.offset - 1) : this.lastIndex();
  }

  stableTo(index: Index, term: Term): void {
    this.unstable.stableTo(index, term);
  }

  stableSnapTo(index: Index): void {
    this.unstable.stableSnapTo(index);
  }
}

/** Invariant: a log is contiguous and its terms never decrease. */
function assertEntriesFollow(entries: readonly Entry[], prevTerm: Term): void {
  let term = prevTerm;
  let index = (entries[0] as Entry).index - 1;
  for (const entry of entries) {
    if (entry.index !== index + 1 || entry.term < term) {
      throw new Error(`raft log: entry ${entry.index}/${entry.term} does not follow ${index}/${term} (logs are contiguous, terms never decrease)`);
    }
    index = entry.index;
    term = entry.term;
  }
}
