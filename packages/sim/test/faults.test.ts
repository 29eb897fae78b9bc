// The fault scheduler picks faults that fit the cluster as it is: crashes up to a bound,
// aimed at the leader or at a node in the middle of an fsync when so configured; the three
// kinds of partition; and membership changes one node at a time, never below a majority.

import { describe, expect, it } from "vitest";
import { SeededRng, asNodeId } from "@geolock/raft";
import type { ConfState, NodeId } from "@geolock/raft";
import { chooseFault, paramsForSeed } from "../src/index.js";
import type { ClusterView, FaultAction, FaultConfig } from "../src/index.js";

const ids = (...n: number[]): NodeId[] => n.map(asNodeId);

function view(nodes: number, options: { down?: number[]; syncing?: number[]; leader?: number; conf?: ConfState } = {}): ClusterView {
  const all = ids(...Array.from({ length: nodes }, (_, i) => i + 1));
  const conf = options.conf ?? { voters: all, learners: [] };
  return {
    nodeIds: all,
    isUp: (id) => !(options.down ?? []).includes(id),
    hasPendingWrite: (id) => (options.syncing ?? []).includes(id),
    leader: () => (options.leader === undefined ? undefined : { id: asNodeId(options.leader), conf }),
  };
}

const BASE: FaultConfig = { ...paramsForSeed(1, 5).faults, crashWeight: 0, partitionWeight: 0, healWeight: 0, transferWeight: 0, membershipWeight: 0 };

function draws(config: Partial<FaultConfig>, cluster: ClusterView, count = 200): FaultAction[] {
  const rng = new SeededRng(11);
  return Array.from({ length: count }, () => chooseFault(cluster, { ...BASE, ...config }, rng));
}

describe("chooseFault", () => {
  it("does nothing when every weight is zero", () => {
    expect(new Set(draws({}, view(3)).map((a) => a.kind))).toEqual(new Set(["none"]));
  });

  it("crashes only nodes that are up, and no more than downNodesMax at once", () => {
    const crashes = draws({ crashWeight: 1, downNodesMax: 2, leaderTargetProbability: 0, crashDuringFsyncProbability: 0 }, view(3, { down: [2] }));
    const nodes = new Set(crashes.map((a) => (a.kind === "crash" ? a.node : 0)));
    expect(nodes).toEqual(new Set([1, 3]));
    expect(draws({ crashWeight: 1, downNodesMax: 1 }, view(3, { down: [2] })).every((a) => a.kind === "none")).toBe(true);
  });

  it("aims crashes at the leader, or at a node waiting for its fsync, when configured to", () => {
    const atLeader = draws({ crashWeight: 1, leaderTargetProbability: 1 }, view(5, { leader: 4 }));
    expect(atLeader.every((a) => a.kind === "crash" && a.node === 4)).toBe(true);
    const atSyncing = draws({ crashWeight: 1, leaderTargetProbability: 0, crashDuringFsyncProbability: 1 }, view(5, { syncing: [2] }));
    expect(atSyncing.every((a) => a.kind === "crash" && a.node === 2)).toBe(true);
  });

  it("draws isolations, minority/majority splits and bridges that cover every node once", () => {
    const partitions = draws({ partitionWeight: 1 }, view(5)).flatMap((a) => (a.kind === "partition" ? [a.partition] : []));
    expect(new Set(partitions.map((p) => p.kind))).toEqual(new Set(["isolate", "split", "bridge"]));
    for (const p of partitions) {
      const covered = [...p.left, ...p.right, ...(p.bridge === undefined ? [] : [p.bridge])].sort();
      expect(covered).toEqual(ids(1, 2, 3, 4, 5));
      if (p.kind === "isolate") expect(p.left).toHaveLength(1);
      if (p.kind === "split") expect(p.left.length).toBeLessThan(p.right.length);
      if (p.kind === "bridge") expect(p.left.length > 0 && p.right.length > 0).toBe(true);
    }
  });

  it("puts the leader on the minority side when aiming at it", () => {
    const partitions = draws({ partitionWeight: 1, leaderTargetProbability: 1 }, view(5, { leader: 3 })).flatMap((a) =>
      a.kind === "partition" && a.partition.kind !== "bridge" ? [a.partition] : [],
    );
    expect(partitions.length).toBeGreaterThan(0);
    expect(partitions.every((p) => p.left.includes(asNodeId(3)))).toBe(true);
  });

  it("transfers leadership only from a leader to another voter", () => {
    expect(draws({ transferWeight: 1 }, view(3)).every((a) => a.kind === "none")).toBe(true);
    const transfers = draws({ transferWeight: 1 }, view(3, { leader: 1 }));
    expect(new Set(transfers.map((a) => (a.kind === "transfer" ? a.to : 0)))).toEqual(new Set([2, 3]));
  });

  it("changes membership one step at a time: remove a voter, re-add it as a learner, promote it", () => {
    const kinds = (conf: ConfState): Set<string> =>
      new Set(draws({ membershipWeight: 1 }, view(3, { leader: 1, conf })).map((a) => (a.kind === "confChange" ? `${a.change.type} ${a.change.nodeId}` : a.kind)));
    expect(kinds({ voters: ids(1, 2, 3), learners: [] })).toEqual(new Set(["removeNode 1", "removeNode 2", "removeNode 3"]));
    // Two voters of three nodes is the floor: only re-adding is possible.
    expect(kinds({ voters: ids(1, 2), learners: [] })).toEqual(new Set(["addLearner 3"]));
    expect(kinds({ voters: ids(1, 2), learners: ids(3) })).toEqual(new Set(["addVoter 3"]));
  });
});
