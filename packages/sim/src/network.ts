// The simulated network between the nodes of one cluster. It decides, from its own seeded
// stream, whether each message is lost, duplicated, and how long each copy takes; random
// per-copy delays reorder messages as a real network does. Partitions cut links in both
// directions; a link is checked when a message is sent and again when it would arrive, so
// a partition also swallows what was already in flight.

import type { NodeId, SeededRng } from "@geolock/raft";
import { msToUs } from "./clock.js";

export interface NetworkConfig {
  /** Probability that a message is lost. */
  readonly dropProbability: number;
  /** Probability that a delivered message arrives a second time, with its own delay. */
  readonly duplicateProbability: number;
  /** Usual one-way delay, uniform in [delayMsMin, delayMsMax]. */
  readonly delayMsMin: number;
  readonly delayMsMax: number;
  /** Probability that a copy takes the long tail instead, uniform up to longTailMsMax. */
  readonly longTailProbability: number;
  readonly longTailMsMax: number;
  /** Messages in flight beyond this are dropped, as a full socket buffer would. */
  readonly inFlightMessagesMax: number;
}

/** Why a message did not make it; the simulator traces and counts these. */
export type DropReason = "lost" | "partitioned" | "overflow";

export type SendOutcome =
  | { readonly sent: true; readonly delaysUs: readonly number[] }
  | { readonly sent: false; readonly reason: DropReason };

/** A named cut of the cluster, for traces and reports. */
export interface Partition {
  readonly kind: "isolate" | "split" | "bridge";
  /** Nodes on one side; each of them can talk to no node of `right`. */
  readonly left: readonly NodeId[];
  readonly right: readonly NodeId[];
  /** For a bridge: the node that still sees both sides. */
  readonly bridge?: NodeId;
}

// Node ids are small; a directed link is encoded as from * LINK_BASE + to.
const LINK_BASE = 1 << 16;

export class SimNetwork {
  private readonly cut = new Set<number>();
  private partition: Partition | undefined;
  private inFlight = 0;
  private readonly stats = { sent: 0, delivered: 0, lost: 0, partitioned: 0, overflow: 0, duplicated: 0 };

  constructor(
    private config: NetworkConfig,
    private readonly rng: SeededRng,
  ) {
    validate(config);
  }

  /** Replaces the fault rates (the liveness phase turns loss and duplication off). */
  reconfigure(config: NetworkConfig): void {
    validate(config);
    this.config = config;
  }

  connected(from: NodeId, to: NodeId): boolean {
    return !this.cut.has(from * LINK_BASE + to);
  }

  currentPartition(): Partition | undefined {
    return this.partition;
  }

  /** Cuts every link between `left` and `right`; replaces any previous partition. */
  applyPartition(partition: Partition): void {
    this.heal();
    for (const a of partition.left) {
      for (const b of partition.right) {
        if (a === b) throw new Error(`SimNetwork: node ${a} is on both sides of a ${partition.kind}`);
        this.cut.add(a * LINK_BASE + b);
        this.cut.add(b * LINK_BASE + a);
      }
    }
    this.partition = partition;
  }

  heal(): void {
    this.cut.clear();
    this.partition = undefined;
  }

  /** Decides the fate of one message: the delays of the copies that will arrive, or why none will. */
  send(from: NodeId, to: NodeId): SendOutcome {
    this.stats.sent += 1;
    if (!this.connected(from, to)) return this.dropped("partitioned");
    if (this.inFlight >= this.config.inFlightMessagesMax) return this.dropped("overflow");
    if (this.rng.chance(this.config.dropProbability)) return this.dropped("lost");
    const delaysUs = [this.sampleDelayUs()];
    if (this.inFlight + 1 < this.config.inFlightMessagesMax && this.rng.chance(this.config.duplicateProbability)) {
      delaysUs.push(this.sampleDelayUs());
      this.stats.duplicated += 1;
    }
    this.inFlight += delaysUs.length;
    return { sent: true, delaysUs };
  }

  /** Called when a copy reaches its destination time; false when the link was cut meanwhile. */
  arrive(from: NodeId, to: NodeId): boolean {
    if (this.inFlight <= 0) throw new Error(`SimNetwork: arrival ${from}->${to} with nothing in flight`);
    this.inFlight -= 1;
    if (!this.connected(from, to)) {
      this.stats.partitioned += 1;
      return false;
    }
    this.stats.delivered += 1;
    return true;
  }

  snapshotStats(): Readonly<Record<string, number>> {
    return { ...this.stats, inFlight: this.inFlight };
  }

  private dropped(reason: DropReason): SendOutcome {
    this.stats[reason] += 1;
    return { sent: false, reason };
  }

  private sampleDelayUs(): number {
    const c = this.config;
    if (this.rng.chance(c.longTailProbability)) return uniformUs(this.rng, c.delayMsMax, c.longTailMsMax);
    return uniformUs(this.rng, c.delayMsMin, c.delayMsMax);
  }
}

/** A uniformly random whole number of microseconds in [loMs, hiMs]. */
export function uniformUs(rng: SeededRng, loMs: number, hiMs: number): number {
  const lo = msToUs(loMs);
  const hi = msToUs(hiMs);
  return lo + rng.nextInt(hi - lo + 1);
}

function validate(c: NetworkConfig): void {
  const probabilities = [c.dropProbability, c.duplicateProbability, c.longTailProbability];
  if (probabilities.some((p) => !(p >= 0 && p <= 1))) {
    throw new Error(`SimNetwork: probabilities must be in [0, 1]: ${JSON.stringify(c)}`);
  }
  if (!(c.delayMsMin >= 0 && c.delayMsMin <= c.delayMsMax && c.delayMsMax <= c.longTailMsMax)) {
    throw new Error(`SimNetwork: need 0 <= delayMsMin <= delayMsMax <= longTailMsMax: ${JSON.stringify(c)}`);
  }
  if (!Number.isInteger(c.inFlightMessagesMax) || c.inFlightMessagesMax <= 0) {
    throw new Error(`SimNetwork: inFlightMessagesMax must be a positive integer: ${c.inFlightMessagesMax}`);
  }
}
