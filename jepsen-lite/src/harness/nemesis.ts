// The nemesis: a seeded schedule of faults, then their execution against real processes.
// Faults come one at a time: each is applied, held for a while, healed, and followed by a
// quiet spell, so every fault's effect (and the recovery from it) shows up in the history
// on its own. Kinds take turns in a seeded order, so a run with several kinds exercises
// each of them. Every start and stop goes to nemesis.jsonl.

import { appendFileSync } from "node:fs";
import { SeededRng } from "../simulation.js";
import { sleep, type Cluster, type ClusterNode } from "./cluster.js";
import { cutBetween, type Cut, type Firewall } from "./firewall.js";
import type { NemesisKind } from "./options.js";
import type { ManagedProcess } from "./processes.js";

export type Variant =
  | "kill-one" | "kill-majority" | "kill-leader"
  | "pause-node" | "pause-leader" | "pause-client"
  | "isolate-node" | "majority-minority" | "bridge"
  | "isolate-region"
  | "clock-skew" | "clock-rate" | "clock-rate-region";

const VARIANTS: Record<NemesisKind, readonly Variant[]> = {
  kill: ["kill-one", "kill-majority", "kill-leader"],
  pause: ["pause-node", "pause-leader", "pause-client", "pause-client"],
  partition: ["isolate-node", "majority-minority", "bridge"],
  region: ["isolate-region"],
  clock: ["clock-skew", "clock-rate", "clock-rate-region"],
};

export interface PlannedFault {
  /** Offset from the workload's start. */
  readonly atMs: number;
  readonly kind: NemesisKind;
  readonly variant: Variant;
  readonly durationMs: number;
}

export interface ScheduleOptions {
  readonly seed: number;
  readonly kinds: readonly NemesisKind[];
  readonly timeMs: number;
  readonly ttlMs: number;
  /** The unsafe target has one node: no leader, no majority to speak of. */
  readonly singleNode: boolean;
}

const WARMUP_MS = 2_000;
const FAULT_MS = [2_000, 5_000] as const;
const QUIET_MS = [1_000, 3_000] as const;
/** Faults end this long before the workload does, so the end of the history is fault-free. */
const TAIL_MS = 1_000;
const FAULTS_MAX = 10_000;

/** The whole schedule, from the seed alone: the same seed gives the same faults. */
export function planFaults(o: ScheduleOptions): PlannedFault[] {
  const rng = new SeededRng(o.seed ^ 0x5eed);
  const faults: PlannedFault[] = [];
  let order: NemesisKind[] = [];
  let at = WARMUP_MS;
  while (o.kinds.length > 0 && faults.length < FAULTS_MAX) {
    if (order.length === 0) order = shuffle([...o.kinds], rng);
    const kind = order.shift() as NemesisKind;
    const variants = VARIANTS[kind].filter((v) => !o.singleNode || v === "kill-one" || v === "pause-node" || v === "pause-client");
    const variant = variants[rng.int(variants.length)] as Variant;
    // A client pause must outlast the lease, or it proves nothing.
    const durationMs = variant === "pause-client" ? o.ttlMs * 2 + rng.int(o.ttlMs) : between(rng, FAULT_MS);
    if (at + durationMs > o.timeMs - TAIL_MS) break;
    faults.push({ atMs: at, kind, variant, durationMs });
    at += durationMs + between(rng, QUIET_MS);
  }
  return faults;
}

function between(rng: SeededRng, [lo, hi]: readonly [number, number]): number {
  return lo + rng.int(hi - lo + 1);
}

function shuffle<T>(items: T[], rng: SeededRng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

export interface NemesisEvent {
  readonly time: number;
  readonly type: "start" | "stop";
  readonly kind: NemesisKind;
  readonly variant: Variant;
  readonly targets: readonly string[];
  readonly detail: string;
}

/** What the nemesis needs of the client workers. */
export interface WorkerControl {
  /** Worker indexes holding a lock now. */
  holders(): number[];
  process(index: number): ManagedProcess | undefined;
  readonly count: number;
}

/** An applied fault: what it did and how to undo it. */
interface Applied {
  readonly targets: readonly string[];
  readonly detail: string;
  heal(): Promise<void>;
}

export class Nemesis {
  private readonly rng: SeededRng;
  /** Undo of the fault in force, so heal-all can end it early (SIGINT, errors). */
  private current: Applied | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly firewall: Firewall | undefined,
    private readonly workers: WorkerControl,
    private readonly logFile: string,
    private readonly now: () => number,
    seed: number,
    private readonly clockRates: readonly number[],
  ) {
    this.rng = new SeededRng(seed ^ 0x7a11);
  }

  /** Runs the schedule from `startMs` (performance.now()) until it ends or `stop` aborts. */
  async run(faults: readonly PlannedFault[], startMs: number, stop: AbortSignal): Promise<void> {
    for (const fault of faults) {
      await sleepUntil(startMs + fault.atMs, stop);
      if (stop.aborted) return;
      const applied = await this.apply(fault);
      this.current = applied;
      this.record({ time: this.now(), type: "start", kind: fault.kind, variant: fault.variant, targets: applied.targets, detail: applied.detail });
      await sleepUntil(performance.now() + fault.durationMs, stop);
      await this.healCurrent(fault);
    }
  }

  /** Ends the fault in force, if any (idempotent). */
  async healCurrent(fault?: PlannedFault): Promise<void> {
    const applied = this.current;
    this.current = undefined;
    if (applied === undefined) return;
    await applied.heal();
    if (fault !== undefined) this.record({ time: this.now(), type: "stop", kind: fault.kind, variant: fault.variant, targets: applied.targets, detail: "healed" });
  }

  private record(event: NemesisEvent): void {
    appendFileSync(this.logFile, `${JSON.stringify(event)}\n`);
  }

  private async apply(fault: PlannedFault): Promise<Applied> {
    switch (fault.kind) {
      case "kill":
        return this.kill(fault.variant);
      case "pause":
        return this.pause(fault.variant);
      case "partition":
      case "region":
        return this.partition(fault.variant);
      case "clock":
        return this.clock(fault.variant);
    }
  }

  private pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("nemesis: nothing to pick from");
    return items[this.rng.int(items.length)] as T;
  }

  private async leaderOrAny(): Promise<ClusterNode> {
    const region = this.pick(this.cluster.regions);
    return (await this.cluster.leaderOf(region)) ?? this.pick(this.cluster.regionNodes(region));
  }

  private async kill(variant: Variant): Promise<Applied> {
    let victims: ClusterNode[];
    if (variant === "kill-leader") victims = [await this.leaderOrAny()];
    else if (variant === "kill-majority") victims = shuffle(this.cluster.regionNodes(this.pick(this.cluster.regions)), this.rng).slice(0, 2);
    else victims = [this.pick(this.cluster.nodes)];
    await Promise.all(victims.map((n) => n.process.kill()));
    return {
      targets: victims.map((n) => n.name),
      detail: "kill -9; healed by a restart on the same data directory",
      heal: async () => {
        for (const n of victims) if (!n.process.running) this.cluster.startNode(n, clockEnv(n.env));
      },
    };
  }

  private async pause(variant: Variant): Promise<Applied> {
    if (variant === "pause-client") return this.pauseClient();
    const node = variant === "pause-leader" ? await this.leaderOrAny() : this.pick(this.cluster.nodes);
    node.process.pause();
    return { targets: [node.name], detail: "SIGSTOP; healed by SIGCONT", heal: async () => node.process.resume() };
  }

  /** Pauses a client that holds a lock (any client if none does): it wakes up past its lease. */
  private async pauseClient(): Promise<Applied> {
    let holders: number[] = [];
    for (let attempt = 0; attempt < 20 && holders.length === 0; attempt++) {
      holders = this.workers.holders().filter((i) => this.workers.process(i)?.running === true);
      if (holders.length === 0) await sleep(50);
    }
    const candidates = holders.length > 0 ? holders : Array.from({ length: this.workers.count }, (_, i) => i);
    const index = this.pick(candidates);
    const p = this.workers.process(index);
    p?.pause();
    const detail = `SIGSTOP of a client ${holders.includes(index) ? "holding a lock" : "(none held a lock)"} past its TTL; healed by SIGCONT`;
    return { targets: [`worker ${index}`], detail, heal: async () => p?.resume() };
  }

  private async partition(variant: Variant): Promise<Applied> {
    const fw = this.firewall;
    if (fw === undefined) throw new Error("nemesis: partitions need the firewall, which was not opened");
    const { cuts, targets, detail } = this.partitionPlan(variant);
    await fw.apply(cuts);
    return { targets, detail: `${detail} (${cuts.length} nft drop rules)`, heal: () => fw.heal() };
  }

  private partitionPlan(variant: Variant): { cuts: Cut[]; targets: string[]; detail: string } {
    const nodes = this.cluster.nodes;
    const hosts = (ns: readonly ClusterNode[]): string[] => ns.map((n) => n.host);
    const others = (ns: readonly ClusterNode[]): ClusterNode[] => nodes.filter((n) => !ns.includes(n));
    if (variant === "isolate-region") {
      const region = this.pick(this.cluster.regions);
      const inside = this.cluster.regionNodes(region);
      return { cuts: cutBetween(hosts(inside), hosts(others(inside))), targets: inside.map((n) => n.name), detail: `region ${region} cut off from the other regions` };
    }
    if (variant === "bridge") {
      const [a, b, c] = shuffle(this.cluster.regionNodes(this.pick(this.cluster.regions)), this.rng) as [ClusterNode, ClusterNode, ClusterNode];
      return { cuts: cutBetween([a.host], [c.host]), targets: [a.name, b.name, c.name], detail: `${a.name} and ${c.name} cut apart; ${b.name} sees both (bridge)` };
    }
    if (variant === "majority-minority") {
      const minority = shuffle([...nodes], this.rng).slice(0, Math.floor(nodes.length / 2));
      return { cuts: cutBetween(hosts(minority), hosts(others(minority))), targets: minority.map((n) => n.name), detail: "these nodes (a minority) cut off from the rest" };
    }
    const node = this.pick(nodes);
    return { cuts: cutBetween([node.host], hosts(others([node]))), targets: [node.name], detail: `${node.name} cut off from every other node` };
  }

  private async clock(variant: Variant): Promise<Applied> {
    // A restarted node usually loses its leadership, and only a leader's clock times
    // sessions: so one variant gives a whole region the odd clock (a rolling restart).
    const nodes = variant === "clock-rate-region" ? this.cluster.regionNodes(this.pick(this.cluster.regions)) : [this.rng.chance(50) ? await this.leaderOrAny() : this.pick(this.cluster.nodes)];
    const env: NodeJS.ProcessEnv =
      variant === "clock-skew" ? { GEOLOCK_CLOCK_SKEW_MS: String((this.rng.chance(50) ? -1 : 1) * (1_000 + this.rng.int(60_000))) } : { GEOLOCK_CLOCK_RATE: String(this.pick(this.clockRates)) };
    await this.rollingRestart(nodes, env);
    const detail = `restarted with ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(" ")}; healed by a restart on the real clock`;
    return { targets: nodes.map((n) => n.name), detail, heal: () => this.rollingRestart(nodes, {}) };
  }

  /** Restarts nodes one at a time, each after its region has a leader again (bounded). */
  private async rollingRestart(nodes: readonly ClusterNode[], env: NodeJS.ProcessEnv): Promise<void> {
    for (const node of nodes) {
      await this.cluster.restart(node, env);
      if (nodes.length > 1) await this.cluster.waitRegionLeader(node.region, REGION_LEADER_WAIT_MS);
    }
  }
}

const REGION_LEADER_WAIT_MS = 5_000;

/** The clock settings of a node's current incarnation, so a kill's restart keeps them. */
function clockEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const key of ["GEOLOCK_CLOCK_SKEW_MS", "GEOLOCK_CLOCK_RATE"]) if (env[key] !== undefined) out[key] = env[key];
  return out;
}

/** Sleeps until performance.now() reaches `atMs`, or `stop` aborts. */
function sleepUntil(atMs: number, stop: AbortSignal): Promise<void> {
  const ms = Math.max(0, atMs - performance.now());
  if (stop.aborted || ms === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      stop.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stop.addEventListener("abort", done, { once: true });
  });
}
