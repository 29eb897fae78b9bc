// MemoryTransport, the in-memory twin: same batching, same validation, asynchronous
// delivery, cut and healed links, restarts, and the same bounds as the real transport.

import { afterEach, describe, expect, it } from "vitest";
import type { Index, Message, NodeId, Term } from "@geolock/raft";
import { MemoryTransportNetwork, type MemoryTransport } from "../src/memory-transport.js";
import { raftChannelValidator } from "../src/raft-validation.js";
import type { PeerId } from "../src/types.js";
import { waitFor } from "./helpers.js";

const nodeIdOf = (peer: PeerId): NodeId => Number(peer.split("/")[1]) as NodeId;
const heartbeat = (from: PeerId, to: PeerId, commit: number): Message => ({
  type: "heartbeat",
  from: nodeIdOf(from),
  to: nodeIdOf(to),
  term: 1 as Term,
  commit: commit as Index,
  context: new Uint8Array(),
});

let network: MemoryTransportNetwork;
afterEach(() => network.close());

function node(id: PeerId, received: { from: PeerId; commit: number }[]): MemoryTransport {
  const transport = network.create(id);
  transport.registerChannel("raft", raftChannelValidator({ self: nodeIdOf(id), nodeIdOf }), (from, message) =>
    received.push({ from, commit: (message as { commit: number }).commit }),
  );
  return transport;
}

describe("MemoryTransport", () => {
  it("delivers asynchronously, one frame per turn, in order", async () => {
    network = new MemoryTransportNetwork();
    const got: { from: PeerId; commit: number }[] = [];
    const a = node("us-east/1", []);
    node("us-east/2", got);
    for (let commit = 0; commit < 4; commit++) a.send("us-east/2", "raft", heartbeat("us-east/1", "us-east/2", commit));
    expect(got).toHaveLength(0);
    await waitFor("delivery", () => got.length === 4);
    expect(got.map((g) => g.commit)).toStrictEqual([0, 1, 2, 3]);
    expect(a.stats().peers.get("us-east/2")!.counters.framesSent).toBe(1);
  });

  it("runs every message through the receiver's validator: an invalid one is dropped and counted", async () => {
    network = new MemoryTransportNetwork();
    const got: { from: PeerId; commit: number }[] = [];
    const a = node("us-east/1", []);
    const b = node("us-east/2", got);
    a.send("us-east/2", "raft", { ...heartbeat("us-east/1", "us-east/2", 1), term: -1 });
    await waitFor("the rejection", () => b.stats().peers.get("us-east/1")?.counters.framesRejected === 1);
    a.send("us-east/2", "raft", heartbeat("us-east/1", "us-east/2", 2));
    await waitFor("the valid message", () => got.length === 1);
    expect(got).toStrictEqual([{ from: "us-east/1", commit: 2 }]);
  });

  it("loses messages sent over a cut link, as a partition does, and delivers again once healed", async () => {
    network = new MemoryTransportNetwork();
    const got: { from: PeerId; commit: number }[] = [];
    const a = node("us-east/1", []);
    node("us-east/2", got);
    network.cut("us-east/2", "us-east/1");
    expect(a.isConnected("us-east/2")).toBe(false);
    a.send("us-east/2", "raft", heartbeat("us-east/1", "us-east/2", 1));
    await waitFor("the loss to be counted", () => a.stats().peers.get("us-east/2")!.counters.droppedUnreachable === 1);
    network.heal("us-east/1", "us-east/2");
    expect(a.isConnected("us-east/2")).toBe(true);
    a.send("us-east/2", "raft", heartbeat("us-east/1", "us-east/2", 2));
    await waitFor("delivery after heal", () => got.length === 1);
    expect(got).toStrictEqual([{ from: "us-east/1", commit: 2 }]);
  });

  it("bounds the queue for a peer that is down and counts the drops", async () => {
    network = new MemoryTransportNetwork({ limits: { maxQueuedMessages: 3 } });
    const a = node("us-east/1", []);
    await node("us-east/2", []).close();
    const outcomes = [0, 1, 2, 3, 4].map((i) => a.send("us-east/2", "raft", heartbeat("us-east/1", "us-east/2", i)));
    expect(outcomes).toStrictEqual(["queued", "queued", "queued", "droppedQueueFull", "droppedQueueFull"]);
    expect(a.stats().peers.get("us-east/2")!.counters.droppedQueueFull).toBe(2);
  });

  it("lets a closed node restart under the same id and receive what was queued for it", async () => {
    network = new MemoryTransportNetwork();
    const a = node("us-east/1", []);
    const b = node("us-east/2", []);
    await b.close();
    expect(a.isConnected("us-east/2")).toBe(false);
    a.send("us-east/2", "raft", heartbeat("us-east/1", "us-east/2", 5));
    const got: { from: PeerId; commit: number }[] = [];
    node("us-east/2", got);
    await waitFor("delivery to the restarted node", () => got.length === 1);
  });

  it("turns a validator that throws into a refused frame, not a crash", async () => {
    network = new MemoryTransportNetwork();
    const a = network.create("us-east/1");
    const b = network.create("us-east/2");
    const seen: unknown[] = [];
    const fragile = (x: unknown) => {
      if (x === null) throw new TypeError("cannot read properties of null");
      return { ok: true as const, value: x };
    };
    a.registerChannel("echo", fragile, () => {});
    b.registerChannel("echo", fragile, (_from, message) => seen.push(message));
    a.send("us-east/2", "echo", null);
    await waitFor("the refusal", () => b.stats().peers.get("us-east/1")?.counters.framesRejected === 1);
    a.send("us-east/2", "echo", 42);
    await waitFor("the next message", () => seen.length === 1);
    expect(seen).toStrictEqual([42]);
  });

  it("refuses programming errors loudly: unknown peer, unregistered channel", () => {
    network = new MemoryTransportNetwork();
    const a = node("us-east/1", []);
    node("us-east/2", []);
    expect(() => a.send("us-east/9", "raft", {})).toThrow(/unknown peer/);
    expect(() => a.send("us-east/2", "paxos", {})).toThrow(/unregistered channel/);
  });
});
