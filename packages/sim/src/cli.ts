// npm run sim -- --nodes 5 --seeds 1000 --start 7000 --steps 5000 [--profile P] [--verbose]
// (see cli-run.ts for what it prints and returns).

import { runCli } from "./cli-run.js";

process.exitCode = runCli(process.argv.slice(2), {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
});
