// `npm run jepsen -- ...`: the options of one harness run, parsed and validated up front so
// that a run never starts half-configured.

import type { Result } from "../json.js";

export type Workload = "regional" | "global" | "mixed";
export type NemesisKind = "kill" | "pause" | "partition" | "region" | "clock";
export type Target = "geolock" | "unsafe";

export const NEMESIS_KINDS: readonly NemesisKind[] = ["kill", "pause", "partition", "region", "clock"];
/** Nemeses that need a multi-node geolock topology; the unsafe server is one process. */
const GEOLOCK_ONLY_NEMESES: readonly NemesisKind[] = ["partition", "region", "clock"];

export interface HarnessOptions {
  readonly workload: Workload;
  readonly nemeses: readonly NemesisKind[];
  /** How long the workload runs, in seconds (healing, final reads and checks come on top). */
  readonly timeS: number;
  /** Client worker processes. */
  readonly concurrency: number;
  readonly seed: number;
  readonly target: Target;
  /** Node of region r (1-based) number n listens on portBase + 10 r + n. */
  readonly portBase: number;
  /** Lock names per region (and global ones) the workload uses. */
  readonly keysPerGroup: number;
  /** The client session TTL; client pauses last longer than it. */
  readonly ttlMs: number;
  /** Rates the clock nemesis may give a node's clock (1 = real time). */
  readonly clockRates: readonly number[];
  /** Where run directories go. */
  readonly runsDir: string;
  /** Wall-clock budget of the linearizability checker. */
  readonly checkTimeLimitMs: number;
}

export const DEFAULT_OPTIONS: HarnessOptions = {
  workload: "regional",
  nemeses: ["kill", "pause", "partition"],
  timeS: 60,
  concurrency: 10,
  seed: 1,
  target: "geolock",
  portBase: 19500,
  keysPerGroup: 2,
  ttlMs: 2000,
  // Within the client's 1 % drift margin, or slow: a clock running faster than that breaks
  // the lease's stated assumption by design (see README, "clock").
  clockRates: [0.5, 0.9, 1.01],
  runsDir: "jepsen-lite/runs",
  checkTimeLimitMs: 60_000,
};

export const JEPSEN_USAGE = `usage: npm run jepsen -- [--workload regional|global|mixed] [--nemesis kill,pause,partition,region,clock|none]
       [--time 60] [--concurrency 10] [--seed S] [--target geolock|unsafe] [--port-base 19500]
       [--keys 2] [--ttl-ms 2000] [--clock-rates 0.5,0.9,1.01] [--runs-dir jepsen-lite/runs] [--check-time-limit 60]`;

const LIMITS = {
  timeS: [1, 3600],
  concurrency: [1, 64],
  portBase: [1024, 65000],
  keysPerGroup: [1, 32],
  ttlMs: [500, 60_000],
  checkTimeLimitS: [1, 3600],
} as const;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export function parseJepsenArgs(argv: readonly string[]): Result<HarnessOptions, string> {
  const options: Mutable<HarnessOptions> = { ...DEFAULT_OPTIONS };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const value = argv[i + 1];
    if (value === undefined || value.startsWith("--")) return { ok: false, error: `${flag} needs a value` };
    i++;
    const applied = applyFlag(options, flag, value);
    if (applied !== null) return { ok: false, error: applied };
  }
  if (options.target === "unsafe") {
    const bad = options.nemeses.filter((n) => GEOLOCK_ONLY_NEMESES.includes(n));
    if (bad.length > 0) return { ok: false, error: `--target unsafe is one process: nemesis ${bad.join(",")} needs geolock's nodes (use kill,pause)` };
    if (options.workload !== "regional") return { ok: false, error: "--target unsafe has no global locks: use --workload regional" };
  }
  return { ok: true, value: options };
}

/** Applies one flag; returns an error message or null. */
function applyFlag(options: Mutable<HarnessOptions>, flag: string, value: string): string | null {
  switch (flag) {
    case "--workload":
      if (value !== "regional" && value !== "global" && value !== "mixed") return `--workload must be regional, global or mixed, got ${value}`;
      options.workload = value;
      return null;
    case "--nemesis":
      return parseNemeses(options, value);
    case "--target":
      if (value !== "geolock" && value !== "unsafe") return `--target must be geolock or unsafe, got ${value}`;
      options.target = value;
      return null;
    case "--seed":
      if (!/^\d{1,9}$/.test(value)) return `--seed must be an integer of at most 9 digits, got ${value}`;
      options.seed = Number(value);
      return null;
    case "--runs-dir":
      options.runsDir = value;
      return null;
    case "--clock-rates":
      return parseRates(options, value);
    default:
      return applyNumber(options, flag, value);
  }
}

function applyNumber(options: Mutable<HarnessOptions>, flag: string, value: string): string | null {
  const fields: Record<string, keyof typeof LIMITS> = {
    "--time": "timeS",
    "--concurrency": "concurrency",
    "--port-base": "portBase",
    "--keys": "keysPerGroup",
    "--ttl-ms": "ttlMs",
    "--check-time-limit": "checkTimeLimitS",
  };
  const field = fields[flag];
  if (field === undefined) return `unknown option ${flag}`;
  const n = Number(value);
  const [min, max] = LIMITS[field];
  if (!Number.isInteger(n) || n < min || n > max) return `${flag} must be an integer in [${min}, ${max}], got ${value}`;
  if (field === "checkTimeLimitS") options.checkTimeLimitMs = n * 1000;
  else options[field] = n;
  return null;
}

function parseNemeses(options: Mutable<HarnessOptions>, value: string): string | null {
  if (value === "none") {
    options.nemeses = [];
    return null;
  }
  const kinds = value.split(",").map((s) => s.trim());
  const unknown = kinds.filter((k) => !(NEMESIS_KINDS as readonly string[]).includes(k));
  if (unknown.length > 0) return `unknown nemesis ${unknown.join(",")} (known: ${NEMESIS_KINDS.join(",")}, or none)`;
  options.nemeses = [...new Set(kinds as NemesisKind[])];
  return null;
}

function parseRates(options: Mutable<HarnessOptions>, value: string): string | null {
  const rates = value.split(",").map(Number);
  if (rates.length === 0 || rates.some((r) => !Number.isFinite(r) || r <= 0 || r > 100)) return `--clock-rates takes rates in (0, 100], got ${value}`;
  options.clockRates = rates;
  return null;
}
