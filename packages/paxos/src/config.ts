// Configuration of the replicated global state (identical in every replica of every region)
// and of the proposer (volatile, per region leader). Units are last in every name.

import type { Epoch, RegionId, Rng } from "./types.js";
import { invariant } from "./types.js";
import type { ReplicaView } from "./replica-view.js";

/** Must be the same in every replica of every region: apply results depend on it. */
export interface PaxosConfig {
  /** Every participating region, same order everywhere; an odd count gives the best fault tolerance. */
  readonly regions: readonly RegionId[];
  /**
   * Keys an acceptor tracks; a prepare/accept for a new key beyond it is refused
   * ("overloaded"). Keys are never forgotten (their promise and token counter must not go
   * back). A table can hold at most 2 x keysMax keys: every chosen key was accepted by a
   * majority of acceptors, each holding at most keysMax (docs/paxos.md).
   */
  readonly keysMax: number;
  /**
   * Window of instances beyond the region's applied one that its acceptor accepts and its
   * learner buffers. Further ahead, accept is refused ("behind") and learn dropped; catch-up
   * fills the gap. Bounds the accepted values and buffered values kept per key.
   */
  readonly instancesAheadMax: number;
  /** Commands per chosen value (batch); at least 1. */
  readonly batchCommandsMax: number;
  /** Dedup records per key; the least recently used non-holder client is evicted beyond it. */
  readonly dedupClientsPerKeyMax: number;
  readonly ttlMsMin: number;
  readonly ttlMsMax: number;
  readonly keyBytesMax: number;
  readonly clientIdBytesMax: number;
  readonly ownerBytesMax: number;
}

export const DEFAULT_PAXOS_LIMITS: Omit<PaxosConfig, "regions"> = {
  keysMax: 10_000,
  instancesAheadMax: 32,
  batchCommandsMax: 16,
  dedupClientsPerKeyMax: 32,
  ttlMsMin: 1_000,
  ttlMsMax: 600_000,
  keyBytesMax: 256,
  clientIdBytesMax: 128,
  ownerBytesMax: 256,
};

export function paxosConfig(regions: readonly RegionId[], overrides: Partial<Omit<PaxosConfig, "regions">> = {}): PaxosConfig {
  const config: PaxosConfig = { ...DEFAULT_PAXOS_LIMITS, ...overrides, regions: [...regions] };
  checkPaxosConfig(config);
  return config;
}

export function checkPaxosConfig(c: PaxosConfig): void {
  invariant(c.regions.length >= 1 && new Set(c.regions).size === c.regions.length, () => `regions must be distinct and non-empty: ${c.regions.join(",")}`);
  invariant(c.regions.every((r) => r.length > 0), () => "a region id is empty");
  for (const [name, value] of Object.entries(c)) {
    if (name === "regions") continue;
    invariant(Number.isSafeInteger(value) && (value as number) >= 1, () => `${name} must be an integer >= 1, got ${String(value)}`);
  }
  invariant(c.ttlMsMin <= c.ttlMsMax, () => `ttlMsMin ${c.ttlMsMin} > ttlMsMax ${c.ttlMsMax}`);
}

/** A majority of the participating regions. */
export function quorumSize(regionCount: number): number {
  return Math.floor(regionCount / 2) + 1;
}

/** The volatile proposer of one region, on that region's Raft leader. */
export interface ProposerConfig {
  readonly paxos: PaxosConfig;
  /** The region this proposer speaks for; one of paxos.regions. */
  readonly region: RegionId;
  /**
   * This incarnation's epoch: the Raft term of the leader running it. A proposer of the same
   * region with the same epoch must never have existed (Raft guarantees one leader per term).
   */
  readonly epoch: Epoch;
  /** Backoff jitter after a lost ballot; the only randomness. */
  readonly rng: Rng;
  /** The region's applied global state, read-only (the leader's replica). */
  readonly view: ReplicaView;
  /** Ticks a proposal may take before it fails with NO_QUORUM. */
  readonly proposalTimeoutTicks: number;
  /** Ticks without a majority of answers before prepares/accepts are sent again to the silent regions. */
  readonly retransmitTicks: number;
  /** After a nack, wait backoffTicksMin + random[0, span) ticks, span doubling per lost attempt up to backoffTicksMax. */
  readonly backoffTicksMin: number;
  readonly backoffTicksMax: number;
  /** Proposals accepted but not yet chosen or failed, over all keys; beyond it propose() refuses. */
  readonly pendingProposalsMax: number;
  /** Keys with proposer state (a held ballot is what makes the phase-2-only fast path); idle ones are evicted LRU. */
  readonly trackedKeysMax: number;
  /** Ticks between anti-entropy requests (one peer at a time, round robin). */
  readonly catchUpIntervalTicks: number;
  /** Keys listed per catch-up request, and key states per reply. */
  readonly catchUpKeysMax: number;
  /** Messages buffered between two drains; beyond it new messages are dropped (retransmission recovers). */
  readonly outboxMessagesMax: number;
}

/** Defaults for a 10 ms tick. */
export const DEFAULT_PROPOSER_TIMING = {
  proposalTimeoutTicks: 300,
  retransmitTicks: 25,
  backoffTicksMin: 2,
  backoffTicksMax: 64,
  pendingProposalsMax: 4_096,
  trackedKeysMax: 4_096,
  catchUpIntervalTicks: 50,
  catchUpKeysMax: 64,
  outboxMessagesMax: 16_384,
} as const;

export function checkProposerConfig(c: ProposerConfig): void {
  checkPaxosConfig(c.paxos);
  invariant(c.paxos.regions.includes(c.region), () => `region ${c.region} is not one of ${c.paxos.regions.join(",")}`);
  invariant(Number.isSafeInteger(c.epoch) && c.epoch >= 0, () => `epoch must be an integer >= 0, got ${c.epoch}`);
  const positive = [
    "proposalTimeoutTicks",
    "retransmitTicks",
    "backoffTicksMin",
    "backoffTicksMax",
    "pendingProposalsMax",
    "trackedKeysMax",
    "catchUpIntervalTicks",
    "catchUpKeysMax",
    "outboxMessagesMax",
  ] as const;
  for (const name of positive) {
    invariant(Number.isSafeInteger(c[name]) && c[name] >= 1, () => `${name} must be an integer >= 1, got ${c[name]}`);
  }
  invariant(c.backoffTicksMin <= c.backoffTicksMax, () => `backoffTicksMin ${c.backoffTicksMin} > backoffTicksMax ${c.backoffTicksMax}`);
}
