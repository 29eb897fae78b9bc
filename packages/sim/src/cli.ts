// npm run sim -- --nodes 5 --seeds 1000 --start 7000 --steps 5000 [--profile P] [--verbose]
//
// Runs seeds start..start+seeds-1, prints each failing seed with its violation and the
// command that replays it alone, and ends with exactly one line "seeds: N, violations: V".
// Exit status 1 when V > 0, 2 on bad arguments.

import { PROFILES } from "./config.js";
import type { Profile } from "./config.js";
import { replayCommand } from "./replay.js";
import { runSimulation } from "./simulation.js";
import type { SimResult } from "./simulation.js";

interface CliArgs {
  readonly nodes: number;
  readonly seeds: number;
  readonly start: number;
  readonly steps: number;
  readonly profile: Profile;
  readonly verbose: boolean;
}

const USAGE = `usage: sim [--nodes N] [--seeds COUNT] [--start SEED] [--steps EVENTS] [--profile ${PROFILES.join("|")}] [--verbose]`;

export function parseArgs(argv: readonly string[]): CliArgs {
  const values: Record<string, number> = { nodes: 3, seeds: 100, start: 1, steps: 5000 };
  let verbose = false;
  let profile: Profile = "mixed";
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--verbose") {
      verbose = true;
      continue;
    }
    if (arg === "--profile") {
      const value = PROFILES.find((p) => p === argv[i + 1]);
      if (value === undefined) throw new Error(`bad argument --profile ${argv[i + 1] ?? ""}\n${USAGE}`);
      profile = value;
      i += 1;
      continue;
    }
    const name = arg.startsWith("--") ? arg.slice(2) : "";
    const value = Number(argv[i + 1]);
    if (!(name in values) || !Number.isSafeInteger(value) || value < 0) throw new Error(`bad argument ${arg} ${argv[i + 1] ?? ""}\n${USAGE}`);
    values[name] = value;
    i += 1;
  }
  const args = { nodes: values.nodes as number, seeds: values.seeds as number, start: values.start as number, steps: values.steps as number, profile, verbose };
  if (args.nodes < 1 || args.nodes > 9) throw new Error(`--nodes must be 1..9\n${USAGE}`);
  return args;
}

function report(result: SimResult, args: CliArgs): void {
  const v = result.violation;
  if (v === undefined) return;
  console.log(`seed ${result.seed} FAILED: ${v.invariant} at step ${v.step} (${(v.timeUs / 1000).toFixed(3)}ms virtual, ${v.phase} phase)`);
  console.log(`  ${v.detail.split("\n").join("\n  ")}`);
  if (!args.verbose) {
    console.log("  last events:");
    for (const line of result.recentTrace.slice(-20)) console.log(`    ${line}`);
  }
  console.log(`  replay: ${replayCommand(result.seed, args.nodes, args.steps, args.profile)}`);
}

function main(argv: readonly string[]): number {
  let args: CliArgs;
  try {
    args = parseArgs(argv);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 2;
  }
  let violations = 0;
  for (let seed = args.start; seed < args.start + args.seeds; seed++) {
    const result = runSimulation({
      seed,
      nodes: args.nodes,
      steps: args.steps,
      profile: args.profile,
      ...(args.verbose ? { traceSink: (line: string) => console.log(line) } : {}),
    });
    if (result.violation !== undefined) violations += 1;
    report(result, args);
    if (args.verbose) console.log(`seed ${seed}: trace ${result.traceHash}, ${result.steps} events, ${JSON.stringify(result.stats)}`);
  }
  console.log(`seeds: ${args.seeds}, violations: ${violations}`);
  return violations > 0 ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
