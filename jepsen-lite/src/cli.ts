// `npm run check -- FILE --model lock|cas-register [--time-limit 10s]`: the checkers as a
// command. Kept free of process and fs so tests can run it; check-cli.ts does the I/O.

import { checkFencing, type FencingReport } from "./fencing.js";
import { describeOperation, parseHistory, type History, type HistoryError } from "./history.js";
import type { Result } from "./json.js";
import { checkLinearizability, type KeyResult, type LinearizabilityReport, type Verdict } from "./linearizability.js";
import { casRegisterModel } from "./models/cas-register.js";
import { lockModel } from "./models/lock.js";
import { checkMutualExclusion, type CriticalSection, type MutualExclusionReport } from "./mutual-exclusion.js";

export interface CliResult {
  /** 0 linearizable and no anomaly, 1 an anomaly, 2 unknown, 3 bad input or arguments. */
  readonly exitCode: 0 | 1 | 2 | 3;
  readonly stdout: string;
  readonly stderr: string;
}

export const USAGE = "usage: npm run check -- FILE --model lock|cas-register [--time-limit 10s]";

/** Failing keys printed in full; the rest are counted. */
const KEYS_SHOWN_MAX = 10;
/** Operations shown from the end of the longest linearization. */
const TAIL_SHOWN_MAX = 8;
const ANOMALIES_SHOWN_MAX = 10;

type ModelName = "lock" | "cas-register";

interface Args {
  readonly file: string;
  readonly model: ModelName;
  readonly timeLimitMs: number;
}

export function runCheckCli(argv: readonly string[], readText: (path: string) => Result<string, string>, now: () => number = () => performance.now()): CliResult {
  const args = parseArgs(argv);
  if (!args.ok) return { exitCode: 3, stdout: "", stderr: `${args.error}\n${USAGE}\n` };
  const text = readText(args.value.file);
  if (!text.ok) return { exitCode: 3, stdout: "", stderr: `cannot read ${args.value.file}: ${text.error}\n` };
  const history = parseHistory(text.value);
  if (!history.ok) return badInput(args.value.file, history.error);
  const started = now();
  const out: string[] = [];
  const verdicts = runCheckers(history.value, args.value, now, out);
  if (!verdicts.ok) return badInput(args.value.file, verdicts.error);
  const { linearizable, anomalies } = verdicts.value;
  out.unshift(`linearizable: ${linearizable}`, `model: ${args.value.model}; ${history.value.operations.length} operations checked in ${Math.round(now() - started)} ms`);
  const exitCode = linearizable === false || anomalies ? 1 : linearizable === "unknown" ? 2 : 0;
  return { exitCode, stdout: `${out.join("\n")}\n`, stderr: "" };
}

function runCheckers(history: History, args: Args, now: () => number, out: string[]): Result<{ linearizable: Verdict; anomalies: boolean }, HistoryError[]> {
  const options = { timeLimitMs: args.timeLimitMs, now };
  const report = args.model === "lock" ? checkLinearizability(history, lockModel, options) : checkLinearizability(history, casRegisterModel, options);
  if (!report.ok) return report;
  out.push(...describeLinearizability(report.value));
  if (args.model !== "lock") return { ok: true, value: { linearizable: report.value.linearizable, anomalies: false } };
  const fencing = checkFencing(history);
  if (!fencing.ok) return fencing;
  const exclusion = checkMutualExclusion(history);
  if (!exclusion.ok) return exclusion;
  out.push(...describeFencing(fencing.value), ...describeMutualExclusion(exclusion.value));
  return { ok: true, value: { linearizable: report.value.linearizable, anomalies: !fencing.value.valid || !exclusion.value.valid } };
}

function badInput(file: string, errors: readonly HistoryError[]): CliResult {
  const lines = errors.map((e) => `${file}:${e.line}: ${e.message}`);
  return { exitCode: 3, stdout: "", stderr: `bad input:\n${lines.join("\n")}\n` };
}

function parseArgs(argv: readonly string[]): Result<Args, string> {
  let file: string | null = null;
  let model: string | null = null;
  let timeLimitMs = 60_000;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--model" || arg === "--time-limit") {
      const value = argv[++i];
      if (value === undefined) return { ok: false, error: `${arg} needs a value` };
      if (arg === "--model") model = value;
      else {
        const parsed = parseDurationMs(value);
        if (parsed === null) return { ok: false, error: `--time-limit takes a duration like 500ms, 10s or 2m, got ${JSON.stringify(value)}` };
        timeLimitMs = parsed;
      }
    } else if (arg.startsWith("-")) return { ok: false, error: `unknown option ${arg}` };
    else if (file !== null) return { ok: false, error: `one history file only, got ${file} and ${arg}` };
    else file = arg;
  }
  if (file === null) return { ok: false, error: "no history file given" };
  if (model !== "lock" && model !== "cas-register") return { ok: false, error: `--model must be lock or cas-register, got ${model ?? "nothing"}` };
  return { ok: true, value: { file, model, timeLimitMs } };
}

/** "10s", "500ms", "2m", or a bare number of seconds. */
export function parseDurationMs(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (match === null) return null;
  const amount = Number(match[1]);
  const unitMs = match[2] === "ms" ? 1 : match[2] === "m" ? 60_000 : 1000;
  const ms = amount * unitMs;
  return Number.isFinite(ms) && ms > 0 ? ms : null;
}

function describeLinearizability(report: LinearizabilityReport): string[] {
  const count = (v: Verdict): number => report.keys.filter((k) => k.linearizable === v).length;
  const lines = [`keys: ${report.keys.length} (${count(true)} linearizable, ${count(false)} not linearizable, ${count("unknown")} unknown)`];
  const notOk = report.keys.filter((k) => k.linearizable !== true);
  for (const key of notOk.slice(0, KEYS_SHOWN_MAX)) lines.push(...describeKey(key));
  if (notOk.length > KEYS_SHOWN_MAX) lines.push(`... and ${notOk.length - KEYS_SHOWN_MAX} more keys not shown`);
  return lines;
}

function describeKey(key: KeyResult): string[] {
  const head = `key ${JSON.stringify(key.key)}: ${key.linearizable === false ? "not linearizable" : `unknown (${key.stop ?? "stopped"})`} (${key.operations} operations, ${key.steps} search steps)`;
  const c = key.counterexample;
  if (c === undefined) return [head];
  const tail = c.longest.slice(-TAIL_SHOWN_MAX);
  const skipped = c.longest.length - tail.length;
  return [
    head,
    `  could not place: ${describeOperation(c.blocker)}`,
    `  longest linearization found: ${c.longest.length} of ${key.operations} operations${skipped > 0 ? `, the last ${tail.length}:` : ":"}`,
    ...tail.map((op) => `    ${describeOperation(op)}`),
    `  state after it: ${c.stateAfter}`,
    "  none of these could go next:",
    ...c.candidates.map((op) => `    ${describeOperation(op)}`),
  ];
}

function describeFencing(report: FencingReport): string[] {
  const head = `fencing: ${report.valid ? "ok" : plural(report.anomalies.length, report.truncated)} (${report.grants} grants, ${report.writes} accepted writes)`;
  const lines = [head];
  for (const a of report.anomalies.slice(0, ANOMALIES_SHOWN_MAX)) {
    lines.push(`  ${a.kind} on ${JSON.stringify(a.key)}: token ${a.token} in ${describeOperation(a.op)}`, `    after token ${a.earlierToken} in ${describeOperation(a.earlier)}`);
  }
  return lines;
}

function describeMutualExclusion(report: MutualExclusionReport): string[] {
  const head = `mutual exclusion: ${report.valid ? "ok" : plural(report.anomalies.length, report.truncated)} (${report.sections} critical sections)`;
  const lines = [head];
  const section = (s: CriticalSection): string => `process ${s.process} ${s.mode} from line ${s.acquire.completeLine ?? "?"} to ${s.end === "end-of-history" ? "the end" : `line ${s.endedBy?.invokeLine ?? "?"} (${s.end})`}`;
  for (const a of report.anomalies.slice(0, ANOMALIES_SHOWN_MAX)) lines.push(`  ${JSON.stringify(a.key)} held at once: ${section(a.first)} and ${section(a.second)}`);
  return lines;
}

function plural(count: number, truncated: boolean): string {
  return `${count}${truncated ? "+" : ""} ${count === 1 && !truncated ? "anomaly" : "anomalies"}`;
}
