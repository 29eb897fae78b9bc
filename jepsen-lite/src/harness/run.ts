// One harness run, start to finish: cluster up (fresh data directories), client workers
// and the nemesis for the workload's time, heal everything, final reads of every key,
// stop everything, then write the history, check it and write the report. Whatever
// happens (an error, SIGINT), every process started is killed, the partition table is
// deleted and the run directory keeps the node logs.

import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { checkFencing, type FencingReport } from "../fencing.js";
import { formatHistory, historyFromEvents, type History, type HistoryEvent } from "../history.js";
import { checkLinearizability, type LinearizabilityReport } from "../linearizability.js";
import { lockModel } from "../models/lock.js";
import { checkMutualExclusion, type MutualExclusionReport } from "../mutual-exclusion.js";
import { checkWatchStreams, type WatchRecord, type WatchStreamReport } from "../watch-streams.js";
import { renderReport } from "../report/html.js";
import { connectGeolock, connectUnsafe, errorCode, type LockAdapter } from "./adapters.js";
import { Cluster, NODE_ENTRY, REGIONS, sleep, UNSAFE_ENTRY } from "./cluster.js";
import { Firewall } from "./firewall.js";
import { Nemesis, planFaults, type NemesisEvent } from "./nemesis.js";
import type { HarnessOptions } from "./options.js";
import { ProcessRegistry } from "./processes.js";
import { clockNs, type WorkerConfig } from "./protocol.js";
import { HistoryRecorder } from "./recorder.js";
import { GuardedResource } from "./resource.js";
import { Watchers } from "./watchers.js";
import { WORKER_ENTRY, WorkerPool } from "./workers.js";
import { describeCrash, readNemesisLog, summarize, type RunSummary } from "./summary.js";

const STARTUP_TIMEOUT_MS = 30_000;
const RECOVERY_TIMEOUT_MS = 30_000;
const WORKER_STOP_GRACE_MS = 15_000;
const NODE_STOP_GRACE_MS = 3_000;
const FINAL_READ_ATTEMPTS = 5;
/** The workload stops early once the history has this many events. */
const EVENTS_SOFT_MAX = 1_000_000;

export interface RunResult {
  readonly exitCode: 0 | 1 | 2 | 3 | 130;
  readonly runDir: string;
  readonly summary: RunSummary | null;
  readonly error: string | null;
}

interface RunContext {
  readonly options: HarnessOptions;
  readonly runDir: string;
  readonly origin: bigint;
  readonly registry: ProcessRegistry;
  readonly recorder: HistoryRecorder;
  readonly interrupted: AbortSignal;
  firewall: Firewall | undefined;
}

export function runDirName(seed: number, date = new Date()): string {
  return `${date.toISOString().replace(/[:.]/g, "-")}-${seed}`;
}

/** Runs the whole test; `interrupt` (SIGINT) cuts the workload short but still cleans up. */
export async function runJepsen(options: HarnessOptions, interrupt: AbortSignal, log: (line: string) => void): Promise<RunResult> {
  const runDir = resolve(options.runsDir, runDirName(options.seed));
  mkdirSync(join(runDir, "logs"), { recursive: true });
  writeFileSync(join(runDir, "options.json"), `${JSON.stringify(options, null, 2)}\n`);
  const ctx: RunContext = { options, runDir, origin: process.hrtime.bigint(), registry: new ProcessRegistry(), recorder: new HistoryRecorder(EVENTS_SOFT_MAX), interrupted: interrupt, firewall: undefined };
  const lastResort = (): void => {
    ctx.registry.killAllNow();
    ctx.firewall?.healSync();
  };
  process.once("exit", lastResort);
  try {
    return await runInside(ctx, log);
  } catch (error) {
    const message = (error as Error).message;
    log(`error: ${message}`);
    writeFileSync(join(runDir, "error.txt"), `${(error as Error).stack ?? message}\n`);
    return { exitCode: interrupt.aborted ? 130 : 3, runDir, summary: null, error: message };
  } finally {
    await ctx.firewall?.heal().catch(() => ctx.firewall?.healSync());
    await ctx.registry.killAll();
    process.removeListener("exit", lastResort);
  }
}

async function runInside(ctx: RunContext, log: (line: string) => void): Promise<RunResult> {
  const { options, runDir } = ctx;
  preflight(options);
  if (options.nemeses.includes("partition") || options.nemeses.includes("region")) {
    const fw = await Firewall.open();
    if (!fw.ok) throw new Error(fw.error);
    ctx.firewall = fw.value;
  }
  const now = (): number => clockNs(ctx.origin);
  const cluster = new Cluster(options.target, runDir, options.portBase, ctx.registry);
  cluster.startAll();
  log(`cluster: ${cluster.nodes.length} node process(es) on ${cluster.nodes.map((n) => n.host).join(", ")}`);
  if (!(await cluster.waitHealthy(STARTUP_TIMEOUT_MS, ctx.interrupted))) throw new Error(`the cluster had no leader in every region within ${STARTUP_TIMEOUT_MS} ms (see ${join(runDir, "logs")})`);

  const keys = workloadKeys(options);
  // Watched from before the first operation to after the last, through every fault.
  const watchers = options.target === "geolock" ? await Watchers.start(cluster.endpoints, keys, options.ttlMs, now) : null;
  const resource = new GuardedResource(options.target === "geolock", join(runDir, "resource.jsonl"));
  const pool = new WorkerPool(ctx.registry, ctx.recorder, resource, runDir, now);
  pool.start(workerConfigs(ctx, cluster.endpoints, keys));
  const nemesisLog = join(runDir, "nemesis.jsonl");
  writeFileSync(nemesisLog, "");
  const nemesis = new Nemesis(cluster, ctx.firewall, pool, nemesisLog, now, options.seed, options.clockRates);
  const faults = planFaults({ seed: options.seed, kinds: options.nemeses, timeMs: options.timeS * 1000, ttlMs: options.ttlMs, singleNode: options.target === "unsafe" });
  log(`workload ${options.workload} on ${keys.length} keys, ${options.concurrency} clients, ${options.timeS} s; ${faults.length} faults planned (${options.nemeses.join(",") || "none"})`);

  const stopWorkload = new AbortController();
  const stopAll = AbortSignal.any([stopWorkload.signal, ctx.interrupted]);
  const workloadStart = performance.now();
  const nemesisDone = nemesis.run(faults, workloadStart, stopAll);
  await workloadTimer(options.timeS * 1000, ctx, stopAll);
  stopWorkload.abort();
  await nemesisDone;
  await nemesis.healCurrent();
  await healAll(ctx, cluster);
  log(`healed; stopping clients (${ctx.recorder.size} events so far)`);
  await pool.stop(WORKER_STOP_GRACE_MS);
  if (!ctx.interrupted.aborted) {
    if (!(await cluster.waitHealthy(RECOVERY_TIMEOUT_MS))) log(`warning: the cluster did not recover a leader in every region within ${RECOVERY_TIMEOUT_MS} ms; final reads may fail`);
    await finalReads(ctx, cluster.endpoints, keys, now);
  }
  await watchers?.stop();
  for (const problem of watchers?.problems ?? []) log(`warning: closing a watcher: ${problem}`);
  const watchRecords = watchers === null ? null : [...watchers.records];
  if (watchRecords !== null) writeFileSync(join(runDir, "watch.jsonl"), watchRecords.map((r) => JSON.stringify(r)).join("\n") + (watchRecords.length > 0 ? "\n" : ""));
  await Promise.all(cluster.nodes.map((n) => n.process.stop(NODE_STOP_GRACE_MS)));
  if (pool.errors.length > 0) throw new Error(`the client workers broke the harness protocol: ${pool.errors.join("; ")}`);
  return finish(ctx, pool, readNemesisLog(nemesisLog), watchRecords, log);
}

function preflight(options: HarnessOptions): void {
  const needed = options.target === "geolock" ? [NODE_ENTRY, WORKER_ENTRY] : [UNSAFE_ENTRY, WORKER_ENTRY];
  const missing = needed.filter((p) => !existsSync(p));
  if (missing.length > 0) throw new Error(`missing ${missing.join(", ")}: build first (npm run build, or npx tsc -b jepsen-lite packages/server packages/client && node scripts/write-entry.mjs)`);
}

/** Waits for the workload's time, stopping early on SIGINT or a full history. */
async function workloadTimer(ms: number, ctx: RunContext, stop: AbortSignal): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end && !stop.aborted && !ctx.recorder.full) await sleep(Math.min(200, Math.max(1, end - performance.now())));
}

/** Ends every fault: no partition, nothing paused, every node running on the real clock. */
async function healAll(ctx: RunContext, cluster: Cluster): Promise<void> {
  await ctx.firewall?.heal();
  for (const node of cluster.nodes) {
    node.process.resume();
    const skewed = node.env["GEOLOCK_CLOCK_SKEW_MS"] !== undefined || node.env["GEOLOCK_CLOCK_RATE"] !== undefined;
    if (skewed) await cluster.restart(node, {});
    else if (!node.process.running) cluster.startNode(node);
  }
}

export function workloadKeys(options: HarnessOptions): string[] {
  const names = (prefix: string): string[] => Array.from({ length: options.keysPerGroup }, (_, i) => `${prefix}:k${i}`);
  if (options.target === "unsafe") return names("unsafe");
  const regional = REGIONS.flatMap((r) => names(r));
  if (options.workload === "regional") return regional;
  if (options.workload === "global") return names("global");
  return [...regional, ...names("global")];
}

function workerConfigs(ctx: RunContext, endpoints: readonly string[], keys: readonly string[]): WorkerConfig[] {
  const { options } = ctx;
  return Array.from({ length: options.concurrency }, (_, index) => ({
    index,
    target: options.target,
    endpoints,
    region: options.target === "geolock" ? (REGIONS[index % REGIONS.length] as string) : "unsafe",
    keys,
    seed: options.seed,
    ttlMs: options.ttlMs,
    originNs: ctx.origin.toString(),
  }));
}

/** After healing: the status of every key, each read under its own process. */
async function finalReads(ctx: RunContext, endpoints: readonly string[], keys: readonly string[], now: () => number): Promise<void> {
  const settings = { endpoints, region: REGIONS[0], ttlMs: ctx.options.ttlMs, owner: "final-reads" };
  let adapter: LockAdapter;
  try {
    adapter = ctx.options.target === "geolock" ? await connectGeolock(settings) : await connectUnsafe(settings);
  } catch (error) {
    throw new Error(`final reads: cannot connect to the healed cluster: ${errorCode(error)}`);
  }
  try {
    // A global key's status is a region's applied view, not a linearizable read (as in the workers).
    for (const key of keys.filter((k) => !k.startsWith("global:"))) await finalRead(ctx, adapter, key, now);
  } finally {
    await adapter.close();
  }
}

async function finalRead(ctx: RunContext, adapter: LockAdapter, key: string, now: () => number): Promise<void> {
  const process = ctx.recorder.newProcess();
  for (let attempt = 1; attempt <= FINAL_READ_ATTEMPTS; attempt++) {
    ctx.recorder.push({ process, type: "invoke", f: "status", key, value: null, time: now() });
    try {
      const s = await adapter.status(key);
      ctx.recorder.push({ process, type: "ok", f: "status", key, value: { holder: s.holder, token: s.token }, time: now() });
      return;
    } catch (error) {
      const code = errorCode(error);
      ctx.recorder.push({ process, type: "fail", f: "status", key, value: null, time: now(), error: code });
      // Retrying cannot help these.
      if (code === "NOT_SUPPORTED_YET" || code === "INVALID_NAME" || code === "INVALID_ARGUMENT") return;
      await sleep(500);
    }
  }
}

export interface Checks {
  readonly history: History;
  readonly linearizability: LinearizabilityReport;
  readonly fencing: FencingReport;
  readonly mutualExclusion: MutualExclusionReport;
  readonly watchStreams: WatchStreamReport | null;
}

function check(ctx: RunContext, events: readonly HistoryEvent[], watchRecords: readonly WatchRecord[] | null): Checks {
  const parsed = historyFromEvents(events);
  if (!parsed.ok) throw new Error(`the recorded history is malformed (a harness bug): ${parsed.error.map((e) => `event ${e.line}: ${e.message}`).join("; ")}`);
  const history = parsed.value;
  const linearizability = checkLinearizability(history, lockModel, { timeLimitMs: ctx.options.checkTimeLimitMs });
  const fencing = checkFencing(history);
  const mutualExclusion = checkMutualExclusion(history);
  if (!linearizability.ok || !fencing.ok || !mutualExclusion.ok) throw new Error("the checkers refused the recorded history (a harness bug)");
  const watchStreams = watchRecords === null ? null : checkWatchStreams(history, watchRecords);
  return { history, linearizability: linearizability.value, fencing: fencing.value, mutualExclusion: mutualExclusion.value, watchStreams };
}

function finish(ctx: RunContext, pool: WorkerPool, nemesis: readonly NemesisEvent[], watchRecords: readonly WatchRecord[] | null, log: (line: string) => void): RunResult {
  const events = ctx.recorder.sorted();
  writeFileSync(join(ctx.runDir, "history.jsonl"), formatHistory(events));
  const checkStart = performance.now();
  const checks = check(ctx, events, watchRecords);
  const summary = summarize(ctx.options, ctx.runDir, checks, nemesis, pool.late, Math.round(performance.now() - checkStart), ctx.interrupted.aborted, ctx.registry.crashes);
  writeFileSync(join(ctx.runDir, "results.json"), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(ctx.runDir, "report.html"), renderReport({ summary, checks, nemesis }));
  log(`${summary.operations} operations; linearizable: ${String(summary.linearizable)}; fencing anomalies: ${summary.fencingAnomalies}; mutual exclusion anomalies: ${summary.mutualExclusionAnomalies}; ${summary.watch === null ? "" : `watch stream anomalies: ${summary.watch.anomalies} (${summary.watch.changes} changes told to ${summary.watch.watchers} watchers); `}late writes accepted ${summary.lateWrites.accepted}, rejected ${summary.lateWrites.rejected}`);
  for (const crash of summary.crashes) log(`crash: ${describeCrash(crash)}`);
  log(`verdict: ${summary.verdict}; report: ${join(ctx.runDir, "report.html")}`);
  return { exitCode: ctx.interrupted.aborted ? 130 : summary.exitCode, runDir: ctx.runDir, summary, error: null };
}
