// npm run sim -- --nodes 5 --seeds 1000 --start 7000 --steps 5000 [--profile P] [--verbose]
//
// Runs seeds start..start+seeds-1, prints each failing seed with its violation and the
// command that replays it alone, and ends with exactly one line "seeds: N, violations: V".
// Exit status 1 when V > 0, 2 on bad arguments.

import { parseArgs } from "./cli-args.js";
import type { CliArgs } from "./cli-args.js";
import { replayCommand } from "./replay.js";
import { runSimulation } from "./simulation.js";
import type { SimResult } from "./simulation.js";

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
