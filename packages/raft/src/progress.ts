// What the leader knows about one follower's log, and how it sends to it:
// - probe: the leader does not know where the logs match; one append per heartbeat
//   interval until an answer, backtracking on rejection;
// - replicate: the logs match up to `match`; appends are pipelined, optimistically moving
//   `next`, with at most `inflights.capacity` unacknowledged;
// - snapshot: the follower needs entries that were compacted; the storage snapshot is sent
//   in chunks, one in flight at a time, and then the follower is probed again.

import { Inflights } from "./inflights.js";
import { asIndex } from "./types.js";
import type { Index, Snapshot, SnapshotMetadata } from "./types.js";

export type ProgressState = "probe" | "replicate" | "snapshot";

/** The leader's side of one chunked snapshot transfer. */
export interface SnapshotSend {
  readonly metadata: SnapshotMetadata;
  /**
   * The snapshot being sent, held until the transfer ends: the application may take newer
   * snapshots meanwhile, and restarting on each would starve a follower whose transfer
   * takes longer than the interval between snapshots.
   */
  readonly data: Uint8Array;
  readonly totalBytes: number;
  /** Offset of the chunk in flight (or of the next chunk to send). Invariant: offset <= totalBytes. */
  offset: number;
  /** Bytes of the chunk in flight; -1 when none is in flight. */
  inflightBytes: number;
  /** Heartbeat rounds since the chunk in flight was sent; it is resent when this grows too large. */
  idleHeartbeats: number;
}

export class Progress {
  /** Highest index known to be replicated on the follower. Invariant: 0 <= match < next. */
  match: Index;
  /** Next index to send. */
  next: Index;
  state: ProgressState = "probe";
  /** In probe state: an append was sent since the last heartbeat answer. */
  probeSent = false;
  /** Heard from the follower since the last check-quorum round. */
  recentActive = false;
  readonly inflights: Inflights;
  /** Set exactly when state is "snapshot". */
  snapshotSend: SnapshotSend | undefined = undefined;

  constructor(next: Index, maxInflightAppends: number, match: Index = asIndex(0)) {
    this.match = match;
    this.next = next;
    this.inflights = new Inflights(maxInflightAppends);
    this.assertInvariant();
  }

  becomeProbe(): void {
    // After a snapshot the follower holds at least the snapshot: resume right after it.
    const afterSnapshot = this.snapshotSend === undefined ? 0 : this.snapshotSend.metadata.index + 1;
    this.reset("probe");
    this.next = asIndex(Math.max(this.match + 1, afterSnapshot));
    this.assertInvariant();
  }

  becomeReplicate(): void {
    this.reset("replicate");
    this.next = asIndex(this.match + 1);
    this.assertInvariant();
  }

  becomeSnapshot(snapshot: Snapshot): void {
    this.reset("snapshot");
    const { metadata, data } = snapshot;
    this.snapshotSend = { metadata, data, totalBytes: data.byteLength, offset: 0, inflightBytes: -1, idleHeartbeats: 0 };
  }

  private reset(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.snapshotSend = undefined;
    this.inflights.reset();
  }

  /** An acknowledgement up to `index`; false when it tells nothing new (stale or duplicate). */
  maybeUpdate(index: Index): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    if (this.next < index + 1) this.next = asIndex(index + 1);
    this.assertInvariant();
    return updated;
  }

  /**
   * A rejection of the append whose previous index was `rejected`; `matchHint` is the
   * highest index where the logs may still match. False when the rejection is stale.
   */
  maybeDecrTo(rejected: Index, matchHint: Index): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = asIndex(this.match + 1);
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = asIndex(Math.max(Math.min(rejected, matchHint + 1), this.match + 1));
    this.probeSent = false;
    this.assertInvariant();
    return true;
  }

  /** Records an append carrying entries up to `lastIndex` (or none when lastIndex < next). */
  sentAppend(lastIndex: Index): void {
    if (this.state === "replicate" && lastIndex >= this.next) {
      this.next = asIndex(lastIndex + 1);
      this.inflights.add(lastIndex);
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
    this.assertInvariant();
  }

  /** Whether the leader must hold back appends to this follower for now. */
  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }

  private assertInvariant(): void {
    if (!(this.match >= 0 && this.match < this.next)) {
      throw new Error(`progress: invariant 0 <= match < next violated (match ${this.match}, next ${this.next}, state ${this.state})`);
    }
  }
}
