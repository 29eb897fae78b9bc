// The real Raft core driven over the in-memory transport: three RawNodes elect a leader,
// replicate, install a snapshot in chunks on a follower that was cut off, and serve a
// forwarded ReadIndex. Every message they exchange passes the wire codec and the Raft
// channel validator; the test fails if a single frame is refused, which is how we know
// the validator accepts everything a correct Raft node sends.

import { afterEach, expect, it } from "vitest";
import {
  DEFAULT_MAX_SNAPSHOT_BYTES,
  DEFAULT_SNAPSHOT_CHUNK_BYTES,
  MAX_READ_CONTEXT_BYTES,
  MemoryStorage,
  RawNode,
  SeededRng,
  type Index,
  type Message,
  type NodeId,
} from "@geolock/raft";
import { MemoryTransportNetwork, type MemoryTransport } from "../src/memory-transport.js";
import { DEFAULT_RAFT_WIRE_LIMITS, raftChannelValidator } from "../src/raft-validation.js";
import type { PeerId } from "../src/types.js";

const peerOf = (id: NodeId): PeerId => `us-east/${id}`;
const nodeIdOf = (peer: PeerId): NodeId | undefined => Number(peer.split("/")[1]) as NodeId;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One node: RawNode, its "disk", its state machine (applied payloads) and the driver loop. */
class Driver {
  readonly storage: MemoryStorage;
  readonly node: RawNode;
  applied: string[] = [];
  leader: NodeId | undefined;
  readonly readContexts: string[] = [];
  readonly typesReceived = new Set<Message["type"]>();

  constructor(
    readonly id: NodeId,
    readonly transport: MemoryTransport,
    voters: NodeId[],
  ) {
    this.storage = new MemoryStorage({ voters, learners: [] });
    this.node = new RawNode({ id, storage: this.storage, rng: new SeededRng(id), electionTicks: 10, heartbeatTicks: 1, snapshotChunkBytes: 64 });
    transport.registerChannel("raft", raftChannelValidator({ self: id, nodeIdOf }), (_from, message) => {
      this.typesReceived.add(message.type);
      this.node.step(message);
      this.pump();
    });
  }

  /** Persist, send, apply, advance: the order contract.ts prescribes. */
  pump(): void {
    for (let i = 0; i < 100 && this.node.hasReady(); i++) {
      const ready = this.node.ready();
      if (ready.softState !== undefined) this.leader = ready.softState.leader;
      if (ready.snapshot !== undefined) this.storage.applySnapshot(ready.snapshot);
      this.storage.append(ready.entries);
      if (ready.hardState !== undefined) this.storage.setHardState(ready.hardState);
      for (const message of ready.messages) this.transport.send(peerOf(message.to), "raft", message);
      if (ready.snapshot !== undefined) this.applied = JSON.parse(decoder.decode(ready.snapshot.data)) as string[];
      for (const entry of ready.committedEntries) {
        if (entry.kind === "normal" && entry.data.length > 0) this.applied.push(decoder.decode(entry.data));
      }
      for (const read of ready.readStates) this.readContexts.push(decoder.decode(read.context));
      this.node.advance();
    }
  }
}

let network: MemoryTransportNetwork | undefined;
afterEach(() => network?.close());

/** Ticks every node and lets the transport deliver, until `done` holds (bounded). */
async function runUntil(what: string, drivers: Driver[], done: () => boolean): Promise<void> {
  for (let round = 0; round < 500; round++) {
    if (done()) return;
    for (const d of drivers) {
      d.node.tick();
      d.pump();
    }
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`Raft over MemoryTransport: no ${what} after 500 rounds`);
}

function proposeAll(drivers: Driver[], payloads: string[]): void {
  const leader = drivers.find((d) => d.leader === d.id);
  if (leader === undefined) throw new Error("no leader to propose to");
  for (const payload of payloads) expect(leader.node.propose(encoder.encode(payload)).ok).toBe(true);
  leader.pump();
}

it("the wire limits admit everything the Raft core's default config may send", () => {
  expect(DEFAULT_RAFT_WIRE_LIMITS.maxContextBytes).toBeGreaterThanOrEqual(MAX_READ_CONTEXT_BYTES);
  expect(DEFAULT_RAFT_WIRE_LIMITS.maxSnapshotBytes).toBeGreaterThanOrEqual(DEFAULT_MAX_SNAPSHOT_BYTES);
  expect(DEFAULT_RAFT_WIRE_LIMITS.maxSnapshotChunkBytes).toBeGreaterThanOrEqual(DEFAULT_SNAPSHOT_CHUNK_BYTES);
});

it("carries a Raft group through election, replication, snapshot install and ReadIndex without a refused frame", async () => {
  const net = new MemoryTransportNetwork();
  network = net;
  const ids = [1, 2, 3] as NodeId[];
  const transports = ids.map((id) => net.create(peerOf(id)));
  const drivers = ids.map((id, i) => new Driver(id, transports[i]!, ids));
  const leaderOf = () => drivers.find((d) => d.leader === d.id);

  await runUntil("leader", drivers, () => leaderOf() !== undefined && drivers.every((d) => d.leader === leaderOf()!.id));
  proposeAll(drivers, Array.from({ length: 20 }, (_, i) => `a${i}`));
  await runUntil("replication", drivers, () => drivers.every((d) => d.applied.length === 20));

  const leader = leaderOf()!;
  const lagging = drivers.find((d) => d !== leader)!;
  net.isolate(peerOf(lagging.id));
  proposeAll(drivers, Array.from({ length: 20 }, (_, i) => `b${i}`));
  await runUntil("replication to the majority", drivers, () => drivers.filter((d) => d !== lagging).every((d) => d.applied.length === 40));
  const index = leader.node.status().commit as Index;
  leader.storage.createSnapshot(index, leader.node.confState(), encoder.encode(JSON.stringify(leader.applied)));
  leader.storage.compact(index);
  net.healAll();
  await runUntil("snapshot install", drivers, () => lagging.applied.length === 40);
  expect(lagging.applied).toStrictEqual(leader.applied);

  expect(lagging.node.readIndex(encoder.encode("read-1")).ok).toBe(true);
  lagging.pump();
  await runUntil("forwarded ReadIndex", drivers, () => lagging.readContexts.includes("read-1"));

  const seen = new Set(drivers.flatMap((d) => [...d.typesReceived]));
  for (const type of ["append", "appendResp", "heartbeat", "heartbeatResp", "snapshot", "snapshotResp", "readIndex", "readIndexResp"] as const) {
    expect(seen.has(type), type).toBe(true);
  }
  for (const t of transports) for (const stats of t.stats().peers.values()) expect(stats.counters.framesRejected).toBe(0);
});
