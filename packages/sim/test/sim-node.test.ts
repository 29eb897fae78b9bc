// The node driver: a Ready's messages leave only once its write is durable, a crash before
// the fsync loses that write (here, a vote), and a restart rebuilds the node from its disk.

import { describe, expect, it } from "vitest";
import { asIndex, asNodeId, asTerm } from "@geolock/raft";
import type { Message, NodeId } from "@geolock/raft";
import { SafetyChecker } from "../src/index.js";
import { harness as build } from "./helpers/node-harness.js";
import type { Harness } from "./helpers/node-harness.js";

const [n1, n2, n3] = [1, 2, 3].map(asNodeId) as [NodeId, NodeId, NodeId];
const harness = (): Harness => build(n1);

const voteRequest: Message = { type: "vote", from: n2, to: n1, term: asTerm(1), lastLogIndex: asIndex(0), lastLogTerm: asTerm(0), transfer: false };

describe("SimNode", () => {
  it("answers a vote only after the vote is durable", () => {
    const { node, sent, fsyncs } = harness();
    node.start();
    node.receive(voteRequest);
    expect(node.isBlocked()).toBe(true);
    expect(sent).toEqual([]);
    expect(node.disk.storage.hardState().vote).toBe(0);
    node.diskDone(fsyncs[0]?.life ?? -1);
    expect(node.disk.storage.hardState()).toEqual({ term: 1, vote: 2, commit: 0 });
    expect(sent).toMatchObject([{ type: "voteResp", from: 1, to: 2, term: 1, reject: false }]);
  });

  it("forgets a vote whose fsync had not completed when it crashed", () => {
    const { node, sent, fsyncs } = harness();
    node.start();
    node.receive(voteRequest);
    expect(node.crash()).toBe(true);
    node.diskDone(fsyncs[0]?.life ?? -1);
    expect(sent).toEqual([]);
    node.start();
    expect(node.life).toBe(2);
    expect(node.rawNode().status()).toMatchObject({ term: 0, vote: 0 });
  });

  it("queues messages that arrive while it waits for its disk, and handles them afterwards", () => {
    const { node, sent, fsyncs } = harness();
    node.start();
    node.receive(voteRequest);
    node.receive({ ...voteRequest, from: n3 });
    expect(sent).toEqual([]);
    node.diskDone(1);
    // The second candidate asks in the same term: the durable vote for node 2 stands.
    expect(sent.map((m) => [m.type, m.to, "reject" in m ? m.reject : undefined])).toEqual([
      ["voteResp", 2, false],
      ["voteResp", 3, true],
    ]);
    expect(fsyncs).toHaveLength(1);
  });

  it("ignores the completion of a write from an earlier lifetime", () => {
    const { node, fsyncs } = harness();
    node.start();
    node.receive(voteRequest);
    node.crash();
    node.start();
    node.receive({ ...voteRequest, term: asTerm(2), from: n3 });
    node.diskDone(1);
    expect(node.isBlocked()).toBe(true);
    node.diskDone(fsyncs[1]?.life ?? -1);
    expect(node.disk.storage.hardState()).toEqual({ term: 2, vote: 3, commit: 0 });
  });
});

describe("SimNode with early replication", () => {
  /** Campaigns until node 1 leads term 1 with node 2's votes; returns it blocked on the no-op's fsync. */
  function electedLeader(): Harness {
    const h = build(n1, new SafetyChecker({ entriesMax: 100, pendingReadsMax: 1 }), true);
    h.node.start();
    for (let i = 0; i < 40 && !h.sent.some((m) => m.type === "preVote"); i++) h.node.tick();
    h.node.receive({ type: "preVoteResp", from: n2, to: n1, term: asTerm(1), reject: false });
    // Becoming a candidate changes term and vote: the vote requests wait for that fsync.
    expect(h.sent.some((m) => m.type === "vote")).toBe(false);
    h.node.diskDone(h.node.life);
    expect(h.sent.some((m) => m.type === "vote")).toBe(true);
    h.node.receive({ type: "voteResp", from: n2, to: n1, term: asTerm(1), reject: false });
    return h;
  }

  it("lets a new leader's appends leave before its no-op is durable", () => {
    const { node, sent } = electedLeader();
    expect(node.rawNode().status().role).toBe("leader");
    expect(node.isBlocked()).toBe(true);
    expect(node.disk.storage.lastIndex()).toBe(0);
    expect(sent.filter((m) => m.type === "append").map((m) => m.to)).toEqual([2, 3]);
  });
});
