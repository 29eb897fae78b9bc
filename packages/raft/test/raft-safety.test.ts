// Randomized safety check: seeded schedules of ticks, proposals, reads, partitions,
// restarts, message drops, leadership transfers, compactions and membership changes on a
// five-node group. After every step: at most one leader per term (election safety), and
// every applied entry agrees across nodes (state machine safety, checked by the network).
// A failure prints the seed and the shrunk schedule.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Raft, SeededRng, asNodeId } from "../src/index.js";
import type { Index, Term } from "../src/index.js";
import { Network, bytes } from "./helpers/network.js";

type Action =
  | { kind: "tick"; count: number }
  | { kind: "propose" }
  | { kind: "read" }
  | { kind: "partition"; cut: number[] }
  | { kind: "heal" }
  | { kind: "restart"; id: number }
  | { kind: "lossy"; percent: number }
  | { kind: "transfer"; to: number }
  | { kind: "compact" }
  | { kind: "learnerToggle" };

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("tick" as const), count: fc.integer({ min: 1, max: 8 }) }) },
  { weight: 4, arbitrary: fc.constant({ kind: "propose" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "read" as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("partition" as const), cut: fc.uniqueArray(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 2 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "heal" as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("restart" as const), id: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("lossy" as const), percent: fc.integer({ min: 0, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("transfer" as const), to: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "compact" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "learnerToggle" as const }) },
);

/** A voter that ignores the up-to-date rule: a candidate missing committed entries can win. */
class CarelessVoterRaft extends Raft {
  protected override isLogUpToDate(_lastIndex: Index, _lastTerm: Term): boolean {
    return true;
  }
}

function run(seed: number, actions: readonly Action[]): void {
  const net = new Network({ voters: [1, 2, 3, 4, 5], seed, config: { snapshotChunkBytes: 64, maxInflightAppends: 8 } });
  net.addNode(asNodeId(6));
  const rng = new SeededRng(seed);
  const leaders = new Map<number, number>();
  let proposals = 0;
  let learnerAdded = false;
  for (const a of actions) {
    const leader = net.leader();
    switch (a.kind) {
      case "tick":
        net.tickAll(a.count);
        break;
      case "propose":
        if (leader !== undefined) net.propose(leader.id, `p${proposals++}`);
        break;
      case "read":
        leader?.node.readIndex(bytes(`r${proposals}-${rng.nextInt(1e9)}`));
        break;
      case "partition":
        net.heal();
        net.partition(a.cut, [1, 2, 3, 4, 5, 6].filter((id) => !a.cut.includes(id)));
        break;
      case "heal":
        net.heal();
        break;
      case "restart":
        net.restart(a.id);
        break;
      case "lossy":
        net.dropIf = (): boolean => rng.nextInt(100) < a.percent;
        break;
      case "transfer":
        leader?.node.transferLeader(asNodeId(a.to));
        break;
      case "compact":
        if (leader !== undefined && leader.appliedIndex > leader.storage.snapshot().metadata.index) net.compact(leader.id);
        break;
      case "learnerToggle":
        if (leader === undefined) break;
        if (leader.node.proposeConfChange({ type: learnerAdded ? "removeNode" : "addLearner", nodeId: asNodeId(6) }).ok) learnerAdded = !learnerAdded;
        break;
    }
    net.flush();
    for (const t of net.nodes.values()) {
      const s = t.node.status();
      if (s.role !== "leader") continue;
      const seen = leaders.get(s.term);
      if (seen !== undefined && seen !== t.id) throw new Error(`election safety: ${seen} and ${t.id} both lead term ${s.term}`);
      leaders.set(s.term, t.id);
    }
  }
  // Liveness once the faults stop: a leader emerges and a proposal commits everywhere.
  net.heal();
  net.tickAll(60);
  const leader = net.electLeader(400);
  const last = `final-${seed}`;
  net.propose(leader.id, last);
  net.tickAll(30);
  for (const id of [1, 2, 3, 4, 5]) expect(net.get(id).applied.at(-1)).toBe(last);
}

describe("safety under random faults", () => {
  it("keeps election safety and state machine safety, and recovers once faults stop (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), fc.array(action, { minLength: 10, maxLength: 120 }), (seed, actions) => {
        run(seed, actions);
      }),
      { numRuns: 40 },
    );
  });

  it("detects a voter that ignores the up-to-date rule (the checks can fail)", () => {
    const net = new Network({ voters: [1, 2, 3], config: { checkQuorum: false }, createRaft: (c) => new CarelessVoterRaft(c) });
    net.campaign(1);
    net.isolate(3);
    for (let i = 0; i < 3; i++) net.propose(1, `c${i}`);
    net.flush();
    expect(net.get(2).applied).toEqual(["c0", "c1", "c2"]);
    net.heal();
    net.isolate(1);
    // Node 3 lacks committed entries, yet node 2 votes for it; its no-op then overwrites them.
    expect(() => net.campaign(3)).toThrow(/leader completeness|committed|state machine safety/);
  });
});
