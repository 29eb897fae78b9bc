// The run's outcome in numbers (results.json) and its verdict: what the report shows at
// the top and what the exit code says. NOT_SUPPORTED_YET answers (global locks, not built
// yet) are counted apart: an honest refusal, never an anomaly.

import { readFileSync } from "node:fs";
import type { FencingReport } from "../fencing.js";
import type { History } from "../history.js";
import type { LinearizabilityReport, Verdict } from "../linearizability.js";
import type { MutualExclusionReport } from "../mutual-exclusion.js";
import type { WatchStreamReport } from "../watch-streams.js";
import type { NemesisEvent } from "./nemesis.js";
import type { HarnessOptions } from "./options.js";
import type { ProcessCrash } from "./processes.js";

export type RunVerdict = "valid" | "invalid" | "unknown";

export interface OutcomeCounts {
  ok: number;
  fail: number;
  info: number;
}

export interface RunSummary {
  readonly verdict: RunVerdict;
  /** 0 valid, 1 an anomaly or a crashed node, 2 unknown (a checker ran out of budget). */
  readonly exitCode: 0 | 1 | 2;
  readonly options: HarnessOptions;
  readonly runDir: string;
  readonly interrupted: boolean;
  readonly operations: number;
  readonly processes: number;
  /** Per function: ok, fail and info operations. */
  readonly outcomes: Readonly<Record<string, OutcomeCounts>>;
  /** Failure codes and how often each came back. */
  readonly errors: Readonly<Record<string, number>>;
  readonly notSupportedYet: number;
  /** Writes that reached the resource after their sender's lease may have ended. */
  readonly lateWrites: { readonly accepted: number; readonly rejected: number };
  /** Faults applied, per nemesis kind. */
  readonly faults: Readonly<Record<string, number>>;
  readonly linearizable: Verdict;
  readonly keys: { readonly total: number; readonly notLinearizable: readonly string[]; readonly unknown: readonly string[] };
  readonly fencingAnomalies: number;
  readonly mutualExclusionAnomalies: number;
  /** What the watchers were told and how much of it was wrong; null when nothing was watched (the unsafe target). */
  readonly watch: { readonly watchers: number; readonly epochs: number; readonly changes: number; readonly anomalies: number } | null;
  /** Nodes that exited without the harness stopping them: a crash is a bug even when the history is valid. */
  readonly crashes: readonly ProcessCrash[];
  readonly checkMs: number;
}

export interface SummaryChecks {
  readonly history: History;
  readonly linearizability: LinearizabilityReport;
  readonly fencing: FencingReport;
  readonly mutualExclusion: MutualExclusionReport;
  readonly watchStreams: WatchStreamReport | null;
}

export function verdictOf(checks: SummaryChecks): RunVerdict {
  const watchValid = checks.watchStreams?.valid ?? true;
  if (checks.linearizability.linearizable === false || !checks.fencing.valid || !checks.mutualExclusion.valid || !watchValid) return "invalid";
  return checks.linearizability.linearizable === "unknown" ? "unknown" : "valid";
}

export function summarize(
  options: HarnessOptions,
  runDir: string,
  checks: SummaryChecks,
  nemesis: readonly NemesisEvent[],
  lateWrites: { readonly accepted: number; readonly rejected: number },
  checkMs: number,
  interrupted: boolean,
  crashes: readonly ProcessCrash[],
): RunSummary {
  const outcomes: Record<string, OutcomeCounts> = {};
  const errors: Record<string, number> = {};
  for (const op of checks.history.operations) {
    const o = (outcomes[op.f] ??= { ok: 0, fail: 0, info: 0 });
    o[op.outcome]++;
    if (op.error !== null) errors[op.error] = (errors[op.error] ?? 0) + 1;
  }
  const faults: Record<string, number> = {};
  for (const e of nemesis) if (e.type === "start") faults[e.kind] = (faults[e.kind] ?? 0) + 1;
  const verdict = crashes.length > 0 ? "invalid" : verdictOf(checks);
  const keys = checks.linearizability.keys;
  return {
    verdict,
    exitCode: verdict === "valid" ? 0 : verdict === "invalid" ? 1 : 2,
    options,
    runDir,
    interrupted,
    operations: checks.history.operations.length,
    processes: new Set(checks.history.operations.map((op) => op.process)).size,
    outcomes,
    errors,
    notSupportedYet: errors["NOT_SUPPORTED_YET"] ?? 0,
    lateWrites: { ...lateWrites },
    faults,
    linearizable: checks.linearizability.linearizable,
    keys: { total: keys.length, notLinearizable: keys.filter((k) => k.linearizable === false).map((k) => k.key), unknown: keys.filter((k) => k.linearizable === "unknown").map((k) => k.key) },
    fencingAnomalies: checks.fencing.anomalies.length,
    mutualExclusionAnomalies: checks.mutualExclusion.anomalies.length,
    watch: checks.watchStreams === null ? null : { watchers: checks.watchStreams.watchers, epochs: checks.watchStreams.epochs, changes: checks.watchStreams.changes, anomalies: checks.watchStreams.anomalies.length },
    crashes: [...crashes],
    checkMs,
  };
}

/** "us-east/3 exited with code 1 at <time> (see <log>)": one line for the console and the report. */
export function describeCrash(crash: ProcessCrash): string {
  const how = crash.signal !== null ? `was ended by ${crash.signal}` : `exited with code ${String(crash.code)}`;
  return `${crash.name} ${how} at ${crash.at} without the harness stopping it (see ${crash.logFile})`;
}

/** nemesis.jsonl back as events (it is ours, but checked all the same). */
export function readNemesisLog(path: string): NemesisEvent[] {
  const events: NemesisEvent[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    const e = JSON.parse(line) as NemesisEvent;
    if (typeof e.time !== "number" || (e.type !== "start" && e.type !== "stop") || !Array.isArray(e.targets)) throw new Error(`bad nemesis.jsonl line: ${line}`);
    events.push(e);
  }
  return events;
}
