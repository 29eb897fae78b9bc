// A hand-driven cluster for unit tests: one GlobalReplica and one Proposer per region, a
// list of messages in flight that the test delivers, drops or holds explicitly, and a
// driver that does what README "Driver" prescribes (log commands applied at once, replies
// sent after applying). Nothing happens unless the test says so.

import { SeededRng } from "@geolock/raft";
import {
  asEpoch,
  asGlobalKey,
  asRegionId,
  GlobalReplica,
  paxosConfig,
  Proposer,
  routeInbound,
  type AppliedCommand,
  type GlobalKey,
  type LockCommand,
  type PaxosConfig,
  type PaxosMessage,
  type ProposalOutcome,
  type ProposerConfig,
  type RegionId,
} from "../src/index.js";

export const US_EAST = asRegionId("us-east");
export const US_WEST = asRegionId("us-west");
export const EU_WEST = asRegionId("eu-west");
export const REGIONS3 = [US_EAST, US_WEST, EU_WEST] as const;
export const KEY = asGlobalKey("global:config");

export function config3(overrides: Partial<Omit<PaxosConfig, "regions">> = {}): PaxosConfig {
  return paxosConfig(REGIONS3, { ttlMsMin: 10, ...overrides });
}

export function proposerConfig(
  paxos: PaxosConfig,
  region: RegionId,
  view: GlobalReplica,
  seed: number,
  overrides: Partial<ProposerConfig> = {},
): ProposerConfig {
  return {
    paxos,
    region,
    epoch: asEpoch(1),
    rng: new SeededRng(seed),
    view,
    proposalTimeoutTicks: 100,
    retransmitTicks: 10,
    backoffTicksMin: 4,
    backoffTicksMax: 32,
    pendingProposalsMax: 64,
    trackedKeysMax: 16,
    catchUpIntervalTicks: 1_000_000,
    catchUpKeysMax: 8,
    outboxMessagesMax: 1_000,
    ...overrides,
  };
}

let seqCounter = 0;
export function acquire(clientId: string, region: RegionId = US_EAST, ttlMs = 1_000, seq = ++seqCounter): LockCommand {
  return { type: "acquire", requestId: { clientId, seq }, holder: { region, clientId, owner: "" }, ttlMs };
}

export class HandCluster {
  readonly replicas = new Map<RegionId, GlobalReplica>();
  readonly proposers = new Map<RegionId, Proposer>();
  /** Messages sent and not yet delivered or dropped, in send order. */
  inFlight: PaxosMessage[] = [];
  readonly outcomes: ProposalOutcome[] = [];
  readonly applied = new Map<RegionId, AppliedCommand[]>();
  /** Every message delivered so far, in order. */
  readonly delivered: PaxosMessage[] = [];

  constructor(
    readonly config: PaxosConfig,
    proposerOverrides: Partial<ProposerConfig> = {},
    seedBase = 1_000,
  ) {
    config.regions.forEach((region, i) => {
      const replica = new GlobalReplica(config, region);
      this.replicas.set(region, replica);
      this.proposers.set(region, new Proposer(proposerConfig(config, region, replica, seedBase + i, proposerOverrides)));
      this.applied.set(region, []);
    });
  }

  replica(region: RegionId): GlobalReplica {
    const r = this.replicas.get(region);
    if (r === undefined) throw new Error(`no replica ${region}`);
    return r;
  }

  proposer(region: RegionId): Proposer {
    const p = this.proposers.get(region);
    if (p === undefined) throw new Error(`no proposer ${region}`);
    return p;
  }

  /** Replaces a region's proposer, as a leader crash does (the replica survives). */
  restartProposer(region: RegionId, epoch: number, seed: number): void {
    this.collect();
    const config = proposerConfig(this.config, region, this.replica(region), seed, { epoch: asEpoch(epoch) });
    this.proposers.set(region, new Proposer(config));
  }

  propose(region: RegionId, command: LockCommand, key: GlobalKey = KEY): void {
    const result = this.proposer(region).propose(key, command);
    if (!result.ok) throw new Error(`propose refused: ${result.message}`);
    this.collect();
  }

  tick(n = 1): void {
    for (let i = 0; i < n; i++) for (const p of this.proposers.values()) p.tick();
    this.collect();
  }

  /** Moves every proposer's output into inFlight / outcomes. */
  collect(): void {
    for (const p of this.proposers.values()) {
      const { messages, outcomes } = p.drain();
      this.inFlight.push(...messages);
      this.outcomes.push(...outcomes);
    }
  }

  /** Delivers (and removes) the in-flight messages matching `which`, in order, until none match. Bounded. */
  deliver(which: (m: PaxosMessage) => boolean = () => true, roundsMax = 1_000): number {
    let delivered = 0;
    for (let round = 0; round < roundsMax; round++) {
      const index = this.inFlight.findIndex(which);
      if (index < 0) return delivered;
      const [m] = this.inFlight.splice(index, 1);
      if (m !== undefined) this.handle(m);
      delivered++;
    }
    throw new Error(`deliver: still delivering after ${roundsMax} messages`);
  }

  drop(which: (m: PaxosMessage) => boolean): number {
    const before = this.inFlight.length;
    this.inFlight = this.inFlight.filter((m) => !which(m));
    return before - this.inFlight.length;
  }

  private handle(m: PaxosMessage): void {
    this.delivered.push(m);
    const replica = this.replica(m.to);
    const action = routeInbound(m, replica);
    for (const command of action.log) {
      const result = replica.apply(command);
      if (result.reply !== null) this.inFlight.push(result.reply);
      this.applied.get(m.to)?.push(...result.applied);
    }
    if (action.toProposer && m.kind !== "prepare" && m.kind !== "accept" && m.kind !== "chosen" && m.kind !== "catchUpRequest") {
      this.proposer(m.to).step(m);
    }
    if (action.answerCatchUp && m.kind === "catchUpRequest") this.inFlight.push(replica.answerCatchUp(m, 8));
    replica.assertInvariants();
    this.collect();
  }
}

export const kindIs =
  (...kinds: PaxosMessage["kind"][]) =>
  (m: PaxosMessage): boolean =>
    kinds.includes(m.kind);
export const between =
  (from: RegionId | null, to: RegionId | null, ...kinds: PaxosMessage["kind"][]) =>
  (m: PaxosMessage): boolean =>
    (from === null || m.from === from) && (to === null || m.to === to) && (kinds.length === 0 || kinds.includes(m.kind));
