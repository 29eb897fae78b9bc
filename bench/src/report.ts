// Result records: what machine and command produced a suite's numbers, and the numbers, as a
// console table and as bench/results/<YYYY-MM-DD>-<suite>.md and .json. The JSON keeps every
// field (each repeat too) for later comparison; the Markdown is for people.

import { readFileSync } from "node:fs";
import { cpus, freemem, loadavg, release, totalmem } from "node:os";
import type { ScenarioResult } from "./suite.js";

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly freeMemoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  /** 1, 5 and 15 minute load averages when the suite started: a high one means noise. */
  readonly loadAverage: readonly number[];
}

/**
 * How busy the machine was, sampled when a suite starts and ends. Pressure is Linux PSI
 * ("some avg60": % of the last minute in which some task waited for CPU or for I/O);
 * undefined where /proc/pressure is not available.
 */
export interface NoiseSample {
  readonly loadAverage1m: number;
  readonly cpuPressurePct: number | undefined;
  readonly ioPressurePct: number | undefined;
}

export interface SuiteReport {
  readonly suite: string;
  readonly description: string;
  /** Local date of the run, YYYY-MM-DD, also the file name prefix. */
  readonly date: string;
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly command: string;
  readonly machine: MachineInfo;
  readonly noise: { readonly start: NoiseSample; readonly end: NoiseSample };
  readonly settings: { readonly repeats: number; readonly warmupSeconds: number; readonly measureSeconds: number; readonly quick: boolean };
  readonly note: string | undefined;
  /** Distinct `system` values of the results, e.g. ["etcd 3.4.23"]. */
  readonly systems: readonly string[];
  readonly results: readonly ScenarioResult[];
}

const GIB = 1024 ** 3;

export function machineInfo(): MachineInfo {
  const cpu = cpus();
  return {
    cpuModel: cpu[0]?.model.trim() ?? "unknown",
    cores: cpu.length,
    memoryGiB: round(totalmem() / GIB, 1),
    freeMemoryGiB: round(freemem() / GIB, 1),
    kernel: release(),
    node: process.version,
    loadAverage: loadavg().map((l) => round(l, 2)),
  };
}

function pressurePct(resource: "cpu" | "io"): number | undefined {
  try {
    const match = /^some .*avg60=([\d.]+)/m.exec(readFileSync(`/proc/pressure/${resource}`, "utf8"));
    return match?.[1] === undefined ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

export function noiseSample(): NoiseSample {
  return {
    loadAverage1m: round(loadavg()[0] ?? 0, 2),
    cpuPressurePct: pressurePct("cpu"),
    ioPressurePct: pressurePct("io"),
  };
}

function formatNoise(n: NoiseSample): string {
  const pct = (x: number | undefined): string => (x === undefined ? "n/a" : `${x} %`);
  return `load ${n.loadAverage1m}, CPU pressure ${pct(n.cpuPressurePct)}, I/O pressure ${pct(n.ioPressurePct)}`;
}

/** YYYY-MM-DD in local time. */
export function localDate(d: Date): string {
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Bound on same-day runs of one suite; past it the last name is reused. */
const RUNS_PER_DAY_MAX = 99;

/**
 * The file name (without extension) of a suite's results: "<date>-<suite>", "-quick" for a
 * smoke run, and "-2", "-3", ... for a later run of the same day, so that no run overwrites
 * the record of an earlier one. `taken` says whether a name is already used.
 */
export function resultName(date: string, suite: string, quick: boolean, taken: (name: string) => boolean): string {
  const stem = `${date}-${suite}${quick ? "-quick" : ""}`;
  // Smoke runs are scratch output (git-ignored): the newest replaces the last.
  if (quick || !taken(stem)) return stem;
  for (let run = 2; run < RUNS_PER_DAY_MAX; run++) {
    const name = `${stem}-${run}`;
    if (!taken(name)) return name;
  }
  return `${stem}-${RUNS_PER_DAY_MAX}`;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Fixed significant figures, so 0.39 ms and 213 ms both read well; "" when absent. */
export function formatNumber(x: number | undefined): string {
  if (x === undefined) return "";
  if (x >= 100) return Math.round(x).toLocaleString("en-US");
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

function formatExtra(extra: ScenarioResult["extra"]): string {
  if (extra === undefined) return "";
  return Object.entries(extra)
    .map(([k, v]) => `${k}=${typeof v === "number" ? formatNumber(v) : v}`)
    .join(" ");
}

const HEADER = ["scenario", "system", "c", "ops/s", "p50 ms", "p99 ms", "p99.9 ms", "repeats ops/s", "extra"];

function row(r: ScenarioResult): string[] {
  return [
    r.scenario,
    r.system,
    r.concurrency === undefined ? "" : String(r.concurrency),
    formatNumber(r.opsPerSecond),
    formatNumber(r.p50Ms),
    formatNumber(r.p99Ms),
    formatNumber(r.p999Ms),
    (r.runs ?? []).map((s) => formatNumber(s.opsPerSecond)).join(" / "),
    formatExtra(r.extra),
  ];
}

/** A Markdown table of results, also readable on a console. */
export function resultTable(results: readonly ScenarioResult[]): string {
  const lines = [HEADER, HEADER.map(() => "---"), ...results.map(row)];
  return lines.map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

export function reportMarkdown(r: SuiteReport): string {
  const m = r.machine;
  const s = r.settings;
  const lines = [
    `# Benchmark \`${r.suite}\`, ${r.date}`,
    "",
    r.description,
    "",
    `- command: \`${r.command}\``,
    `- started: ${r.startedAt}, took ${Math.round(r.durationSeconds)} s`,
    `- machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB (${m.freeMemoryGiB} free), ` +
      `Linux ${m.kernel}, Node ${m.node}, load average at start ${m.loadAverage.join(" / ")}`,
    `- busy: at start ${formatNoise(r.noise.start)}; at end ${formatNoise(r.noise.end)} ` +
      "(pressure = % of the last minute some task waited for CPU / disk: high means noisy numbers)",
    `- systems: ${r.systems.join(", ")}`,
    `- method: ${s.repeats} repeat(s) of ${s.warmupSeconds} s warm-up + ${s.measureSeconds} s closed-loop window; ` +
      `ops/s, p50, p99 and p99.9 are medians over the repeats${s.quick ? " (QUICK smoke run, not a baseline)" : ""}`,
    ...(r.note === undefined ? [] : [`- note: ${r.note}`]),
    "",
    resultTable(r.results),
    "",
  ];
  return lines.join("\n");
}
