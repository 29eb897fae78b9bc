// The simulated WAN between regions, on virtual ticks (1 tick = 1 ms). One-way delay per
// region pair plus seeded jitter (so messages reorder), seeded drops and duplicates, and
// region partitions. A region's messages to itself take 1..2 ticks (same datacenter).

import type { SeededRng } from "@geolock/raft";
import type { PaxosMessage, RegionId } from "../../src/index.js";

export interface NetworkFaults {
  readonly dropRate: number;
  readonly duplicateRate: number;
  /** Extra delay drawn uniformly in [0, jitterFraction x base delay]. */
  readonly jitterFraction: number;
}

export const NO_FAULTS: NetworkFaults = { dropRate: 0, duplicateRate: 0, jitterFraction: 0.2 };

export class Network {
  private readonly queue = new Map<number, PaxosMessage[]>();
  /** Regions cut off from every other region (but not from themselves). */
  private readonly isolated = new Set<RegionId>();
  faults: NetworkFaults = NO_FAULTS;
  sent = 0;
  dropped = 0;

  constructor(
    private readonly rng: SeededRng,
    private readonly delayTicks: (a: RegionId, b: RegionId) => number,
  ) {}

  send(m: PaxosMessage, now: number): void {
    this.sent++;
    // Sends happen during tick `now`, after its deliveries were taken: the earliest is now + 1.
    if (m.from === m.to) return this.schedule(m, now + 1 + this.rng.nextInt(2));
    if (this.isolated.has(m.from) || this.isolated.has(m.to) || this.rng.chance(this.faults.dropRate)) {
      this.dropped++;
      return;
    }
    this.schedule(m, now + this.delay(m));
    if (this.rng.chance(this.faults.duplicateRate)) this.schedule(m, now + this.delay(m));
  }

  /** Messages due at `now`, in a seeded shuffled order. */
  take(now: number): PaxosMessage[] {
    const due = this.queue.get(now) ?? [];
    this.queue.delete(now);
    for (let i = due.length - 1; i > 0; i--) {
      const j = this.rng.nextInt(i + 1);
      const a = due[i];
      const b = due[j];
      if (a !== undefined && b !== undefined) {
        due[i] = b;
        due[j] = a;
      }
    }
    return due;
  }

  isolate(regions: readonly RegionId[]): void {
    this.isolated.clear();
    for (const r of regions) this.isolated.add(r);
  }

  isIsolated(region: RegionId): boolean {
    return this.isolated.has(region);
  }

  get partitioned(): boolean {
    return this.isolated.size > 0;
  }

  private delay(m: PaxosMessage): number {
    const base = this.delayTicks(m.from, m.to);
    return base + this.rng.nextInt(Math.floor(base * this.faults.jitterFraction) + 1);
  }

  private schedule(m: PaxosMessage, at: number): void {
    let bucket = this.queue.get(at);
    if (bucket === undefined) {
      bucket = [];
      this.queue.set(at, bucket);
    }
    bucket.push(m);
  }
}
