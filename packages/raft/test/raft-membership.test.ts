// Membership changes: one at a time, not before the leader's no-op is applied, taking
// effect when applied, learners that never vote or count, and restarts that rebuild the
// membership from the snapshot plus the re-applied log.

import { describe, expect, it } from "vitest";
import { MemoryStorage, RawNode, SeededRng, asNodeId } from "../src/index.js";
import { ELECTION_TICKS, Network } from "./helpers/network.js";

const n = asNodeId;

describe("membership", () => {
  it("refuses a second change while the first is not applied", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const leader = net.campaign(1);
    net.addNode(n(4));
    expect(leader.node.proposeConfChange({ type: "addLearner", nodeId: n(4) }).ok).toBe(true);
    expect(leader.node.proposeConfChange({ type: "addLearner", nodeId: n(5) })).toMatchObject({ ok: false, reason: "confChangePending" });
    net.flush();
    expect(leader.node.proposeConfChange({ type: "addVoter", nodeId: n(4) }).ok).toBe(true);
  });

  it("a new leader may not propose a change until its no-op is applied", () => {
    const storage = new MemoryStorage({ voters: [n(1)], learners: [] });
    const node = new RawNode({ id: n(1), storage, rng: new SeededRng(3), electionTicks: ELECTION_TICKS, heartbeatTicks: 1 });
    for (let i = 0; i < 2 * ELECTION_TICKS && node.status().role !== "leader"; i++) node.tick();
    expect(node.status().role).toBe("leader");
    expect(node.proposeConfChange({ type: "addLearner", nodeId: n(2) })).toMatchObject({ ok: false, reason: "confChangePending" });
    // The no-op becomes durable (and so committed), then applied: only then may a change come.
    for (let i = 0; i < 2; i++) {
      const rd = node.ready();
      storage.append(rd.entries);
      if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
      node.advance();
      if (i === 0) expect(node.proposeConfChange({ type: "addLearner", nodeId: n(2) })).toMatchObject({ ok: false, reason: "confChangePending" });
    }
    expect(node.proposeConfChange({ type: "addLearner", nodeId: n(2) }).ok).toBe(true);
  });

  it("refuses changes that do not apply to the membership", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const leader = net.campaign(1);
    expect(leader.node.proposeConfChange({ type: "addVoter", nodeId: n(2) })).toMatchObject({ ok: false, reason: "invalid" });
    expect(leader.node.proposeConfChange({ type: "removeNode", nodeId: n(9) })).toMatchObject({ ok: false, reason: "invalid" });
    expect(net.get(2).node.proposeConfChange({ type: "addLearner", nodeId: n(4) })).toMatchObject({ ok: false, reason: "notLeader" });
  });

  it("a change takes effect when its entry is applied, not when it is proposed", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const leader = net.campaign(1);
    net.addNode(n(4));
    leader.node.proposeConfChange({ type: "addLearner", nodeId: n(4) });
    expect(leader.node.confState()).toEqual({ voters: [1, 2, 3], learners: [] });
    net.flush();
    expect(leader.node.confState()).toEqual({ voters: [1, 2, 3], learners: [4] });
  });

  it("a learner receives the log but its acknowledgements never commit an entry", () => {
    const net = new Network({ voters: [1, 2, 3], learners: [4] });
    const leader = net.campaign(1);
    net.cutLink(1, 2);
    net.cutLink(1, 3);
    const r = net.propose(1, "x");
    net.flush();
    expect(net.get(4).storage.lastIndex()).toBe(leader.storage.lastIndex());
    expect(r.ok && leader.node.status().commit < r.index).toBe(true);
    expect(net.get(4).node.status().isLearner).toBe(true);
  });

  it("a learner's leader lease lapses, so it answers the votes a pending promotion needs from it", () => {
    // Found by the simulator (seed 500114): node 3 was promoted in the leader's log but had
    // not applied it; the old leader died; the pending configuration needed node 3's vote,
    // and node 3, resetting its election clock without campaigning, never left its lease.
    const storage = new MemoryStorage({ voters: [n(1), n(2)], learners: [n(3)] });
    const node = new RawNode({ id: n(3), storage, rng: new SeededRng(2), electionTicks: 10, heartbeatTicks: 1 });
    const term = (t: number) => t as never;
    node.step({ type: "heartbeat", from: n(1), to: n(3), term: term(1), commit: 0 as never, context: new Uint8Array(0) });
    let answered = 0;
    for (let tick = 0; tick < 200; tick++) {
      node.tick();
      node.step({ type: "preVote", from: n(2), to: n(3), term: term(2), lastLogIndex: 0 as never, lastLogTerm: term(0) });
      const rd = node.ready();
      answered += rd.messages.filter((m) => m.type === "preVoteResp" && !m.reject).length;
      if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
      storage.append(rd.entries);
      node.advance();
    }
    // In lease for its first election timeout after the heartbeat, then it answers every time.
    expect(answered).toBeGreaterThanOrEqual(200 - 2 * 10);
  });

  it("removes a follower: the rest go on without it", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const leader = net.campaign(1);
    leader.node.proposeConfChange({ type: "removeNode", nodeId: n(3) });
    net.flush();
    expect(leader.node.confState().voters).toEqual([1, 2]);
    expect(leader.node.status().progress.map((p) => p.id)).toEqual([1, 2]);
    net.isolate(3);
    net.propose(1, "after");
    net.tickAll(ELECTION_TICKS * 3, [1, 2]);
    expect(leader.node.status().role).toBe("leader");
    expect(net.get(2).applied).toEqual(["after"]);
  });

  it("adding a voter to a single-voter group needs the new voter's acknowledgement to commit", () => {
    const net = new Network({ voters: [1] });
    const leader = net.campaign(1);
    net.addNode(n(2));
    net.isolate(2);
    const r = leader.node.proposeConfChange({ type: "addVoter", nodeId: n(2) });
    if (!r.ok) throw new Error(`conf change refused: ${r.reason}`);
    // The change counts with {1} and with the pending {1, 2}: node 1 alone cannot commit it.
    net.tickAll(5, [1]);
    expect(leader.node.status().commit).toBeLessThan(r.index);
    net.heal();
    net.tickAll(10, [1, 2]);
    expect(leader.node.status().commit).toBeGreaterThanOrEqual(r.index);
    expect(net.get(2).node.confState().voters).toEqual([1, 2]);
  });

  it("a restarted node rebuilds its membership: from config.applied at once, else as entries are re-applied", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const leader = net.campaign(1);
    net.addNode(n(4));
    leader.node.proposeConfChange({ type: "addLearner", nodeId: n(4) });
    net.tickAll(2);
    const t = net.get(2);
    const resumed = new RawNode({ ...net.config(t.id, t.storage), applied: t.appliedIndex });
    expect(resumed.confState()).toEqual({ voters: [1, 2, 3], learners: [4] });
    const fresh = net.restart(2);
    expect(fresh.node.confState()).toEqual({ voters: [1, 2, 3], learners: [] });
    net.flush();
    expect(fresh.node.confState()).toEqual({ voters: [1, 2, 3], learners: [4] });
  });
});
