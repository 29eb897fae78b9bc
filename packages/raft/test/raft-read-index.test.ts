// ReadIndex: a read is answered once an entry of the leader's term is committed and a
// quorum acknowledged a heartbeat carrying the read's context, sent after it arrived.

import { describe, expect, it } from "vitest";
import { MemoryStorage, RawNode, SeededRng, asNodeId } from "../src/index.js";
import { ELECTION_TICKS, Network, bytes, text } from "./helpers/network.js";

describe("ReadIndex", () => {
  it("the leader answers with its commit index after a quorum acknowledges the read's heartbeat", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const leader = net.campaign(1);
    net.propose(1, "w");
    net.flush();
    const commit = leader.node.status().commit;
    net.cutLink(1, 2);
    net.cutLink(1, 3);
    expect(leader.node.readIndex(bytes("r1"))).toEqual({ ok: true });
    net.flush();
    expect(leader.readStates).toEqual([]);
    net.heal();
    net.cutLink(1, 3);
    net.tickAll(1, [1]);
    expect(leader.readStates.map((r) => [r.index, text(r.context)])).toEqual([[commit, "r1"]]);
  });

  it("queues reads until an entry of the leader's term is committed", () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.dropIf = (m) => m.type === "appendResp";
    const leader = net.campaign(1);
    expect(leader.node.status().commit).toBe(0);
    expect(leader.node.readIndex(bytes("early"))).toEqual({ ok: true });
    net.tickAll(2, [1]);
    expect(leader.readStates).toEqual([]);
    net.dropIf = undefined;
    net.tickAll(2, [1]);
    expect(leader.readStates.map((r) => [r.index, text(r.context)])).toEqual([[1, "early"]]);
  });

  it("a follower forwards a read to the leader and receives the answer", () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.propose(1, "w");
    net.flush();
    const follower = net.get(2);
    expect(follower.node.readIndex(bytes("f"))).toEqual({ ok: true });
    net.flush();
    expect(follower.readStates.map((r) => [r.index, text(r.context)])).toEqual([[net.get(1).node.status().commit, "f"]]);
  });

  it("a follower without a known leader refuses a read", () => {
    const net = new Network({ voters: [1, 2, 3] });
    expect(net.get(2).node.readIndex(bytes("f"))).toMatchObject({ ok: false, reason: "notLeader" });
  });

  it("a single voter answers without asking anyone, once its no-op is durable", () => {
    const storage = new MemoryStorage({ voters: [asNodeId(1)], learners: [] });
    const node = new RawNode({ id: asNodeId(1), storage, rng: new SeededRng(5), electionTicks: ELECTION_TICKS, heartbeatTicks: 1 });
    for (let i = 0; i < 2 * ELECTION_TICKS && node.status().role !== "leader"; i++) node.tick();
    expect(node.readIndex(bytes("solo"))).toEqual({ ok: true });
    const first = node.ready();
    expect(first.readStates).toEqual([]);
    expect(first.messages).toEqual([]);
    storage.append(first.entries);
    if (first.hardState !== undefined) storage.setHardState(first.hardState);
    node.advance();
    const second = node.ready();
    expect(second.readStates.map((r) => text(r.context))).toEqual(["solo"]);
  });

  it("refuses an empty or a duplicate context", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const leader = net.campaign(1);
    net.isolate(1);
    expect(leader.node.readIndex(new Uint8Array(0))).toMatchObject({ ok: false, reason: "invalid" });
    expect(leader.node.readIndex(bytes("a")).ok).toBe(true);
    expect(leader.node.readIndex(bytes("a"))).toMatchObject({ ok: false, reason: "invalid" });
  });

  it("refuses reads beyond maxPendingReads with overloaded", () => {
    const net = new Network({ voters: [1, 2, 3], config: { maxPendingReads: 2 } });
    const leader = net.campaign(1);
    net.isolate(1);
    expect(leader.node.readIndex(bytes("a")).ok).toBe(true);
    expect(leader.node.readIndex(bytes("b")).ok).toBe(true);
    expect(leader.node.readIndex(bytes("c"))).toMatchObject({ ok: false, reason: "overloaded" });
  });

  it("acknowledgements of heartbeats without the read's context do not confirm it", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const leader = net.campaign(1);
    // Every heartbeat reaches the followers, but stripped of its context: they acknowledge
    // heartbeats, just not the read's.
    net.dropIf = (m) => {
      if (m.type !== "heartbeat" || m.context.byteLength === 0) return false;
      net.get(m.to).node.step({ ...m, context: new Uint8Array(0) });
      return true;
    };
    leader.node.readIndex(bytes("r"));
    const sentBefore = net.sent.length;
    net.tickAll(5, [1]);
    const acks = net.sent.slice(sentBefore).filter((m) => m.type === "heartbeatResp" && m.to === 1);
    expect(acks.length).toBeGreaterThanOrEqual(2);
    expect(leader.readStates).toEqual([]);
    expect(leader.node.status().role).toBe("leader");
  });
});
