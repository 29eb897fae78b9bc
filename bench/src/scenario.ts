// Repeats one closed-loop scenario as BenchOptions asks and reduces the repeats to medians,
// the way BASELINES.md reports every number (median of 3 runs). Medians are taken per
// metric, so the p99 reported is the median of the repeats' p99s.

import { runClosedLoop, type LoadResult, type Operation } from "./load.js";
import type { BenchOptions, RunSample, ScenarioResult } from "./suite.js";

export interface ScenarioSpec {
  readonly scenario: string;
  readonly system: string;
  readonly concurrency: number;
  readonly op: Operation;
  /** Bound on measured operations per repeat; generous by default (no real system is near it). */
  readonly maxOps?: number;
  /** Extra columns derived from the repeats, e.g. fairness; numbers are medians of repeats. */
  readonly extra?: (runs: readonly LoadResult[]) => Readonly<Record<string, number | string>>;
}

const DEFAULT_MAX_OPS = 5_000_000;

/** The client concurrencies every baseline in BASELINES.md is measured at. */
export const BASELINE_CONCURRENCIES = [1, 16, 64, 256] as const;

/** The median of a non-empty list (mean of the two middle values for an even length). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of an empty list");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const hi = sorted[mid] as number;
  return sorted.length % 2 === 1 ? hi : ((sorted[mid - 1] as number) + hi) / 2;
}

/**
 * A scenario set up and ready to be measured (clients connected, leases granted): the load
 * to run, and how to release what the setup took once every repeat has run.
 */
export interface PreparedScenario {
  readonly spec: ScenarioSpec;
  dispose(): Promise<void>;
}

/** Runs `spec` options.repeats times and reports medians; logs each repeat to stderr. */
export async function measureScenario(options: BenchOptions, spec: ScenarioSpec): Promise<ScenarioResult> {
  const runs: LoadResult[] = [];
  for (let i = 0; i < options.repeats; i++) runs.push(await runRepeat(options, spec, i));
  return reduceRuns(spec, runs);
}

/** measureScenario on a prepared scenario, which is disposed of afterwards (also on failure). */
export async function measurePrepared(options: BenchOptions, prepared: PreparedScenario): Promise<ScenarioResult> {
  try {
    return await measureScenario(options, prepared.spec);
  } finally {
    await prepared.dispose();
  }
}

/**
 * Measures two scenarios with their repeats interleaved (a b, b a, a b, ...), so that on a
 * machine whose speed drifts over minutes both see the same phases and their ratio means
 * something. Each is reduced to medians as measureScenario does.
 */
export async function measureInterleaved(options: BenchOptions, a: ScenarioSpec, b: ScenarioSpec): Promise<[ScenarioResult, ScenarioResult]> {
  const runsA: LoadResult[] = [];
  const runsB: LoadResult[] = [];
  for (let i = 0; i < options.repeats; i++) {
    if (i % 2 === 0) {
      runsA.push(await runRepeat(options, a, i));
      runsB.push(await runRepeat(options, b, i));
    } else {
      runsB.push(await runRepeat(options, b, i));
      runsA.push(await runRepeat(options, a, i));
    }
  }
  return [reduceRuns(a, runsA), reduceRuns(b, runsB)];
}

/**
 * Prepares `a`, then `b`, measures them with measureInterleaved, and disposes of both, also
 * when preparing or measuring fails.
 */
export async function measurePreparedInterleaved(
  options: BenchOptions,
  prepareA: () => Promise<PreparedScenario>,
  prepareB: () => Promise<PreparedScenario>,
): Promise<[ScenarioResult, ScenarioResult]> {
  const a = await prepareA();
  try {
    const b = await prepareB();
    try {
      return await measureInterleaved(options, a.spec, b.spec);
    } finally {
      await b.dispose();
    }
  } finally {
    await a.dispose();
  }
}

async function runRepeat(options: BenchOptions, spec: ScenarioSpec, index: number): Promise<LoadResult> {
  const r = await runClosedLoop({
    concurrency: spec.concurrency,
    warmupMs: options.warmupSeconds * 1000,
    measureMs: options.measureSeconds * 1000,
    maxOps: spec.maxOps ?? DEFAULT_MAX_OPS,
    op: spec.op,
  });
  process.stderr.write(
    `  ${spec.scenario} (${spec.system}) c=${spec.concurrency} run ${index + 1}/${options.repeats}: ` +
      `${r.opsPerSecond.toFixed(0)} ops/s p50 ${r.latency.p50Ms.toFixed(2)} ms ` +
      `p99 ${r.latency.p99Ms.toFixed(2)} ms${r.errors > 0 ? ` errors ${r.errors}` : ""}\n`,
  );
  return r;
}

function reduceRuns(spec: ScenarioSpec, runs: readonly LoadResult[]): ScenarioResult {
  const samples: RunSample[] = runs.map((r) => ({
    opsPerSecond: r.opsPerSecond,
    p50Ms: r.latency.p50Ms,
    p99Ms: r.latency.p99Ms,
  }));
  const errors = runs.reduce((sum, r) => sum + r.errors, 0);
  const unfinished = Math.max(...runs.map((r) => r.unfinishedWorkers));
  return {
    scenario: spec.scenario,
    system: spec.system,
    concurrency: spec.concurrency,
    opsPerSecond: median(samples.map((s) => s.opsPerSecond)),
    p50Ms: median(samples.map((s) => s.p50Ms)),
    p99Ms: median(samples.map((s) => s.p99Ms)),
    p999Ms: median(runs.map((r) => r.latency.p999Ms)),
    runs: samples,
    extra: {
      maxMs: median(runs.map((r) => r.latency.maxMs)),
      ...(errors > 0 ? { errors } : {}),
      ...(unfinished > 0 ? { unfinishedWorkers: unfinished } : {}),
      ...(spec.extra ? spec.extra(runs) : {}),
    },
  };
}

/** Fairness columns for contended scenarios: Jain's index and min-max operations per worker. */
export function fairnessExtra(runs: readonly LoadResult[]): Record<string, number | string> {
  const byJain = [...runs].sort((a, b) => a.fairness.jain - b.fairness.jain);
  const mid = byJain[Math.floor(byJain.length / 2)];
  if (mid === undefined) throw new Error("fairness of zero runs");
  return {
    jain: Number(mid.fairness.jain.toFixed(3)),
    perClientMinMax: `${mid.fairness.min}-${mid.fairness.max}`,
  };
}
