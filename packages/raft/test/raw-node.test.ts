// RawNode end to end on the in-test network: elections, replication, commit, and the
// persistence contract that advance() enforces. Each test builds a small group, drives it
// with ticks and message delivery, and checks statuses, logs and applied state.

import { describe, expect, it } from "vitest";
import { MemoryStorage, RawNode, SeededRng, asIndex, asNodeId, asTerm } from "../src/index.js";
import { ELECTION_TICKS, Network, bytes } from "./helpers/network.js";

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
});
