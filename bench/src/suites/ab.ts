// This build against another built checkout of geolock (--base DIR), with the repeats of the
// two interleaved as in versus: the way to measure one change on a machine whose speed drifts
// by a third over minutes and wobbles from one 5 s window to the next. Many short windows
// taken side by side resolve what a few long ones cannot: on the project machine, 30 pairs of
// 1 s windows of one commit against a clone of it read paired ratios of 1.00 (c=1), 0.98
// (c=64) and 0.99 (contended) (results/2026-11-27-ab.md), while the c=64 windows of either
// ranged from 4.9k to 11k cycles/s.
//
//   git clone . /tmp/base && git -C /tmp/base checkout <ref>
//   (cd /tmp/base && npm ci && npm run build)
//   npm run bench -- ab --base /tmp/base --repeats 30 --warmup 0.2 --measure 1
//
// Both clusters (3 nodes, one region, fsync on) stay up for the whole run, and each is driven
// by its own build's client library, so a change to either side is measured. Scenarios: the
// lock cycle of versus at c = 1 and 64 (try-lock acquire + release, workers sharing one
// connection), the c = 64 cycle with a connection per worker (as independent processes
// would hold them), and 16 workers contending FIFO on one name. The row of this build carries
// pairedOpsRatio and pairedP50Ratio (the medians over the pairs of this build's value over
// the base's) and pairsWon (pairs in which this build did more operations per second).

import { execFileSync } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { ConnectOptions, GeolockClient } from "@geolock/client";
import { startGeolockCluster, type GeolockCluster } from "../geolock-cluster.js";
import { measurePreparedInterleaved, type PreparedScenario } from "../scenario.js";
import type { BenchOptions, BenchSuite, ScenarioResult } from "../suite.js";
import { prepareContended, prepareLockCycle, REGION, THIS_BUILD, type ClientBuild } from "./geolock.js";
import { pairedRatio } from "./versus.js";

/** This build's client library, named so in the progress lines and the results alike. */
const CURRENT_BUILD: ClientBuild = { ...THIS_BUILD, system: "geolock (this build)" };

const USAGE = "the ab suite needs --base DIR, a built checkout of geolock: npm run bench -- ab --base DIR --repeats 30 --warmup 0.2 --measure 1";

export interface BaseBuild {
  readonly entry: string;
  readonly client: ClientBuild;
}

/** The node program and client library of the checkout at `dir`, which must be built. */
export async function loadBaseBuild(dir: string): Promise<BaseBuild> {
  const root = resolve(dir);
  const entry = join(root, "dist", "node.js");
  const clientEntry = join(root, "packages", "client", "dist", "index.js");
  for (const file of [entry, clientEntry]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: build the base checkout first (npm ci && npm run build in ${root})`);
  }
  const module: unknown = await import(pathToFileURL(clientEntry).href);
  const client = typeof module === "object" && module !== null ? (module as { GeolockClient?: unknown }).GeolockClient : undefined;
  const connect = typeof client === "function" ? (client as { connect?: unknown }).connect : undefined;
  if (typeof connect !== "function") throw new Error(`${clientEntry} exports no GeolockClient.connect`);
  // The base's GeolockClient is another copy of the same class: its instances have this build's API.
  const connectBase = (options: ConnectOptions): Promise<GeolockClient> => (connect as (o: ConnectOptions) => Promise<GeolockClient>).call(client, options);
  return { entry, client: { system: `geolock base ${describeCheckout(root)}`, connect: connectBase } };
}

/**
 * The checkout's commit (and "+changes" if its tree differs from it), or its folder's name
 * when it is not the top of a git work tree (a folder inside another repository is not that
 * repository's commit).
 */
function describeCheckout(root: string): string {
  const git = (...args: string[]): string => execFileSync("git", ["-C", root, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  try {
    if (realpathSync(git("rev-parse", "--show-toplevel")) !== realpathSync(root)) return basename(root);
    const commit = git("rev-parse", "--short", "HEAD");
    return git("status", "--porcelain", "--untracked-files=no") === "" ? commit : `${commit}+changes`;
  } catch {
    return basename(root);
  }
}

type Prepare = (cluster: GeolockCluster, build: ClientBuild) => Promise<PreparedScenario>;

const SCENARIOS: readonly Prepare[] = [
  (cluster, build) => prepareLockCycle(cluster, 1, "leader", "shared", build),
  (cluster, build) => prepareLockCycle(cluster, 64, "leader", "shared", build),
  (cluster, build) => prepareLockCycle(cluster, 64, "leader", "own", build),
  (cluster, build) => prepareContended(cluster, build),
];

/** This build's row with the paired ratios against the base's, then the base's row. */
export function compareRows(current: ScenarioResult, base: ScenarioResult): ScenarioResult[] {
  const a = current.runs ?? [];
  const b = base.runs ?? [];
  const extra: Record<string, number | string> = { ...current.extra };
  const ops = pairedRatio(a, b, (run) => run.opsPerSecond);
  const p50 = pairedRatio(a, b, (run) => run.p50Ms);
  if (ops !== undefined) extra["pairedOpsRatio"] = ops;
  if (p50 !== undefined) extra["pairedP50Ratio"] = p50;
  let won = 0;
  const pairs = Math.min(a.length, b.length);
  for (let i = 0; i < pairs; i++) if ((a[i]?.opsPerSecond ?? 0) > (b[i]?.opsPerSecond ?? 0)) won += 1;
  extra["pairsWon"] = `${won} of ${pairs}`;
  return [{ ...current, extra }, base];
}

async function measurePair(options: BenchOptions, clusters: { current: GeolockCluster; base: GeolockCluster }, baseClient: ClientBuild, prepare: Prepare): Promise<ScenarioResult[]> {
  const [current, base] = await measurePreparedInterleaved(
    options,
    () => prepare(clusters.current, CURRENT_BUILD),
    () => prepare(clusters.base, baseClient),
  );
  return compareRows(current, base);
}

export const suite: BenchSuite = {
  name: "ab",
  description:
    "This build against another built checkout (--base DIR), both 3-node clusters up at once, repeats interleaved: " +
    "lock cycle c = 1 and 64 (and 64 with a connection per worker), contended; paired ratios of this build over the base",
  async run(options: BenchOptions): Promise<ScenarioResult[]> {
    if (options.baseDir === undefined) throw new Error(USAGE);
    const base = await loadBaseBuild(options.baseDir);
    const current = await startGeolockCluster({ dir: join(options.scratchDir, "current"), regions: [REGION], nodesPerRegion: 3 });
    try {
      const baseCluster = await startGeolockCluster({ dir: join(options.scratchDir, "base"), regions: [REGION], nodesPerRegion: 3, entry: base.entry });
      try {
        const clusters = { current, base: baseCluster };
        await Promise.all([current.leader(REGION), baseCluster.leader(REGION)]);
        const results: ScenarioResult[] = [];
        for (const prepare of SCENARIOS) {
          results.push(...(await measurePair(options, clusters, base.client, prepare)));
          current.assertRunning();
          baseCluster.assertRunning();
        }
        return results;
      } finally {
        await baseCluster.stop();
      }
    } finally {
      await current.stop();
    }
  },
};
