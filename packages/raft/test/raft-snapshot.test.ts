// Snapshots: chunked transfer from the leader (one chunk in flight, acknowledged with the
// next offset, resent when lost, restarted on mismatch), the follower's bounded assembly
// and restore, and appends resuming right after the snapshot index.

import { describe, expect, it } from "vitest";
import { asIndex, asNodeId, asTerm } from "../src/index.js";
import type { Message } from "../src/index.js";
import { ELECTION_TICKS, Network, bytes } from "./helpers/network.js";
import { loneNode } from "./helpers/lone-node.js";

type Chunk = Extract<Message, { type: "snapshot" }>;
type ChunkResp = Extract<Message, { type: "snapshotResp" }>;
const chunksTo = (msgs: readonly Message[], to: number): Chunk[] => msgs.filter((m): m is Chunk => m.type === "snapshot" && m.to === to);

/** Leader 1 compacted its log while node 3 was away. */
function behindBySnapshot(chunkBytes: number): Network {
  const net = new Network({ voters: [1, 2, 3], config: { snapshotChunkBytes: chunkBytes } });
  net.campaign(1);
  net.isolate(3);
  for (let i = 0; i < 20; i++) net.propose(1, `value-${i}`);
  net.flush();
  net.compact(1);
  net.heal();
  return net;
}

describe("snapshots", () => {
  it("hands the whole snapshot out in one Ready and restores log, commit and membership from it", () => {
    const net = behindBySnapshot(50);
    net.tickAll(2 * ELECTION_TICKS);
    const follower = net.get(3);
    const leaderSnap = net.get(1).storage.snapshot();
    const withSnap = follower.readies.filter((rd) => rd.snapshot !== undefined);
    expect(withSnap.length).toBe(1);
    expect(withSnap[0]?.snapshot?.data).toEqual(leaderSnap.data);
    expect(withSnap[0]?.hardState?.commit).toBeGreaterThanOrEqual(leaderSnap.metadata.index);
    expect(follower.node.confState()).toEqual(leaderSnap.metadata.confState);
    expect(follower.node.status().applied).toBeGreaterThanOrEqual(leaderSnap.metadata.index);
  });

  it("keeps one chunk in flight and continues with appends from the snapshot index + 1", () => {
    const net = behindBySnapshot(40);
    const before = net.sent.length;
    net.tickAll(2 * ELECTION_TICKS);
    const traffic = net.sent.slice(before);
    const toFollower = traffic.filter((m) => m.to === 3 && (m.type === "snapshot" || m.type === "append"));
    // Every chunk is sent only after the previous one was acknowledged.
    let outstanding = 0;
    for (const m of traffic) {
      if (m.type === "snapshot" && m.to === 3) outstanding++;
      if (m.type === "snapshotResp" && m.from === 3) outstanding--;
      expect(outstanding).toBeLessThanOrEqual(1);
    }
    const snapIndex = net.get(1).storage.snapshot().metadata.index;
    const lastChunk = toFollower.map((m) => m.type).lastIndexOf("snapshot");
    expect(lastChunk).toBeGreaterThan(0);
    const resume = toFollower.slice(lastChunk + 1).find((m) => m.type === "append");
    expect(resume?.type === "append" && resume.prevLogIndex).toBe(snapIndex);
  });

  it("finishes the snapshot it started even when the application takes a newer one meanwhile", () => {
    // Restarting on every newer snapshot starves a follower whose transfer takes longer than
    // the interval between snapshots (found by the simulator with the lock application).
    const net = behindBySnapshot(40);
    const first = net.get(1).storage.snapshot().metadata.index;
    let acks = 0;
    net.dropIf = (m) => m.type === "snapshotResp" && m.from === 3 && ++acks > 2;
    net.tickAll(1);
    expect(acks).toBeGreaterThan(2);
    for (let i = 0; i < 5; i++) net.propose(1, `later-${i}`);
    net.flush();
    net.compact(1);
    expect(net.get(1).storage.snapshot().metadata.index).toBeGreaterThan(first);
    net.dropIf = () => false;
    net.tickAll(2 * ELECTION_TICKS);
    const installed = net.get(3).readies.filter((rd) => rd.snapshot !== undefined).map((rd) => rd.snapshot?.metadata.index);
    expect(installed[0]).toBe(first);
    expect(net.get(3).node.status().applied).toBe(net.get(1).node.status().applied);
  });

  it("resends a lost chunk after heartbeats pass without an answer", () => {
    const net = behindBySnapshot(40);
    let dropped = false;
    net.dropIf = (m) => {
      if (!dropped && m.type === "snapshot" && m.offset === 40) {
        dropped = true;
        return true;
      }
      return false;
    };
    net.tickAll(3 * ELECTION_TICKS);
    expect(dropped).toBe(true);
    expect(chunksTo(net.sent, 3).filter((c) => c.offset === 40).length).toBeGreaterThanOrEqual(2);
    expect(net.get(3).applied).toEqual(net.get(1).applied);
  });

  it("restarts from offset 0 when the follower reports a mismatch", () => {
    const net = behindBySnapshot(40);
    // The follower loses its partial buffer (as after a restart) in the middle of the transfer.
    let restarted = false;
    net.dropIf = (m) => {
      if (!restarted && m.type === "snapshot" && m.offset === 80) {
        restarted = true;
        net.restart(3);
        net.get(3).node.step({ ...m });
        return true;
      }
      return false;
    };
    const before = net.sent.length;
    net.tickAll(3 * ELECTION_TICKS);
    const resp = net.sent.slice(before).filter((m): m is ChunkResp => m.type === "snapshotResp" && m.from === 3);
    expect(resp.some((r) => r.reject && r.nextOffset === 0)).toBe(true);
    const offsets = chunksTo(net.sent.slice(before), 3).map((c) => c.offset);
    expect(offsets.indexOf(0, offsets.indexOf(80))).toBeGreaterThan(0);
    expect(net.get(3).applied).toEqual(net.get(1).applied);
  });

  it("refuses a snapshot larger than maxSnapshotBytes", () => {
    const lone = loneNode(3, [1, 2, 3], { config: { maxSnapshotBytes: 100 } });
    const metadata = { index: asIndex(50), term: asTerm(1), confState: { voters: [1, 2, 3].map(asNodeId), learners: [] } };
    lone.node.step({ type: "snapshot", from: asNodeId(1), to: asNodeId(3), term: asTerm(1), metadata, offset: 0, totalBytes: 101, chunk: bytes("x") });
    expect(lone.messages()).toEqual([{ type: "snapshotResp", from: 3, to: 1, term: 1, snapshotIndex: 50, nextOffset: 0, reject: true }]);
  });

  it("answers a chunk of a snapshot it already covers as complete", () => {
    const lone = loneNode(3, [1, 2, 3], { log: [1, 1, 1] });
    lone.node.step({ type: "heartbeat", from: asNodeId(1), to: asNodeId(3), term: asTerm(1), commit: asIndex(3), context: new Uint8Array(0) });
    lone.drain();
    const metadata = { index: asIndex(2), term: asTerm(1), confState: { voters: [1, 2, 3].map(asNodeId), learners: [] } };
    lone.node.step({ type: "snapshot", from: asNodeId(1), to: asNodeId(3), term: asTerm(1), metadata, offset: 0, totalBytes: 10, chunk: bytes("abc") });
    expect(lone.messages()).toContainEqual({ type: "snapshotResp", from: 3, to: 1, term: 1, snapshotIndex: 2, nextOffset: 10, reject: false });
  });

  it("a restarted node starts from its snapshot's membership and applied index", () => {
    const net = behindBySnapshot(1000);
    net.tickAll(2 * ELECTION_TICKS);
    const t = net.restart(3);
    expect(t.node.status().applied).toBe(t.storage.snapshot().metadata.index);
    expect(t.node.confState()).toEqual({ voters: [1, 2, 3], learners: [] });
    net.propose(1, "later");
    net.tickAll(3);
    expect(t.applied.at(-1)).toBe("later");
  });
});
