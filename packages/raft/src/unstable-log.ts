// Entries and a snapshot that the node has accepted but the driver has not yet made
// durable (etcd's log_unstable). They are handed out in the next Ready and dropped from
// here once advance() confirms they reached storage.

import { asIndex } from "./types.js";
import type { Entry, Index, Snapshot, Term } from "./types.js";

export class UnstableLog {
  /** A snapshot received from the leader, not yet durable. */
  snapshot: Snapshot | undefined = undefined;
  /**
   * Invariant: entries[i].index === offset + i, and offset === snapshot.index + 1 when a
   * snapshot is pending. Everything below offset is in storage (or in the snapshot).
   */
  entries: Entry[] = [];
  offset: Index;

  constructor(offset: Index) {
    this.offset = offset;
  }

  lastIndex(): Index | undefined {
    if (this.entries.length > 0) return asIndex(this.offset + this.entries.length - 1);
    return this.snapshot?.metadata.index;
  }

  firstIndex(): Index | undefined {
    return this.snapshot === undefined ? undefined : asIndex(this.snapshot.metadata.index + 1);
  }

  /** The term at `index` if this part of the log knows it. */
  term(index: Index): Term | undefined {
    if (index < this.offset) {
      const snap = this.snapshot?.metadata;
      return snap !== undefined && snap.index === index ? snap.term : undefined;
    }
    return this.entries[index - this.offset]?.term;
  }

  /** Appends entries, replacing whatever they overlap (the caller checked they may). */
  truncateAndAppend(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const after = first.index;
    if (after === this.offset + this.entries.length) {
      this.entries.push(...entries);
    } else if (after <= this.offset) {
      // The new entries replace everything unstable (and a suffix of storage).
      this.offset = after;
      this.entries = [...entries];
    } else {
      this.entries = [...this.entries.slice(0, after - this.offset), ...entries];
    }
  }

  /** Entries in [lo, hi), which must lie within the unstable part. */
  slice(lo: Index, hi: Index): Entry[] {
    if (lo < this.offset || hi > this.offset + this.entries.length || lo > hi) {
      throw new Error(`unstable log: slice [${lo}, ${hi}) out of bounds [${this.offset}, ${this.offset + this.entries.length})`);
    }
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }

  /** Storage now holds entries up to (index, term): drop them here, unless they were replaced. */
  stableTo(index: Index, term: Term): void {
    if (index < this.offset || this.term(index) !== term) return;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = asIndex(index + 1);
  }

  stableSnapTo(index: Index): void {
    if (this.snapshot !== undefined && this.snapshot.metadata.index === index) this.snapshot = undefined;
  }

  restore(snapshot: Snapshot): void {
    this.offset = asIndex(snapshot.metadata.index + 1);
    this.entries = [];
    this.snapshot = snapshot;
  }
}
