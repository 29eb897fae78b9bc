#!/usr/bin/env node
// Entry point of `npm run jepsen`: parses the options, runs the harness (harness/run.ts)
// and exits 0 (valid), 1 (an anomaly), 2 (unknown: a checker ran out of budget), 3 (the
// run could not be made: bad options, missing build, no nft, a cluster that never came
// up) or 130 (interrupted). A first SIGINT stops the run and cleans up; a second one
// kills what is left at once.

import { JEPSEN_USAGE, parseJepsenArgs } from "./harness/options.js";
import { runJepsen } from "./harness/run.js";

const parsed = parseJepsenArgs(process.argv.slice(2));
if (!parsed.ok) {
  process.stderr.write(`${parsed.error}\n${JEPSEN_USAGE}\n`);
  process.exit(3);
}

const interrupt = new AbortController();
const onSignal = (signal: NodeJS.Signals): void => {
  if (interrupt.signal.aborted) process.exit(130); // the "exit" handler kills and heals
  process.stderr.write(`jepsen: ${signal}: stopping the run and cleaning up (again to force)\n`);
  interrupt.abort();
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

const log = (line: string): void => void process.stdout.write(`jepsen: ${line}\n`);
const result = await runJepsen(parsed.value, interrupt.signal, log);
log(`run directory: ${result.runDir}`);
process.exitCode = result.exitCode;
