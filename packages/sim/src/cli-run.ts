// What `npm run sim` does, apart from the process it runs in (so that tests can run it with
// a broken core and read its output): run seeds start..start+seeds-1, print each failing
// seed with its violation, its last events and the command that replays it alone, and end
// with exactly one line "seeds: N, violations: V". Returns the exit status: 1 when V > 0,
// 2 on bad arguments.

import type { Raft, RaftConfig } from "@geolock/raft";
import { parseArgs } from "./cli-args.js";
import type { CliArgs } from "./cli-args.js";
import { replayCommand } from "./replay.js";
import { runSimulation } from "./simulation.js";
import type { SimResult } from "./simulation.js";

export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

/** Trace lines shown with a failure when the run is not verbose. */
const FAILURE_CONTEXT_LINES = 20;

export function runCli(argv: readonly string[], output: CliOutput, createRaft?: (config: RaftConfig) => Raft): number {
  let args: CliArgs;
  try {
    args = parseArgs(argv);
  } catch (error) {
    output.err(error instanceof Error ? error.message : String(error));
    return 2;
  }
  let violations = 0;
  for (let seed = args.start; seed < args.start + args.seeds; seed++) {
    const result = runSimulation({
      seed,
      nodes: args.nodes,
      steps: args.steps,
      profile: args.profile,
      app: args.app,
      ...(createRaft !== undefined ? { createRaft } : {}),
      ...(args.verbose ? { traceSink: (line: string) => output.out(line) } : {}),
    });
    if (result.violation !== undefined) violations += 1;
    report(result, args, output);
    if (args.verbose) output.out(`seed ${seed}: trace ${result.traceHash}, ${result.steps} events, ${JSON.stringify(result.stats)}`);
  }
  output.out(`seeds: ${args.seeds}, violations: ${violations}`);
  return violations > 0 ? 1 : 0;
}

function report(result: SimResult, args: CliArgs, output: CliOutput): void {
  const v = result.violation;
  if (v === undefined) return;
  output.out(`seed ${result.seed} FAILED: ${v.invariant} at step ${v.step} (${(v.timeUs / 1000).toFixed(3)}ms virtual, ${v.phase} phase)`);
  output.out(`  ${v.detail.split("\n").join("\n  ")}`);
  if (!args.verbose) {
    output.out("  last events:");
    for (const line of result.recentTrace.slice(-FAILURE_CONTEXT_LINES)) output.out(`    ${line}`);
  }
  output.out(`  replay: ${replayCommand(result.seed, args.nodes, args.steps, args.profile, args.app)}`);
}
