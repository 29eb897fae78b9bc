// `npm run bench -- [suite ...] [--quick] [--repeats N] [--measure S] [--warmup S] [--note TEXT]`
//
// Runs the named suites (all when none is named) one after the other, prints each suite's
// table, and writes bench/results/<YYYY-MM-DD>-<suite>.md and .json (with "-quick" before the
// extension for --quick smoke runs, so they never overwrite a real baseline; a second run of a
// suite on the same day is "-2", and so on, so it never overwrites the first). Each suite gets
// a fresh scratch directory under the OS temp dir, removed afterwards and on SIGINT. A failed
// suite is reported and the others still run; the exit code is then 1.

import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, USAGE, type RunArgs } from "./args.js";
import { removeDirOnInterrupt } from "./processes.js";
import { localDate, machineInfo, noiseSample, reportMarkdown, resultName, resultTable, type SuiteReport } from "./report.js";
import type { BenchSuite } from "./suite.js";
import { suite as abSuite } from "./suites/ab.js";
import { suite as checkerSuite } from "./suites/checker.js";
import { suite as etcdSuite } from "./suites/etcd.js";
import { suite as floorSuite } from "./suites/floor.js";
import { suite as geolockGlobalSuite } from "./suites/geolock-global.js";
import { suite as geolockSuite } from "./suites/geolock.js";
import { suite as lockPathSuite } from "./suites/lock-path.js";
import { suite as raftInProcessSuite } from "./suites/raft-inprocess.js";
import { suite as redisSuite } from "./suites/redis.js";
import { suite as versusSuite } from "./suites/versus.js";

/** Every suite, in the order `npm run bench` without names runs them. */
export const SUITES: readonly BenchSuite[] = [raftInProcessSuite, lockPathSuite, checkerSuite, floorSuite, geolockSuite, geolockGlobalSuite, etcdSuite, redisSuite, versusSuite];
/** Suites that run only when named: ab compares with a checkout given by --base. */
const NAMED_ONLY_SUITES: readonly BenchSuite[] = [abSuite];

const RESULTS_DIR = fileURLToPath(new URL("../results/", import.meta.url));

function selectSuites(names: readonly string[]): BenchSuite[] {
  if (names.length === 0) return [...SUITES];
  const known = [...SUITES, ...NAMED_ONLY_SUITES];
  return names.map((name) => {
    const found = known.find((s) => s.name === name);
    if (found === undefined) {
      throw new Error(`unknown suite "${name}"; known: ${known.map((s) => s.name).join(", ")}\n${USAGE}`);
    }
    return found;
  });
}

/** The command as a person would type it again. */
function commandLine(argv: readonly string[]): string {
  const quoted = argv.map((a) => (/^[\w./=:-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(" ");
  if (process.env["npm_lifecycle_event"] === "bench") return `npm run bench -- ${quoted}`.trimEnd();
  const script = relative(process.cwd(), fileURLToPath(import.meta.url));
  return `node ${script} ${quoted}`.trimEnd();
}

async function runSuite(suite: BenchSuite, args: RunArgs, command: string): Promise<SuiteReport> {
  const started = new Date();
  const machine = machineInfo();
  const noiseStart = noiseSample();
  const scratchDir = mkdtempSync(join(tmpdir(), `geolock-bench-${suite.name}-`));
  const unregister = removeDirOnInterrupt(scratchDir);
  try {
    const options = { ...args, scratchDir };
    const results = await suite.run(options);
    return {
      suite: suite.name,
      description: suite.description,
      date: localDate(started),
      startedAt: started.toISOString(),
      durationSeconds: (Date.now() - started.getTime()) / 1000,
      command,
      machine,
      noise: { start: noiseStart, end: noiseSample() },
      settings: { repeats: args.repeats, warmupSeconds: args.warmupSeconds, measureSeconds: args.measureSeconds, quick: args.quick },
      note: args.note,
      systems: [...new Set(results.map((r) => r.system))],
      results,
    };
  } finally {
    rmSync(scratchDir, { recursive: true, force: true });
    unregister();
  }
}

function writeReport(report: SuiteReport): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const base = join(RESULTS_DIR, resultName(report.date, report.suite, report.settings.quick, (name) => existsSync(join(RESULTS_DIR, `${name}.md`))));
  writeFileSync(`${base}.md`, reportMarkdown(report));
  writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  return base;
}

async function main(argv: readonly string[]): Promise<number> {
  let args: RunArgs;
  let suites: BenchSuite[];
  try {
    args = parseArgs(argv);
    suites = selectSuites(args.suites);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const command = commandLine(argv);
  let failures = 0;
  for (const suite of suites) {
    process.stderr.write(`bench: suite ${suite.name}: ${suite.description}\n`);
    try {
      const report = await runSuite(suite, args, command);
      const base = writeReport(report);
      process.stdout.write(`\n## ${suite.name}\n\n${resultTable(report.results)}\n\nwritten: ${base}.md, .json\n`);
    } catch (err) {
      failures += 1;
      process.stderr.write(`bench: suite ${suite.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
  }
  return failures === 0 ? 0 : 1;
}

/** How long a finished run may wait for leftover handles (sockets, timers) before exiting. */
const EXIT_GRACE_MS = 5_000;

process.exitCode = await main(process.argv.slice(2));
// Every suite closes what it opened; should a handle still leak, do not hang the shell.
setTimeout(() => {
  process.stderr.write("bench: handles still open after the run; exiting anyway\n");
  process.exit();
}, EXIT_GRACE_MS).unref();
