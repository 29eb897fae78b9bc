// The seeded simulation: R regions (each a SimRegion), a faulty WAN, clients in every
// region contending for a few global keys. Phase 1 (faultTicks): drops, duplicates,
// reordering, region-leader crashes (half of them also restart the region from its snapshot)
// and region partitions, with the oracle checking safety at every event. Phase 2 (settleTicks): everything heals, clients stop starting new work;
// then every request must have completed and every region's table must have converged.
// One seed replays one run exactly.

import { SeededRng } from "@geolock/raft";
import {
  asGlobalKey,
  asRegionId,
  DEFAULT_PROPOSER_TIMING,
  paxosConfig,
  type GlobalKey,
  type PaxosMessage,
  type RegionId,
} from "../../src/index.js";
import { SimClient, type ClientTiming } from "./client.js";
import { Network, NO_FAULTS, type NetworkFaults } from "./network.js";
import { Oracle } from "./oracle.js";
import { SimRegion, type RegionParts, type RegionTiming } from "./region.js";

export const THREE_REGIONS = ["us-east", "us-west", "eu-west"].map(asRegionId);
export const FIVE_REGIONS = ["us-east", "us-west", "eu-west", "eu-central", "ap-south"].map(asRegionId);

/** One-way WAN delays in ticks (ms). */
const DELAYS: Record<string, number> = {
  "us-east|us-west": 30,
  "eu-west|us-east": 40,
  "eu-west|us-west": 70,
  "eu-central|eu-west": 10,
  "eu-central|us-east": 45,
  "eu-central|us-west": 75,
  "ap-south|eu-central": 60,
  "ap-south|eu-west": 65,
  "ap-south|us-east": 100,
  "ap-south|us-west": 110,
};

export function wanDelay(a: RegionId, b: RegionId): number {
  const d = DELAYS[[a, b].sort().join("|")];
  if (d === undefined) throw new Error(`no delay for ${a}-${b}`);
  return d;
}

export interface SimOptions {
  readonly seed: number;
  readonly regions: readonly RegionId[];
  readonly faultTicks: number;
  readonly settleTicks: number;
  readonly clientsPerRegion: number;
  readonly keyCount: number;
  readonly faults: NetworkFaults;
  /** Per region per tick during phase 1. */
  readonly crashRate: number;
  /** Per tick during phase 1: start a random partition (if none). */
  readonly partitionRate: number;
  /** Instead of random partitions: isolate this region during [fromTick, toTick). */
  readonly scriptedPartition?: { readonly region: RegionId; readonly fromTick: number; readonly toTick: number };
  readonly parts?: RegionParts;
  /** Regions whose clients issue requests (default: all). */
  readonly clientRegions?: readonly RegionId[];
  /** Clock rates are drawn in [1 - drift, 1 + drift]. */
  readonly clockDrift: number;
}

export const DEFAULT_SIM: Omit<SimOptions, "seed" | "regions"> = {
  faultTicks: 8_000,
  settleTicks: 8_000,
  clientsPerRegion: 2,
  keyCount: 2,
  faults: { dropRate: 0.05, duplicateRate: 0.03, jitterFraction: 0.5 },
  crashRate: 1 / 4_000,
  partitionRate: 1 / 2_500,
  clockDrift: 0.01,
};

export const SIM_TIMING: RegionTiming = {
  proposer: {
    ...DEFAULT_PROPOSER_TIMING,
    proposalTimeoutTicks: 2_500,
    retransmitTicks: 250,
    backoffTicksMin: 150,
    backoffTicksMax: 1_200,
    catchUpIntervalTicks: 300,
    catchUpKeysMax: 8,
  },
  // driftBound 0.05 >= 2 x 0.01 / 0.99: safe for clock rates within 1 +/- 1%.
  leaseClock: { driftBound: 0.05, marginMs: 20, retryMs: 3_000, staggerMs: 300 },
  commitTicks: 2,
};

const CLIENT_TIMING: ClientTiming = { ttlMs: 1_200, requestTimeoutTicks: 3_000, attemptsMax: 3 };

export class LivenessFailure extends Error {
  override readonly name = "LivenessFailure";
}

export interface SimReport {
  readonly seed: number;
  readonly chosen: number;
  readonly grants: number;
  readonly noQuorum: number;
  readonly crashes: number;
  readonly snapshotRestores: number;
  readonly messages: number;
  readonly clients: readonly SimClient[];
}

export class Simulation {
  readonly oracle: Oracle;
  readonly regions = new Map<RegionId, SimRegion>();
  readonly clients: SimClient[] = [];
  private readonly network: Network;
  private readonly rng: SeededRng;
  private readonly keys: GlobalKey[];
  private partitionUntil = -1;
  now = 0;

  constructor(private readonly options: SimOptions) {
    this.rng = new SeededRng(options.seed);
    this.oracle = new Oracle(options.regions.length);
    this.network = new Network(new SeededRng(options.seed * 7 + 1), wanDelay);
    this.keys = Array.from({ length: options.keyCount }, (_, i) => asGlobalKey(`global:k${i}`));
    const config = paxosConfig(options.regions, { ttlMsMin: 10, keysMax: 64, instancesAheadMax: 16, batchCommandsMax: 4, dedupClientsPerKeyMax: 16 });
    for (const [i, id] of options.regions.entries()) this.addRegion(id, i, config);
  }

  run(): SimReport {
    const total = this.options.faultTicks + this.options.settleTicks;
    for (this.now = 0; this.now < total; this.now++) this.step();
    this.checkLiveness();
    return this.report();
  }

  /** One tick: faults, deliveries, regions, clients; then the per-tick invariants. */
  step(): void {
    const now = this.now;
    this.oracle.now = now;
    if (now === this.options.faultTicks) this.heal();
    if (now < this.options.faultTicks) this.injectFaults(now);
    for (const m of this.network.take(now)) this.regions.get(m.to)?.receive(m, now);
    for (const region of this.regions.values()) region.tick(now);
    for (const client of this.clients) client.tick(now);
    for (const region of this.regions.values()) region.assertInvariants();
  }

  private addRegion(id: RegionId, index: number, config: ReturnType<typeof paxosConfig>): void {
    const drift = (): number => 1 + (this.rng.nextInt(2_001) - 1_000) / 1_000 * this.options.clockDrift;
    const region = new SimRegion(
      id,
      config,
      SIM_TIMING,
      this.options.parts ?? {},
      new SeededRng(this.options.seed * 31 + index),
      this.oracle,
      drift(),
      (m: PaxosMessage) => this.network.send(m, this.now),
      {
        answer: (clientId, seq, answer) => this.clientOf(id, clientId)?.answer(seq, answer, this.now),
        fail: (clientId, seq) => this.clientOf(id, clientId)?.fail(seq, this.now),
      },
    );
    region.elect(0);
    this.regions.set(id, region);
    const clients = this.options.clientRegions === undefined || this.options.clientRegions.includes(id) ? this.options.clientsPerRegion : 0;
    for (let c = 0; c < clients; c++) {
      const submit = (key: GlobalKey, command: Parameters<SimRegion["submit"]>[1]): boolean => region.submit(key, command);
      this.clients.push(new SimClient(`${id}/c${c}`, id, this.keys, CLIENT_TIMING, drift(), new SeededRng(this.options.seed * 131 + index * 17 + c), this.oracle, submit));
    }
  }

  private clientOf(region: RegionId, clientId: string): SimClient | undefined {
    return this.clients.find((c) => c.id === clientId && c.region === region);
  }

  private injectFaults(now: number): void {
    this.network.faults = this.options.faults;
    const scripted = this.options.scriptedPartition;
    if (scripted !== undefined) {
      if (now === scripted.fromTick) this.network.isolate([scripted.region]);
      if (now === scripted.toTick) this.network.isolate([]);
    } else if (this.network.partitioned && now >= this.partitionUntil) {
      this.network.isolate([]);
    } else if (!this.network.partitioned && this.rng.chance(this.options.partitionRate)) {
      this.network.isolate(this.minority());
      this.partitionUntil = now + 300 + this.rng.nextInt(2_000);
    }
    for (const region of this.regions.values()) {
      if (region.up && this.rng.chance(this.options.crashRate)) region.crash(now, 50 + this.rng.nextInt(600));
    }
  }

  /** One region, or (with five) sometimes two: always a minority. */
  private minority(): RegionId[] {
    const ids = [...this.regions.keys()];
    const count = 1 + (ids.length >= 5 ? this.rng.nextInt(2) : 0);
    const out: RegionId[] = [];
    for (let guard = 0; out.length < count && guard < 100; guard++) {
      const id = ids[this.rng.nextInt(ids.length)];
      if (id !== undefined && !out.includes(id)) out.push(id);
    }
    return out;
  }

  private heal(): void {
    this.network.isolate([]);
    this.network.faults = NO_FAULTS;
    for (const client of this.clients) client.issuing = false;
  }

  private checkLiveness(): void {
    const seed = this.options.seed;
    const busy = this.clients.filter((c) => c.busy).map((c) => c.id);
    if (busy.length > 0) throw new LivenessFailure(`seed ${seed}: clients still waiting after the settle phase: ${busy.join(", ")}`);
    for (const region of this.regions.values()) {
      if (region.pendingProposals() > 0) throw new LivenessFailure(`seed ${seed}: ${region.id} has ${region.pendingProposals()} proposals pending`);
    }
    for (const key of this.keys) {
      const states = [...this.regions.values()].map((r) => JSON.stringify(r.replica.lockTable.keyState(key)));
      if (new Set(states).size > 1) throw new LivenessFailure(`seed ${seed}: regions did not converge on ${key}:\n${states.join("\n")}`);
    }
  }

  private report(): SimReport {
    const sum = (f: (c: SimClient) => number): number => this.clients.reduce((n, c) => n + f(c), 0);
    return {
      seed: this.options.seed,
      chosen: this.oracle.chosenCount,
      grants: sum((c) => c.counters.granted),
      noQuorum: sum((c) => c.counters.noQuorum),
      crashes: [...this.regions.values()].reduce((n, r) => n + r.crashes, 0),
      snapshotRestores: [...this.regions.values()].reduce((n, r) => n + r.snapshotRestores, 0),
      messages: this.network.sent,
      clients: this.clients,
    };
  }
}

export function simulate(seed: number, regions: readonly RegionId[], overrides: Partial<SimOptions> = {}): SimReport {
  return new Simulation({ ...DEFAULT_SIM, seed, regions, ...overrides }).run();
}
