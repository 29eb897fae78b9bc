// A follower's buffer for a snapshot arriving in chunks. Its size is the totalBytes the
// leader declared (itself bounded by maxSnapshotBytes), so a chunk can never make it grow.

import type { Snapshot, SnapshotMetadata } from "./types.js";

export type ChunkResult = "accepted" | "duplicate" | "mismatch";

export class SnapshotAssembly {
  private readonly buffer: Uint8Array;
  /** Bytes received so far, in order. Invariant: 0 <= received <= totalBytes. */
  private receivedBytes = 0;

  constructor(readonly metadata: SnapshotMetadata, readonly totalBytes: number) {
    if (!Number.isSafeInteger(totalBytes) || totalBytes < 0) throw new Error(`snapshot assembly: bad totalBytes ${totalBytes}`);
    this.buffer = new Uint8Array(totalBytes);
  }

  get received(): number {
    return this.receivedBytes;
  }

  /**
   * Takes the chunk at `offset`. Only the next chunk in order is accepted; a repeat of the
   * chunk just received is a harmless duplicate (its acknowledgement was lost).
   */
  accept(offset: number, chunk: Uint8Array): ChunkResult {
    const end = offset + chunk.byteLength;
    if (end > this.totalBytes) return "mismatch";
    if (offset === this.receivedBytes) {
      this.buffer.set(chunk, offset);
      this.receivedBytes = end;
      return "accepted";
    }
    return offset < this.receivedBytes && end === this.receivedBytes ? "duplicate" : "mismatch";
  }

  complete(): boolean {
    return this.receivedBytes === this.totalBytes;
  }

  snapshot(): Snapshot {
    if (!this.complete()) {
      throw new Error(`snapshot assembly: snapshot at ${this.metadata.index} incomplete (${this.receivedBytes} of ${this.totalBytes} bytes)`);
    }
    return { metadata: this.metadata, data: this.buffer };
  }
}
