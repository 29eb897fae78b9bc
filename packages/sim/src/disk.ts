// A node's disk. What is durable lives in a MemoryStorage, the same view the Raft core reads
// its log from; a write first sits in a pending slot for a seeded fsync latency and only
// then reaches it. A crash empties the pending slot: exactly the writes that were not yet
// fsynced are lost, and the storage keeps everything that was.

import { MemoryStorage } from "@geolock/raft";
import type { ConfState, Entry, HardState, SeededRng, Snapshot } from "@geolock/raft";
import { uniformUs } from "./network.js";

export interface DiskConfig {
  /** Usual fsync latency, uniform in [fsyncMsMin, fsyncMsMax]. */
  readonly fsyncMsMin: number;
  readonly fsyncMsMax: number;
  /** Probability of a slow fsync (a stalled device), uniform up to slowFsyncMsMax. */
  readonly slowFsyncProbability: number;
  readonly slowFsyncMsMax: number;
}

/** What one Ready asks to make durable. */
export interface DiskWrite {
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
}

export class SimDisk {
  /** The durable state: survives crashes, and is all a restarted node gets back. */
  readonly storage: MemoryStorage;
  private pending: DiskWrite | undefined;
  private writes = 0;
  private lostWrites = 0;

  constructor(
    initialConfState: ConfState,
    private readonly config: DiskConfig,
    private readonly rng: SeededRng,
  ) {
    if (!(config.fsyncMsMin >= 0 && config.fsyncMsMin <= config.fsyncMsMax && config.fsyncMsMax <= config.slowFsyncMsMax)) {
      throw new Error(`SimDisk: need 0 <= fsyncMsMin <= fsyncMsMax <= slowFsyncMsMax: ${JSON.stringify(config)}`);
    }
    this.storage = new MemoryStorage(initialConfState);
  }

  /** How long the next fsync takes, in microseconds. */
  sampleFsyncUs(): number {
    const c = this.config;
    if (this.rng.chance(c.slowFsyncProbability)) return uniformUs(this.rng, c.fsyncMsMax, c.slowFsyncMsMax);
    return uniformUs(this.rng, c.fsyncMsMin, c.fsyncMsMax);
  }

  hasPending(): boolean {
    return this.pending !== undefined;
  }

  pendingWrite(): DiskWrite | undefined {
    return this.pending;
  }

  /** Starts a write; one at a time, as a driver that waits for its fsync issues them. */
  begin(write: DiskWrite): void {
    if (this.pending !== undefined) {
      throw new Error(`SimDisk: a write is already pending (${describeWrite(this.pending)}), cannot begin ${describeWrite(write)}`);
    }
    this.pending = write;
  }

  /** The fsync returned: the pending write reaches the durable storage. */
  complete(): DiskWrite {
    const write = this.pending;
    if (write === undefined) throw new Error("SimDisk: complete() without a pending write");
    this.pending = undefined;
    this.writes += 1;
    // Snapshot first (it may discard the log), then the entries after it, then the hard
    // state whose commit index may point into those entries.
    if (write.snapshot !== undefined) this.storage.applySnapshot(write.snapshot);
    this.storage.append(write.entries);
    if (write.hardState !== undefined) this.storage.setHardState(write.hardState);
    return write;
  }

  /** Power loss: the pending write never happened. Returns whether one was lost. */
  crash(): boolean {
    const lost = this.pending !== undefined;
    if (lost) this.lostWrites += 1;
    this.pending = undefined;
    return lost;
  }

  counters(): { writes: number; lostWrites: number } {
    return { writes: this.writes, lostWrites: this.lostWrites };
  }
}

export function describeWrite(write: DiskWrite): string {
  const parts: string[] = [];
  if (write.hardState !== undefined) {
    const h = write.hardState;
    parts.push(`hs(t${h.term} v${h.vote} c${h.commit})`);
  }
  const first = write.entries[0];
  const last = write.entries[write.entries.length - 1];
  if (first !== undefined && last !== undefined) parts.push(`entries ${first.index}..${last.index}`);
  if (write.snapshot !== undefined) parts.push(`snap ${write.snapshot.metadata.index}@${write.snapshot.metadata.term}`);
  return parts.length === 0 ? "empty" : parts.join(" ");
}
