// Log replication and flow control (as etcd's raft_flow_control_test): the inflight window
// in replicate state, one probe per heartbeat in probe state, byte-bounded batches, fast
// backtracking over whole terms, heartbeat commit bounds, and the uncommitted-bytes limit.

import { describe, expect, it } from "vitest";
import { asNodeId } from "../src/index.js";
import type { Message } from "../src/index.js";
import { ELECTION_TICKS, Network } from "./helpers/network.js";

type Append = Extract<Message, { type: "append" }>;
const appendsTo = (msgs: readonly Message[], to: number): Append[] =>
  msgs.filter((m): m is Append => m.type === "append" && m.to === to && m.entries.length > 0);

describe("replication", () => {
  it("in replicate state pipelines at most maxInflightAppends unacknowledged appends", () => {
    const net = new Network({ voters: [1, 2, 3], config: { maxInflightAppends: 4 } });
    const leader = net.campaign(1);
    expect(leader.node.status().progress.find((p) => p.id === 2)?.state).toBe("replicate");
    net.dropIf = (m) => m.type === "appendResp" && m.from === 2;
    const before = net.sent.length;
    for (let i = 0; i < 10; i++) {
      net.propose(1, `e${i}`);
      net.flush();
    }
    expect(appendsTo(net.sent.slice(before), 2).length).toBe(4);
    // A heartbeat answer shows the link works: one more append goes out.
    net.tickAll(1);
    expect(appendsTo(net.sent.slice(before), 2).length).toBe(5);
    // Entries still commit through node 3.
    expect(leader.applied.length).toBe(10);
  });

  it("in probe state sends one append per heartbeat interval until an answer", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const leader = net.campaign(1);
    leader.node.reportUnreachable(asNodeId(2));
    expect(leader.node.status().progress.find((p) => p.id === 2)?.state).toBe("probe");
    net.dropIf = (m) => m.type === "appendResp" && m.from === 2;
    const before = net.sent.length;
    for (let i = 0; i < 5; i++) {
      net.propose(1, `e${i}`);
      net.flush();
    }
    expect(appendsTo(net.sent.slice(before), 2).length).toBe(1);
    net.tickAll(3);
    expect(appendsTo(net.sent.slice(before), 2).length).toBe(4);
    net.dropIf = undefined;
    net.tickAll(1);
    expect(leader.node.status().progress.find((p) => p.id === 2)?.state).toBe("replicate");
    expect(net.get(2).applied.length).toBe(5);
  });

  it("batches entries per append up to maxAppendBytes, always at least one", () => {
    const net = new Network({ voters: [1, 2, 3], config: { maxAppendBytes: 300 } });
    net.campaign(1);
    net.isolate(3);
    for (let i = 0; i < 9; i++) net.propose(1, "x".repeat(100));
    net.propose(1, "y".repeat(1000));
    net.flush();
    const before = net.sent.length;
    net.heal();
    net.tickAll(3);
    const appends = appendsTo(net.sent.slice(before), 3);
    expect(appends.length).toBeGreaterThanOrEqual(5);
    for (const a of appends) {
      const bytes = a.entries.reduce((sum, e) => sum + e.data.byteLength + 24, 0);
      expect(a.entries.length === 1 || bytes <= 300).toBe(true);
    }
    expect(appends.some((a) => a.entries.length === 2)).toBe(true);
    expect(net.get(3).applied.length).toBe(10);
  });

  it("sends the proposals of one turn to each follower in one append", () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.flush();
    const before = net.sent.length;
    for (let i = 0; i < 50; i++) net.propose(1, `p${i}`);
    net.flush();
    const appends = appendsTo(net.sent.slice(before), 2).filter((a) => a.entries.length > 0);
    expect(appends).toHaveLength(1);
    expect(appends[0]?.entries).toHaveLength(50);
    expect(net.get(2).applied.length).toBeGreaterThanOrEqual(50);
  });

  it("lets a leader send entries before its own fsync, counting itself only once they are durable", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const leader = net.campaign(1);
    net.flush();
    const { index } = leader.node.propose(new TextEncoder().encode("early")) as { index: number };
    // The driver takes the Ready but has not persisted it yet; the appends leave anyway.
    const rd = leader.node.ready();
    const toTwo = appendsTo(rd.messages, 2);
    expect(toTwo).toHaveLength(1);
    // Follower 2 persists and acknowledges: one durable copy, the leader's is not yet.
    const follower = net.get(2);
    follower.node.step(toTwo[0] as Message);
    net.handleReady(follower);
    expect(leader.node.status().commit).toBeLessThan(index);
    const ack = { type: "appendResp", from: asNodeId(2), to: asNodeId(1), term: leader.node.status().term, index, reject: false, rejectHint: 0, hintTerm: 0 } as unknown as Message;
    leader.node.step(ack);
    expect(leader.node.status().commit).toBeLessThan(index);
    // Now the leader's own copy is durable: two of three, committed.
    leader.storage.append(rd.entries);
    if (rd.hardState !== undefined) leader.storage.setHardState(rd.hardState);
    leader.node.advance();
    expect(leader.node.status().commit).toBe(index);
  });

  it("backtracks over a long divergent tail in a few round trips, by term", () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.isolate(1);
    // The old leader accepts 30 entries nobody else will ever have.
    for (let i = 0; i < 30; i++) net.propose(1, `lost${i}`);
    net.flush();
    const interim = net.electLeader(300, [2, 3]);
    for (let i = 0; i < 30; i++) net.propose(interim.id, `kept${i}`);
    net.flush();
    // A second leader change, so that the leader's first probe to node 1 starts far ahead.
    const otherId = interim.id === 2 ? 3 : 2;
    interim.node.transferLeader(asNodeId(otherId));
    net.flush();
    const next = net.get(otherId);
    expect(next.node.status().role).toBe("leader");
    const before = net.sent.length;
    net.heal();
    net.tickAll(2 * ELECTION_TICKS);
    const rejections = net.sent.slice(before).filter((m) => m.type === "appendResp" && m.from === 1 && m.reject);
    expect(rejections.length).toBeGreaterThan(0);
    expect(rejections.length).toBeLessThanOrEqual(2);
    expect(net.get(1).applied).toEqual(next.applied);
    expect(next.applied.some((p) => p.startsWith("lost"))).toBe(false);
  });

  it("heartbeats carry min(commit, follower match)", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const leader = net.campaign(1);
    net.isolate(3);
    for (let i = 0; i < 5; i++) net.propose(1, `e${i}`);
    net.flush();
    const before = net.sent.length;
    net.tickAll(1, [1]);
    const commit = leader.node.status().commit;
    const match3 = leader.node.status().progress.find((p) => p.id === 3)?.match;
    const hb = net.sent.slice(before).filter((m): m is Extract<Message, { type: "heartbeat" }> => m.type === "heartbeat");
    expect(hb.find((m) => m.to === 2)?.commit).toBe(commit);
    expect(hb.find((m) => m.to === 3)?.commit).toBe(match3);
    expect(match3).toBeLessThan(commit);
  });

  it("refuses proposals beyond maxUncommittedBytes with overloaded, and accepts again after commit", () => {
    const net = new Network({ voters: [1, 2, 3], config: { maxUncommittedBytes: 200 } });
    const leader = net.campaign(1);
    net.isolate(1);
    expect(net.propose(1, "x".repeat(100)).ok).toBe(true);
    expect(net.propose(1, "x".repeat(100))).toMatchObject({ ok: false, reason: "overloaded" });
    net.heal();
    net.tickAll(2);
    expect(leader.applied.length).toBe(1);
    expect(net.propose(1, "x".repeat(100)).ok).toBe(true);
  });

  it("commits when a majority has the entry, not before", () => {
    const net = new Network({ voters: [1, 2, 3, 4, 5] });
    const leader = net.campaign(1);
    net.partition([1, 2], [3, 4, 5]);
    const r = net.propose(1, "x");
    net.flush();
    expect(r.ok && leader.node.status().commit < r.index).toBe(true);
    net.heal();
    net.cutLink(1, 4);
    net.cutLink(1, 5);
    net.tickAll(1, [1]);
    expect(r.ok && leader.node.status().commit >= r.index).toBe(true);
  });
});
