// The in-memory view of a node's durable log. The driver mirrors into it what it has made
// durable (hard state, entries, snapshot), and the core reads its log from it. The server
// loads it from LevelDB on start; the simulator keeps one per node as the node's "disk".

import type { RaftStorage } from "./contract.js";
import { asIndex, asTerm, NO_NODE } from "./types.js";
import type { ConfState, Entry, HardState, Index, Snapshot, Term } from "./types.js";

/** The requested index was compacted away into the snapshot. */
export class CompactedError extends Error {
  constructor(readonly index: Index, readonly firstIndex: Index) {
    super(`raft storage: index ${index} is compacted (first index is ${firstIndex})`);
    this.name = "CompactedError";
  }
}

/** A fixed per-entry overhead so that empty entries still count towards byte limits. */
export const ENTRY_OVERHEAD_BYTES = 24;

export function entryBytes(entry: Entry): number {
  return entry.data.byteLength + ENTRY_OVERHEAD_BYTES;
}

export const EMPTY_CONF_STATE: ConfState = { voters: [], learners: [] };

export function emptySnapshot(confState: ConfState = EMPTY_CONF_STATE): Snapshot {
  return { metadata: { index: asIndex(0), term: asTerm(0), confState }, data: new Uint8Array(0) };
}

export class MemoryStorage implements RaftStorage {
  private hard: HardState = { term: asTerm(0), vote: NO_NODE, commit: asIndex(0) };
  private snap: Snapshot;
  /**
   * The index and term of the entry just before log[0]: everything up to it was compacted.
   * Invariant: offset <= snap.metadata.index (the snapshot covers what was compacted) and
   * log[i].index === offset + 1 + i, with terms never decreasing along the log.
   */
  private offset: Index = asIndex(0);
  private offsetTerm: Term = asTerm(0);
  private log: Entry[] = [];

  /** A fresh node's storage: no entries, the given initial membership. */
  constructor(confState: ConfState = EMPTY_CONF_STATE) {
    this.snap = emptySnapshot(confState);
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hard, confState: this.snap.metadata.confState };
  }

  hardState(): HardState {
    return this.hard;
  }

  setHardState(hardState: HardState): void {
    if (hardState.term < this.hard.term) {
      throw new Error(`raft storage: term would go back from ${this.hard.term} to ${hardState.term}`);
    }
    if (hardState.term === this.hard.term && this.hard.vote !== NO_NODE && hardState.vote !== this.hard.vote) {
      throw new Error(`raft storage: vote in term ${hardState.term} would change from ${this.hard.vote} to ${hardState.vote}`);
    }
    this.hard = hardState;
  }

  firstIndex(): Index {
    return asIndex(this.offset + 1);
  }

  lastIndex(): Index {
    return asIndex(this.offset + this.log.length);
  }

  term(index: Index): Term {
    const offset = this.offset;
    if (index < offset) throw new CompactedError(index, this.firstIndex());
    if (index === offset) return this.offsetTerm;
    const entry = this.log[index - offset - 1];
    if (entry === undefined) {
      throw new Error(`raft storage: term(${index}) beyond last index ${this.lastIndex()}`);
    }
    return entry.term;
  }

  entries(lo: Index, hi: Index, maxBytes: number): Entry[] {
    const offset = this.offset;
    if (lo <= offset) throw new CompactedError(lo, this.firstIndex());
    if (hi > this.lastIndex() + 1 || lo > hi) {
      throw new Error(`raft storage: entries [${lo}, ${hi}) out of range [${this.firstIndex()}, ${this.lastIndex() + 1})`);
    }
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const entry = this.log[i - offset - 1] as Entry;
      bytes += entryBytes(entry);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    return out;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /**
   * Appends entries that are already durable. entries[0] may start anywhere from the first
   * index to one past the last: a conflicting suffix is replaced, as Raft requires.
   * Entries at or below the compacted index are ignored (they are already covered).
   */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    assertContiguous(entries);
    const offset = this.offset;
    const skip = Math.max(0, offset + 1 - first.index);
    if (skip >= entries.length) return;
    const start = first.index + skip;
    if (start > this.lastIndex() + 1) {
      throw new Error(`raft storage: append at ${start} leaves a gap after last index ${this.lastIndex()}`);
    }
    this.log.length = start - offset - 1;
    for (let i = skip; i < entries.length; i++) this.log.push(entries[i] as Entry);
  }

  /**
   * Installs a snapshot received from the leader. Entries past it survive only if the log
   * agrees with the snapshot at its index; everything up to it is compacted.
   */
  applySnapshot(snapshot: Snapshot): void {
    const index = snapshot.metadata.index;
    if (index <= this.snap.metadata.index) {
      throw new Error(`raft storage: snapshot at ${index} is not newer than ${this.snap.metadata.index}`);
    }
    const agrees = index >= this.offset && index < this.lastIndex() && this.term(index) === snapshot.metadata.term;
    this.log = agrees ? this.log.slice(index - this.offset) : [];
    this.offset = index;
    this.offsetTerm = snapshot.metadata.term;
    this.snap = snapshot;
  }

  /**
   * Records an application snapshot covering the log up to `index`, which the application
   * has applied. The log is not compacted: call compact() for that, typically keeping a
   * tail of entries so that slightly lagging followers need no snapshot.
   */
  createSnapshot(index: Index, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) {
      throw new Error(`raft storage: snapshot at ${index} is not newer than ${this.snap.metadata.index}`);
    }
    if (index > this.lastIndex()) {
      throw new Error(`raft storage: snapshot at ${index} is beyond last index ${this.lastIndex()}`);
    }
    this.snap = { metadata: { index, term: this.term(index), confState }, data };
    return this.snap;
  }

  /** Discards entries up to and including `index`, which the snapshot must already cover. */
  compact(index: Index): void {
    if (index <= this.offset) return;
    if (index > this.snap.metadata.index) {
      throw new Error(`raft storage: compact to ${index} beyond snapshot index ${this.snap.metadata.index}`);
    }
    const term = this.term(index);
    this.log = this.log.slice(index - this.offset);
    this.offset = index;
    this.offsetTerm = term;
  }
}

function assertContiguous(entries: readonly Entry[]): void {
  for (let i = 1; i < entries.length; i++) {
    const prev = entries[i - 1] as Entry;
    const cur = entries[i] as Entry;
    if (cur.index !== prev.index + 1 || cur.term < prev.term) {
      throw new Error(`raft storage: entries not contiguous at ${prev.index}/${prev.term} -> ${cur.index}/${cur.term}`);
    }
  }
}
