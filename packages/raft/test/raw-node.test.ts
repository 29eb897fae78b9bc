// RawNode end to end on the in-test network: elections, replication, commit, and the
// persistence contract that advance() enforces. Each test builds a small group, drives it
// with ticks and message delivery, and checks statuses, logs and applied state.

import { describe, expect, it } from "vitest";
import { MemoryStorage, RawNode, SeededRng, asIndex, asNodeId, asTerm, type Entry, type Ready } from "../src/index.js";
import { ELECTION_TICKS, Network, bytes, text, type TestNode } from "./helpers/network.js";

describe("RawNode", () => {
  it("elects a leader in a three-node group and replicates a proposal to all", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const leader = net.electLeader();
    const r = net.propose(leader.id, "x=1");
    expect(r.ok).toBe(true);
    net.flush();
    net.tickAll(2);
    for (const t of net.nodes.values()) {
      expect(t.applied).toEqual(["x=1"]);
      expect(t.node.status().leader).toBe(leader.id);
    }
  });

  it("a single voter elects itself and commits at once", () => {
    const net = new Network({ voters: [1] });
    const leader = net.electLeader();
    expect(leader.id).toBe(1);
    expect(net.propose(1, "a")).toMatchObject({ ok: true, index: 2 });
    net.flush();
    expect(leader.applied).toEqual(["a"]);
  });

  it("refuses proposals on a follower and names the leader", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const leader = net.electLeader();
    const follower = [...net.nodes.values()].find((t) => t.id !== leader.id);
    expect(follower?.node.propose(bytes("x"))).toEqual({ ok: false, reason: "notLeader", leader: leader.id });
  });

  it("throws when advance() finds that the driver did not persist the Ready's entries", () => {
    const storage = new MemoryStorage({ voters: [asNodeId(1)], learners: [] });
    const node = new RawNode({ id: asNodeId(1), storage, rng: new SeededRng(1), electionTicks: ELECTION_TICKS, heartbeatTicks: 1 });
    for (let i = 0; i < 2 * ELECTION_TICKS && !node.hasReady(); i++) node.tick();
    const rd = node.ready();
    expect(rd.entries.length).toBeGreaterThan(0);
    if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
    expect(() => node.advance()).toThrow(/not in storage/);
  });

  it("throws when advance() finds a hard state that differs from the Ready's", () => {
    const storage = new MemoryStorage({ voters: [asNodeId(1)], learners: [] });
    const node = new RawNode({ id: asNodeId(1), storage, rng: new SeededRng(1), electionTicks: ELECTION_TICKS, heartbeatTicks: 1 });
    for (let i = 0; i < 2 * ELECTION_TICKS && !node.hasReady(); i++) node.tick();
    const rd = node.ready();
    storage.append(rd.entries);
    storage.setHardState({ term: asTerm(1), vote: asNodeId(0), commit: asIndex(0) });
    expect(() => node.advance()).toThrow(/hard state/);
  });

  it("refuses a second ready() before advance()", () => {
    const storage = new MemoryStorage({ voters: [asNodeId(1)], learners: [] });
    const node = new RawNode({ id: asNodeId(1), storage, rng: new SeededRng(1), electionTicks: ELECTION_TICKS, heartbeatTicks: 1 });
    for (let i = 0; i < 2 * ELECTION_TICKS && !node.hasReady(); i++) node.tick();
    node.ready();
    expect(node.hasReady()).toBe(false);
    expect(() => node.ready()).toThrow(/before advance/);
  });

  describe("committed entries while the Ready is written", () => {
    /** Persists what the driver held back, as the test's disk finishing its write. */
    const finishWrite = (t: TestNode, rd: Ready): void => {
      t.storage.append(rd.entries);
      if (rd.hardState !== undefined) t.storage.setHardState(rd.hardState);
    };
    /** Applies entries the way the test network's driver does. */
    const applyBy = (t: TestNode, entries: readonly Entry[]): void => {
      for (const e of entries) {
        expect(e.index).toBe(t.appliedIndex + 1);
        if (e.kind === "normal" && e.data.byteLength > 0) t.applied.push(text(e.data));
        t.appliedIndex = e.index;
      }
    };

    it("hands a leader the entries its followers made durable before its own write finished, once", () => {
      const net = new Network({ voters: [1, 2, 3] });
      const leader = net.electLeader();
      net.flush();
      expect(leader.node.propose(bytes("a")).ok).toBe(true);
      const rd = leader.node.ready();
      const written = rd.entries.at(-1) as Entry;
      expect(text(written.data)).toBe("a");
      expect(leader.node.committedDuringWrite()).toEqual([]);
      // The appends leave before the leader's disk is done; both followers write and answer.
      net.queue.push(...rd.messages);
      net.flush();
      expect(leader.storage.lastIndex()).toBeLessThan(written.index);
      const early = leader.node.committedDuringWrite();
      expect(early.map((e) => text(e.data))).toEqual(["a"]);
      expect(leader.node.committedDuringWrite()).toEqual([]);
      applyBy(leader, [...rd.committedEntries, ...early]);
      finishWrite(leader, rd);
      leader.node.advance();
      expect(leader.node.status().applied).toBe(written.index);
      // Applied once: no later Ready hands it out again.
      net.flush();
      expect(leader.readies.flatMap((r) => r.committedEntries).some((e) => e.index === written.index)).toBe(false);
      expect(leader.applied).toEqual(["a"]);
    });

    it("never hands a follower an entry beyond the ones its outstanding Ready writes", () => {
      const net = new Network({ voters: [1, 2, 3] });
      const leader = net.electLeader();
      net.flush();
      const follower = [...net.nodes.values()].find((t) => t.id !== leader.id) as TestNode;
      // The follower holds its Ready for "a" unwritten while the other two commit "a", then "b".
      expect(leader.node.propose(bytes("a")).ok).toBe(true);
      net.handleReady(leader);
      const toFollower = net.queue.filter((m) => m.to === follower.id);
      net.queue = net.queue.filter((m) => m.to !== follower.id);
      for (const m of toFollower) follower.node.step(m);
      const rd = follower.node.ready();
      expect(rd.entries.map((e) => text(e.data))).toEqual(["a"]);
      net.flush();
      expect(leader.node.propose(bytes("b")).ok).toBe(true);
      net.flush();
      expect(leader.applied).toEqual(["a", "b"]);
      expect(follower.node.status().commit).toBeGreaterThan((rd.entries.at(-1) as Entry).index);
      // "b" is committed, but this Ready does not write it: only "a" may be applied now.
      const early = follower.node.committedDuringWrite();
      expect(early.map((e) => text(e.data))).toEqual(["a"]);
      applyBy(follower, [...rd.committedEntries, ...early]);
      finishWrite(follower, rd);
      follower.node.advance();
      const next = follower.node.ready();
      expect(next.entries.map((e) => text(e.data))).toEqual(["b"]);
      expect(next.committedEntries.map((e) => text(e.data))).toEqual(["b"]);
    });

    it("withholds a committed entry whose index the outstanding Ready writes with an older term", () => {
      const net = new Network({ voters: [1, 2, 3] });
      const oldLeader = net.campaign(1);
      net.flush();
      const follower = net.get(3);
      // Leader 1's "stale" reaches only follower 3, which starts writing it; leader 1 crashes
      // before its own write, so node 2 can win the next term with node 1's vote.
      expect(oldLeader.node.propose(bytes("stale")).ok).toBe(true);
      const lost = oldLeader.node.ready();
      for (const m of lost.messages) if (m.to === follower.id) follower.node.step(m);
      const rd = follower.node.ready();
      const staleEntry = rd.entries.at(-1) as Entry;
      expect(text(staleEntry.data)).toBe("stale");
      net.restart(1);
      const newLeader = net.campaign(2);
      expect(newLeader.node.propose(bytes("fresh")).ok).toBe(true);
      net.flush();
      expect(newLeader.applied).toEqual(["fresh"]);
      // Follower 3 cannot answer while its Ready is outstanding, so hand it the append the
      // new leader sends once it learns where their logs match: its entries past the last
      // common one, and its commit.
      const status = newLeader.node.status();
      const prevLogIndex = asIndex(staleEntry.index - 1);
      follower.node.step({
        type: "append",
        from: newLeader.id,
        to: follower.id,
        term: status.term,
        prevLogIndex,
        prevLogTerm: newLeader.storage.term(prevLogIndex),
        entries: newLeader.storage.entries(staleEntry.index, asIndex(newLeader.storage.lastIndex() + 1), Number.MAX_SAFE_INTEGER),
        commit: status.commit,
      });
      // It now holds the new term's entry at that index in memory and knows it is committed,
      // but its disk will hold "stale" there until the next Ready is written.
      expect(follower.node.status().commit).toBeGreaterThanOrEqual(staleEntry.index);
      expect(follower.node.committedDuringWrite()).toEqual([]);
      finishWrite(follower, rd);
      follower.node.advance();
      net.flush();
      expect(follower.applied).toEqual(["fresh"]);
    });

    it("gives the hard state that records the commit of entries applied during the write, without a write", () => {
      const net = new Network({ voters: [1, 2, 3] });
      const leader = net.electLeader();
      net.flush();
      expect(leader.node.propose(bytes("a")).ok).toBe(true);
      const rd = leader.node.ready();
      net.queue.push(...rd.messages);
      net.flush();
      const early = leader.node.committedDuringWrite();
      applyBy(leader, [...rd.committedEntries, ...early]);
      finishWrite(leader, rd);
      leader.node.advance();
      const recorded = leader.storage.hardState();
      const applied = asIndex(leader.appliedIndex);
      // The Ready's hard state predates the followers' acknowledgements.
      expect(recorded.commit).toBeLessThan(applied);
      expect(leader.node.hardStateCommittedThrough(recorded, applied)).toEqual({ term: recorded.term, vote: recorded.vote, commit: applied });
      // Nothing to raise: the recorded state itself.
      expect(leader.node.hardStateCommittedThrough(recorded, recorded.commit)).toBe(recorded);
      // A term the storage has not recorded yet: the next Ready must write it first.
      expect(leader.node.hardStateCommittedThrough({ ...recorded, term: asTerm(recorded.term - 1) }, applied)).toBeUndefined();
      // An index not committed is a driver bug.
      expect(() => leader.node.hardStateCommittedThrough(recorded, asIndex(applied + 1))).toThrow(/beyond the commit index/);
    });

    it("refuses to hand out committed entries when no Ready is outstanding", () => {
      const net = new Network({ voters: [1] });
      const leader = net.electLeader();
      net.flush();
      expect(() => leader.node.committedDuringWrite()).toThrow(/without an outstanding Ready/);
    });
  });
});
