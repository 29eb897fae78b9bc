// The benchmark's geolock cluster refuses to report on a region that lost a node it did not
// stop: a follower gone means one fsync fewer per commit, and numbers better than the
// cluster's. A node the failover scenario kills does not count, until it is restarted.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { startGeolockCluster } from "../src/geolock-cluster.js";

const root = mkdtempSync(join(tmpdir(), "geolock-bench-cluster-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it("names a node that exited without being killed by the benchmark, and not one it killed", async () => {
  const cluster = await startGeolockCluster({ dir: join(root, "cluster"), regions: ["bench"], nodesPerRegion: 3 });
  try {
    expect(() => cluster.assertRunning()).not.toThrow();
    const [killedOnPurpose, crashed] = cluster.nodes;
    if (killedOnPurpose === undefined || crashed === undefined) throw new Error("the cluster has fewer than 2 nodes");
    await cluster.kill(killedOnPurpose);
    expect(() => cluster.assertRunning()).not.toThrow();
    crashed.process.child.kill("SIGKILL");
    await new Promise<void>((resolve) => crashed.process.child.once("exit", () => resolve()));
    expect(() => cluster.assertRunning()).toThrow(new RegExp(`^geolock bench/${crashed.id} exited during the benchmark[\\s\\S]*--- geolock bench/${crashed.id} \\(log `));
    expect(() => cluster.assertRunning()).not.toThrow(new RegExp(`geolock bench/${killedOnPurpose.id}\\b`));
  } finally {
    await cluster.stop();
  }
}, 60_000);

it("starts the node program it is given (another build's, for the ab suite), not this checkout's", async () => {
  const entry = join(root, "other-build", "dist", "node.js");
  await expect(startGeolockCluster({ dir: join(root, "other"), regions: ["bench"], nodesPerRegion: 3, entry })).rejects.toThrow(`${entry} is missing`);
});
