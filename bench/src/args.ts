// Command line of `npm run bench -- [suite ...] [--quick] [--repeats N] [--measure S]
// [--warmup S] [--note TEXT] [--base DIR]`. Defaults are BASELINES.md's method: 3 repeats of 1 s warm-up
// plus a 5 s window. --quick is for smoke runs: 1 repeat of 0.2 s + 1 s, unless overridden.

export interface RunArgs {
  /** Suites to run in this order; empty means all. */
  readonly suites: readonly string[];
  readonly quick: boolean;
  readonly repeats: number;
  readonly warmupSeconds: number;
  readonly measureSeconds: number;
  /** Free text written into every result file, e.g. "machine shared with running tests". */
  readonly note: string | undefined;
  /** The built checkout the `ab` suite compares this build with. */
  readonly baseDir: string | undefined;
}

export const USAGE =
  "usage: npm run bench -- [suite ...] [--quick] [--repeats N] [--measure S] [--warmup S] [--note TEXT] [--base DIR]";

const LIMITS = {
  repeats: { min: 1, max: 100 },
  warmupSeconds: { min: 0, max: 600 },
  measureSeconds: { min: 0.01, max: 3600 },
} as const;

function numberFlag(flag: string, raw: string | undefined, limit: { min: number; max: number }): number {
  const value = Number(raw);
  if (raw === undefined || !Number.isFinite(value) || value < limit.min || value > limit.max) {
    throw new Error(`${flag} needs a number in [${limit.min}, ${limit.max}], got ${String(raw)}\n${USAGE}`);
  }
  return value;
}

/** Parses the arguments after `run.js`; throws an Error carrying USAGE on anything unknown. */
export function parseArgs(argv: readonly string[]): RunArgs {
  const suites: string[] = [];
  let quick = false;
  let repeats: number | undefined;
  let warmupSeconds: number | undefined;
  let measureSeconds: number | undefined;
  let note: string | undefined;
  let baseDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--quick") quick = true;
    else if (arg === "--repeats") repeats = numberFlag(arg, argv[++i], LIMITS.repeats);
    else if (arg === "--warmup") warmupSeconds = numberFlag(arg, argv[++i], LIMITS.warmupSeconds);
    else if (arg === "--measure") measureSeconds = numberFlag(arg, argv[++i], LIMITS.measureSeconds);
    else if (arg === "--note") note = argv[++i];
    else if (arg === "--base") baseDir = argv[++i];
    else if (arg.startsWith("-")) throw new Error(`unknown option ${arg}\n${USAGE}`);
    else suites.push(arg);
  }
  if (repeats !== undefined && !Number.isInteger(repeats)) throw new Error(`--repeats must be whole\n${USAGE}`);
  if (argv.includes("--note") && note === undefined) throw new Error(`--note needs a text\n${USAGE}`);
  if (argv.includes("--base") && (baseDir === undefined || baseDir === "")) throw new Error(`--base needs a directory\n${USAGE}`);
  // Caught here rather than when the ab suite's turn comes, after the suites before it ran.
  if (suites.includes("ab") && baseDir === undefined) throw new Error(`the ab suite needs --base DIR, a built checkout to compare with\n${USAGE}`);
  if (baseDir !== undefined && !suites.includes("ab")) throw new Error(`--base is for the ab suite only; name it\n${USAGE}`);
  return {
    suites,
    quick,
    repeats: repeats ?? (quick ? 1 : 3),
    warmupSeconds: warmupSeconds ?? (quick ? 0.2 : 1),
    measureSeconds: measureSeconds ?? (quick ? 1 : 5),
    note,
    baseDir,
  };
}
