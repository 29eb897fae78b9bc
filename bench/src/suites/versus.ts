// geolock against etcd 3.4 on this machine, scenario by scenario, with the repeats of the two
// interleaved (geolock etcd, etcd geolock, geolock etcd). The machine's speed drifts by a
// third over minutes; run one suite after the other and the ratio partly measures the drift.
// Here both clusters stay up for the whole run (the idle one costs a few % of a core, the
// same for both) and each ratio comes from repeats taken minutes, not tens of minutes, apart.
//
// Pairs, each the same scenario the standalone suites measure (geolock.ts, etcd.ts):
// - region write (one Raft write per op) against etcd put 256 B, c = 1/16/64/256;
// - lock cycle (try-lock acquire + release) against etcd's lease+txn cycle, c = 1/16/64/256;
// - 16 workers contending on one name against etcd's v3lock.
// The geolock row of each pair carries the ratios: etcdOpsRatio (geolock ops/s over etcd's)
// and etcdP50Ratio (geolock p50 over etcd's), each a ratio of the two medians; and
// pairedOpsRatio and pairedP50Ratio, the medians of the ratios of the repeats run side by
// side (repeat i of one against repeat i of the other). When the machine drifts during a
// pair, the two medians may come from different phases; the paired ratios do not.

import { join } from "node:path";
import { EtcdClient } from "../etcd-client.js";
import { startEtcdCluster } from "../etcd-cluster.js";
import { startGeolockCluster } from "../geolock-cluster.js";
import { BASELINE_CONCURRENCIES, measurePreparedInterleaved, median, type PreparedScenario } from "../scenario.js";
import type { BenchOptions, BenchSuite, ScenarioResult } from "../suite.js";
import { prepareContendedV3lock, prepareLockTxn, preparePut } from "./etcd.js";
import { prepareContended, prepareLockCycle, prepareRegionWrite, REGION } from "./geolock.js";

interface Pair {
  readonly geolock: () => Promise<PreparedScenario>;
  readonly etcd: () => Promise<PreparedScenario>;
}

/** The ratio to two decimals, so the table reads 7.52 rather than 7.5178. */
function ratio(numerator: number, denominator: number): number {
  return Math.round((numerator / denominator) * 100) / 100;
}

/**
 * The median of `pick(a[i]) / pick(b[i])` over the repeats both have, to two decimals. A pair
 * whose denominator is not a positive number (a repeat that completed nothing) has no ratio.
 */
export function pairedRatio<T>(a: readonly T[], b: readonly T[], pick: (run: T) => number): number | undefined {
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const denominator = pick(b[i] as T);
    if (denominator > 0 && Number.isFinite(denominator)) ratios.push(pick(a[i] as T) / denominator);
  }
  return ratios.length === 0 ? undefined : Math.round(median(ratios) * 100) / 100;
}

async function measurePair(options: BenchOptions, pair: Pair): Promise<ScenarioResult[]> {
  const [g, e] = await measurePreparedInterleaved(options, pair.geolock, pair.etcd);
  const ratios: Record<string, number> = { etcdOpsRatio: ratio(g.opsPerSecond, e.opsPerSecond) };
  if (g.p50Ms !== undefined && e.p50Ms !== undefined) ratios["etcdP50Ratio"] = ratio(g.p50Ms, e.p50Ms);
  const pairedOps = pairedRatio(g.runs ?? [], e.runs ?? [], (run) => run.opsPerSecond);
  const pairedP50 = pairedRatio(g.runs ?? [], e.runs ?? [], (run) => run.p50Ms);
  if (pairedOps !== undefined) ratios["pairedOpsRatio"] = pairedOps;
  if (pairedP50 !== undefined) ratios["pairedP50Ratio"] = pairedP50;
  return [{ ...g, extra: { ...g.extra, ...ratios } }, e];
}

export const suite: BenchSuite = {
  name: "versus",
  description:
    "geolock 3-node region against etcd 3.4 3-member cluster, both up at once, repeats interleaved: writes, lock cycles, contended lock; ratios on the geolock rows",
  async run(options: BenchOptions): Promise<ScenarioResult[]> {
    const cluster = await startGeolockCluster({ dir: join(options.scratchDir, "geolock"), regions: [REGION], nodesPerRegion: 3 });
    try {
      const etcd = await startEtcdCluster({ dir: join(options.scratchDir, "etcd") });
      const client = new EtcdClient(etcd.endpoints);
      try {
        const pairs: Pair[] = [
          ...BASELINE_CONCURRENCIES.map((c) => ({
            geolock: () => prepareRegionWrite(cluster, c),
            etcd: () => Promise.resolve(preparePut(client, etcd.version, c)),
          })),
          ...BASELINE_CONCURRENCIES.map((c) => ({
            geolock: () => prepareLockCycle(cluster, c),
            etcd: () => prepareLockTxn(client, options, etcd.version, c),
          })),
          { geolock: () => prepareContended(cluster), etcd: () => prepareContendedV3lock(client, options, etcd.version) },
        ];
        const results: ScenarioResult[] = [];
        for (const pair of pairs) {
          const measured = await measurePair(options, pair);
          cluster.assertRunning();
          etcd.assertRunning();
          results.push(...measured);
        }
        return results;
      } finally {
        client.close();
        await etcd.stop();
      }
    } finally {
      await cluster.stop();
    }
  },
};
