// Scenarios from the Raft paper and thesis, told as stories on the in-test network:
// Figure 8 (commitment from previous terms), pre-vote against a disruptive rejoiner,
// check-quorum deposing a leader cut off in a minority, a far-behind follower caught up by
// a chunked snapshot, a learner promoted and the old leader removed, and a leadership
// transfer while proposals keep arriving.

import { describe, expect, it } from "vitest";
import { Raft, asIndex, asNodeId } from "../src/index.js";
import type { Message, RaftConfig } from "../src/index.js";
import { ELECTION_TICKS, Network, bytes } from "./helpers/network.js";

const termAt = (net: Network, id: number, index: number): number => net.get(id).storage.term(asIndex(index));

/** Figure 8 up to (c): S1 (term 3) has replicated its term-1 entry at index 2 onto a majority. */
function figure8UpToC(createRaft?: (config: RaftConfig) => Raft): Network {
  // Classic Raft for the figure: no leases or pre-vote, one entry per append message.
  const config = { checkQuorum: false, preVote: false, maxAppendBytes: 1 };
  const net = new Network({ voters: [1, 2, 3, 4, 5], config, ...(createRaft !== undefined ? { createRaft } : {}) });
  net.campaign(1); // term 1, its no-op at index 1 committed everywhere
  expect(net.get(1).node.status().commit).toBe(1);
  // (a) S1 replicates "a" (index 2, term 1) to S2 only.
  net.partition([1, 2], [3, 4, 5]);
  expect(net.propose(1, "a")).toMatchObject({ ok: true, index: 2, term: 1 });
  net.flush();
  expect(termAt(net, 2, 2)).toBe(1);
  // (b) S1 crashes; S5 is elected in term 2 by S3, S4, S5 and appends its no-op at index 2 locally only.
  net.heal();
  net.restart(1);
  net.isolate(1);
  net.dropIf = (m) => m.from === 5 && m.type === "append";
  net.campaign(5);
  expect(net.get(5).node.status().term).toBe(2);
  expect(termAt(net, 5, 2)).toBe(2);
  // (c) S5 crashes; S1 comes back, is elected in term 3 and replicates index 2 to S3, but
  // its own term-3 no-op (index 3) reaches nobody.
  net.heal();
  net.restart(5);
  net.isolate(5);
  // Appends carrying the no-op are dropped wherever they would be accepted (a probe that
  // is bound to be rejected still goes through, so S3 can be backtracked to index 2).
  net.dropIf = (m) =>
    m.type === "append" && m.entries.some((e) => e.term === 3) && net.get(m.to).storage.lastIndex() >= m.prevLogIndex;
  net.campaign(1);
  net.tickAll(3, [1]);
  expect(net.get(1).node.status().term).toBe(3);
  expect([1, 2, 3].map((id) => termAt(net, id, 2))).toEqual([1, 1, 1]);
  return net;
}

describe("Raft paper, Figure 8", () => {
  it("does not commit a previous-term entry stored on a majority, and a later leader overwrites it", () => {
    const net = figure8UpToC();
    // Index 2 is on S1, S2, S3 (a majority), yet counting replicas may not commit it.
    expect(net.get(1).node.status().commit).toBe(1);
    // (d) S1 crashes; S5 (last term 2) wins with S2, S3, S4 and overwrites index 2 everywhere.
    net.heal();
    net.restart(1);
    net.isolate(1);
    net.campaign(5);
    net.tickAll(3, [2, 3, 4, 5]);
    expect([2, 3, 4, 5].map((id) => termAt(net, id, 2))).toEqual([2, 2, 2, 2]);
    expect(net.get(5).node.status().commit).toBeGreaterThanOrEqual(3);
    for (const id of [2, 3, 4, 5]) expect(net.get(id).applied).not.toContain("a");
  });

  it("commits the previous-term entry once an entry of the current term is on a majority", () => {
    const net = figure8UpToC();
    // (e) S1's term-3 no-op now reaches S2 and S3: index 3 commits, and index 2 with it.
    net.dropIf = undefined;
    net.tickAll(3, [1, 2, 3]);
    expect(net.get(1).node.status().commit).toBeGreaterThanOrEqual(3);
    for (const id of [1, 2, 3]) expect(net.get(id).applied).toEqual(["a"]);
    // S5 can no longer win: S2 and S3 hold a newer last term than its log.
    net.heal();
    net.restart(1);
    net.isolate(1);
    for (let i = 0; i < 6 * ELECTION_TICKS; i++) {
      net.tick(5);
      net.flush();
    }
    expect(net.get(5).node.status().role).not.toBe("leader");
  });
});

/** The bug Figure 8 warns about: committing by counting replicas of any term. */
class CountingAnyTermRaft extends Raft {
  protected override maybeCommit(): boolean {
    const index = this.tracker.committedIndex();
    if (index <= this.log.committed) return false;
    this.log.commitTo(index);
    return true;
  }
}

describe("Raft paper, Figure 8, with the commitment rule broken", () => {
  it("loses an applied entry: the scenario detects the bug", () => {
    const net = figure8UpToC((c) => new CountingAnyTermRaft(c));
    // The broken leader committed index 2 by counting, and applied "a".
    expect(net.get(1).node.status().commit).toBe(2);
    net.heal();
    net.restart(1);
    net.isolate(1);
    expect(() => {
      net.campaign(5);
      net.tickAll(3, [2, 3, 4, 5]);
    }).toThrow(/state machine safety/);
  });
});

describe("Raft thesis, pre-vote and check-quorum", () => {
  it("a partitioned node that rejoins does not depose a healthy leader (pre-vote)", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const leader = net.campaign(1);
    const term = leader.node.status().term;
    net.isolate(3);
    net.tickAll(10 * ELECTION_TICKS);
    // The isolated node kept campaigning in pre-vote and never bumped its term.
    expect(net.get(3).node.status().term).toBe(term);
    net.heal();
    net.tickAll(3 * ELECTION_TICKS);
    expect(net.leader()?.id).toBe(1);
    expect(leader.node.status().term).toBe(term);
    expect(net.get(3).node.status().leader).toBe(1);
  });

  it("without pre-vote or leases the same rejoining node does depose the leader", () => {
    const net = new Network({ voters: [1, 2, 3], config: { preVote: false, checkQuorum: false } });
    const leader = net.campaign(1);
    const term = leader.node.status().term;
    net.isolate(3);
    net.tickAll(10 * ELECTION_TICKS);
    expect(net.get(3).node.status().term).toBeGreaterThan(term);
    net.heal();
    net.tickAll(3 * ELECTION_TICKS);
    expect(leader.node.status().term).toBeGreaterThan(term);
  });

  it("a leader cut off in a minority steps down and never confirms a read", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const old = net.campaign(1);
    net.isolate(1);
    expect(old.node.readIndex(bytes("r1"))).toEqual({ ok: true });
    net.tickAll(2 * ELECTION_TICKS, [1]);
    expect(old.node.status().role).toBe("follower");
    // Meanwhile the majority elects a leader and commits a write.
    const fresh = net.electLeader(200, [2, 3]);
    expect(net.propose(fresh.id, "w")).toMatchObject({ ok: true });
    net.flush();
    expect(old.readStates).toEqual([]);
    expect(old.node.readIndex(bytes("r2"))).toMatchObject({ ok: false, reason: "notLeader" });
    net.heal();
    net.tickAll(3 * ELECTION_TICKS);
    expect(old.applied).toEqual(["w"]);
    expect(old.readStates).toEqual([]);
  });
});

describe("Raft thesis, snapshots, membership and transfer", () => {
  it("a follower far behind catches up by a chunked snapshot, then by appends", () => {
    const net = new Network({ voters: [1, 2, 3], config: { snapshotChunkBytes: 64 } });
    const leader = net.campaign(1);
    net.isolate(3);
    for (let i = 0; i < 40; i++) expect(net.propose(1, `v${i}`).ok).toBe(true);
    net.flush();
    net.compact(1);
    expect(leader.storage.firstIndex()).toBeGreaterThan(40);
    net.heal();
    const sentBefore = net.sent.length;
    net.tickAll(3 * ELECTION_TICKS);
    const chunks = net.sent.slice(sentBefore).filter((m): m is Extract<Message, { type: "snapshot" }> => m.type === "snapshot" && m.to === 3);
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.map((c) => c.offset)).toEqual(chunks.map((_, i) => i * 64));
    expect(net.get(3).applied).toEqual(leader.applied);
    expect(net.get(3).storage.snapshot().metadata.index).toBe(leader.storage.snapshot().metadata.index);
    expect(net.propose(1, "after")).toMatchObject({ ok: true });
    net.tickAll(2);
    expect(net.get(3).applied.at(-1)).toBe("after");
    const pr = leader.node.status().progress.find((p) => p.id === 3);
    expect(pr?.state).toBe("replicate");
  });

  it("a learner is added, catches up, is promoted, and the old leader is removed", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const leader = net.campaign(1);
    for (let i = 0; i < 5; i++) net.propose(1, `v${i}`);
    net.flush();
    const learner = net.addNode(asNodeId(4));
    expect(leader.node.proposeConfChange({ type: "addLearner", nodeId: asNodeId(4) })).toMatchObject({ ok: true });
    net.tickAll(3);
    expect(learner.applied).toEqual(leader.applied);
    expect(learner.node.status().isLearner).toBe(true);
    expect(leader.node.confState()).toEqual({ voters: [1, 2, 3], learners: [4] });
    // A learner never campaigns, however long it waits.
    net.isolate(4);
    net.tickAll(5 * ELECTION_TICKS, [4]);
    expect(net.sent.some((m) => m.from === 4 && (m.type === "preVote" || m.type === "vote"))).toBe(false);
    net.heal();
    expect(leader.node.proposeConfChange({ type: "addVoter", nodeId: asNodeId(4) })).toMatchObject({ ok: true });
    net.tickAll(3);
    expect(learner.node.confState()).toEqual({ voters: [1, 2, 3, 4], learners: [] });
    expect(leader.node.proposeConfChange({ type: "removeNode", nodeId: asNodeId(1) })).toMatchObject({ ok: true });
    net.tickAll(3);
    expect(leader.node.status().role).toBe("follower");
    expect(net.get(2).node.confState().voters).toEqual([2, 3, 4]);
    const next = net.electLeader(300, [2, 3, 4]);
    expect(net.propose(next.id, "after")).toMatchObject({ ok: true });
    net.tickAll(3, [2, 3, 4]);
    for (const id of [2, 3, 4]) expect(net.get(id).applied.at(-1)).toBe("after");
    // The removed node never campaigns again.
    const before = net.sent.length;
    net.tickAll(5 * ELECTION_TICKS, [1]);
    expect(net.sent.slice(before).some((m) => m.from === 1 && (m.type === "preVote" || m.type === "vote"))).toBe(false);
  });

  it("transfers leadership under load without losing a committed entry", () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    const accepted: { index: number; term: number; payload: string }[] = [];
    const refusals = new Set<string>();
    let transferred = false;
    for (let i = 0; i < 60; i++) {
      const leader = net.leader();
      if (leader !== undefined) {
        const payload = `p${i}`;
        const r = net.propose(leader.id, payload);
        if (r.ok) accepted.push({ index: r.index, term: r.term, payload });
        else refusals.add(r.reason);
      }
      if (i === 20) {
        expect(net.get(1).node.transferLeader(asNodeId(2))).toEqual({ ok: true });
        transferred = true;
      }
      net.tickAll(1);
    }
    expect(transferred).toBe(true);
    expect(net.leader()?.id).toBe(2);
    net.tickAll(3);
    // Every accepted proposal of the leader that stayed leader is applied everywhere.
    const applied = net.get(1).applied;
    for (const id of [2, 3]) expect(net.get(id).applied).toEqual(applied);
    for (const a of accepted) {
      if (applied.includes(a.payload)) continue;
      // Only a proposal the old leader accepted in its last moments may be lost, never a committed one.
      expect(a.term).toBe(net.get(1).node.status().term - 1);
    }
    expect(accepted.filter((a) => a.index <= 21).every((a) => applied.includes(a.payload))).toBe(true);
    const lastOnNew = accepted.filter((a) => a.term === net.get(2).node.status().term);
    expect(lastOnNew.length).toBeGreaterThan(10);
    for (const a of lastOnNew) expect(applied).toContain(a.payload);
  });
});
