// GlobalService's driver rules, with a captured Raft log and a peer region on an in-memory
// network: a reply to a prepare leaves only once the prepare is applied (committed) in the
// region, never from a follower; a client request is proposed by the leader and answered
// from the applied table; it fails NO_QUORUM by its own deadline when no majority answers,
// and NOT_LEADER when the node stops leading. Watchers of a key hear each grant and release.

import { asRegionId, ballot, decodeReplicaCommand, paxosConfig, type GlobalKey, type PaxosMessage } from "@geolock/paxos";
import { asNodeId, asTerm, type ProposeResult } from "@geolock/raft";
import { MemoryTransportNetwork, type ClientPush, type MemoryTransport } from "@geolock/transport";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_GLOBAL_TIMING, GlobalService } from "../src/global-service.js";
import { PaxosPeers } from "../src/paxos-peers.js";
import { decodeEntry } from "../src/region-entry.js";
import type { Topology } from "../src/topology.js";

const REGIONS = ["us-east", "eu-west", "us-west"];
const topology: Topology = {
  clusterId: "test",
  regions: REGIONS.map((name, r) => ({ name, id: r + 1, nodes: [{ id: 1, host: "127.0.0.1", port: 9200 + r }] })),
};
const paxos = paxosConfig(REGIONS.map(asRegionId));
const logger = pino({ level: "silent" });
const clock = { nowMs: () => 1_000_000 };
const key = "global:k" as GlobalKey;
let transports: MemoryTransport[] = [];
let services: GlobalService[] = [];

interface Harness {
  readonly service: GlobalService;
  /** Paxos commands appended to the region's log, not yet applied. */
  readonly log: unknown[];
  /** Messages the peer region eu-west received. */
  readonly atPeer: PaxosMessage[];
  readonly peerTransport: MemoryTransport;
}

function harness(): Harness {
  const network = new MemoryTransportNetwork();
  const self = network.create("us-east/1");
  const peer = network.create("eu-west/1");
  network.create("us-west/1"); // down for good: never answers
  transports.push(self, peer);
  const atPeer: PaxosMessage[] = [];
  new PaxosPeers({ topology, region: asRegionId("eu-west"), self: "eu-west/1", paxos }, peer).attach({ isLeader: () => true, leaderPeer: () => "eu-west/1", deliver: (m) => atPeer.push(m) });
  const peers = new PaxosPeers({ topology, region: asRegionId("us-east"), self: "us-east/1", paxos }, self);
  const service = new GlobalService({ ...DEFAULT_GLOBAL_TIMING, region: asRegionId("us-east"), paxos, seed: 7, peerNameOf: (id) => `us-east/${id}` }, clock, peers, logger);
  services.push(service);
  const log: unknown[] = [];
  let index = 0;
  service.attach({
    propose: (data: Uint8Array): ProposeResult => {
      const decoded = decodeEntry(data);
      if (decoded.kind === "paxos") log.push(decoded.command);
      return { ok: true, index: ++index as never, term: asTerm(3) };
    },
  });
  return { service, log, atPeer, peerTransport: peer };
}

/** Applies (as committed) every captured log command, in order. */
function commitAll(h: Harness): void {
  for (const command of h.log.splice(0)) h.service.applyCommand(command);
}

afterEach(async () => {
  for (const s of services) s.stop();
  services = [];
  await Promise.all(transports.map((t) => t.close()));
  transports = [];
});

describe("GlobalService", () => {
  it("replies to a peer's prepare only once the prepare is applied, and only as leader", async () => {
    const h = harness();
    h.service.onLeadership("leader", asNodeId(1), asTerm(3));
    h.service.deliver({ kind: "prepare", from: asRegionId("eu-west"), to: asRegionId("us-east"), key, ballot: ballot(1, "eu-west", 1), fromInstance: 1 as never });
    expect(h.log).toHaveLength(1);
    expect(decodeReplicaCommand(h.log[0], paxos)).toMatchObject({ ok: true, value: { type: "prepare", from: "eu-west" } });
    await new Promise((r) => setTimeout(r, 20));
    expect(h.atPeer).toHaveLength(0);
    commitAll(h);
    await vi.waitFor(() => expect(h.atPeer.map((m) => m.kind)).toEqual(["promise"]));
  });

  it("applies commands on a follower without sending anything", async () => {
    const h = harness();
    h.service.onLeadership("follower", asNodeId(2), asTerm(3));
    expect(h.service.snapshot().acceptor).toEqual([]);
    h.service.applyCommand({ type: "prepare", from: "eu-west", key, ballot: ballot(1, "eu-west", 1), fromInstance: 1 });
    // Applied: the acceptor's promise is in the replicated state.
    expect(h.service.snapshot().acceptor).toEqual([{ key, promised: ballot(1, "eu-west", 1), accepted: [] }]);
    await new Promise((r) => setTimeout(r, 20));
    expect(h.atPeer).toHaveLength(0);
  });

  it("proposes a client's acquire as leader and answers it once chosen, from the table's deterministic apply", async () => {
    const h = harness();
    h.service.onLeadership("leader", asNodeId(1), asTerm(3));
    const answer = h.service.submit({ op: "acquire", key, requestId: { clientId: "c", seq: 1 }, owner: "o", ttlMs: 10_000 }, 2_000);
    // Phase 1: the prepare to itself goes to its log, the one to eu-west over the wire.
    await vi.waitFor(() => expect(h.atPeer.map((m) => m.kind)).toContain("prepare"));
    const prepare = h.atPeer.find((m) => m.kind === "prepare");
    commitAll(h); // own promise
    if (prepare?.kind !== "prepare") throw new Error("no prepare");
    const promise: PaxosMessage = { kind: "promise", from: asRegionId("eu-west"), to: asRegionId("us-east"), key, ballot: prepare.ballot, accepted: [], chosenThrough: 0 as never };
    h.peerTransport.send("us-east/1", "paxos", { m: promise, handedOn: false });
    await vi.waitFor(() => expect(h.atPeer.map((m) => m.kind)).toContain("accept"));
    commitAll(h); // own accept
    const accept = h.atPeer.find((m) => m.kind === "accept");
    if (accept?.kind !== "accept") throw new Error("no accept");
    h.peerTransport.send("us-east/1", "paxos", { m: { kind: "accepted", from: "eu-west", to: "us-east", key, ballot: accept.ballot, instance: accept.instance }, handedOn: false });
    // Chosen: the answer is determined, and given before the region's own learn is applied.
    await expect(answer).resolves.toMatchObject({ kind: "granted", token: 1 });
    expect(h.log.map((c) => (c as { type: string }).type)).toEqual(["learn"]);
    expect(h.service.status(key)).toMatchObject({ token: null, applied: 0 });
    commitAll(h);
    expect(h.service.status(key)).toMatchObject({ token: 1, holder: { clientId: "c", region: "us-east" } });
  });

  it("fails a request with NO_QUORUM by its own deadline when no majority answers", async () => {
    const h = harness();
    h.service.onLeadership("leader", asNodeId(1), asTerm(3));
    await h.peerTransport.close(); // eu-west is gone too: only its own region answers
    const answer = h.service.submit({ op: "acquire", key, requestId: { clientId: "c", seq: 1 }, owner: "o", ttlMs: 10_000 }, 200);
    commitAll(h);
    await expect(answer).rejects.toMatchObject({ code: "NO_QUORUM" });
  });

  it("fails waiting requests with NOT_LEADER when it stops leading", async () => {
    const h = harness();
    h.service.onLeadership("leader", asNodeId(1), asTerm(3));
    const answer = h.service.submit({ op: "acquire", key, requestId: { clientId: "c", seq: 1 }, owner: "o", ttlMs: 10_000 }, 5_000);
    h.service.onLeadership("follower", asNodeId(2), asTerm(4));
    await expect(answer).rejects.toMatchObject({ code: "NOT_LEADER", leader: "us-east/2" });
    await expect(h.service.submit({ op: "acquire", key, requestId: { clientId: "c", seq: 2 }, owner: "o", ttlMs: 10_000 }, 5_000)).rejects.toMatchObject({ code: "NOT_LEADER" });
  });
});

describe("GlobalService watches", () => {
  const holder = { region: asRegionId("us-east"), clientId: "c1", owner: "o" };
  const acquire = { type: "acquire", requestId: { clientId: "c1", seq: 1 }, holder, ttlMs: 10_000 } as const;
  const learn = (instance: number, value: readonly unknown[]) => ({ type: "learn", key, instance, value });
  const changes = (pushed: readonly ClientPush[]): string[] =>
    pushed.map((p) => (p.push === "globalLockChanged" ? `${p.change} ${p.holder.clientId}@${p.holder.region} #${p.token}@${p.index}${p.change === "released" ? ` ${p.reason}` : ""}` : p.push));

  it("pushes each grant and release of a watched key once, with the holder that went, and ends the watch when the key is installed past skipped instances", () => {
    const h = harness();
    const pushed: ClientPush[] = [];
    const sink = { push: (m: ClientPush) => void pushed.push(m) };
    expect(h.service.watch(sink, 1, key)).toMatchObject({ index: 0, status: { holder: null } });
    h.service.applyCommand(learn(1, [acquire]));
    // Retries (of the acquire here, of the release below) are answered from the dedup record: nothing changes.
    h.service.applyCommand(learn(2, [acquire]));
    const release = { type: "release", requestId: { clientId: "c1", seq: 2 }, token: 1 };
    h.service.applyCommand(learn(3, [release]));
    h.service.applyCommand(learn(4, [release]));
    expect(changes(pushed)).toEqual(["acquired c1@us-east #1@1", "released c1@us-east #1@3 released"]);
    h.service.applyCommand({ type: "installKey", key, state: { applied: 9, nextToken: 4, holder: null, dedup: [] } });
    expect(pushed[2]).toEqual({ push: "watchEnded", watchId: 1, name: key, reason: expect.stringContaining("installed") });
    h.service.applyCommand(learn(10, [{ ...acquire, requestId: { clientId: "c1", seq: 3 } }]));
    expect(pushed).toHaveLength(3);
  });

  it("tells a holder's new grant (it asked again) as the release of its old one, then the grant", () => {
    const h = harness();
    const pushed: ClientPush[] = [];
    h.service.watch({ push: (m: ClientPush) => void pushed.push(m) }, 1, key);
    h.service.applyCommand(learn(1, [acquire]));
    h.service.applyCommand(learn(2, [{ ...acquire, requestId: { clientId: "c1", seq: 2 } }]));
    h.service.applyCommand(learn(3, [{ type: "release", requestId: { clientId: "c1", seq: 3 }, token: 2 }]));
    expect(changes(pushed)).toEqual(["acquired c1@us-east #1@1", "released c1@us-east #1@2 released", "acquired c1@us-east #2@2", "released c1@us-east #2@3 released"]);
  });

  it("starts a watch of a held key with its holder, so the release names it", () => {
    const h = harness();
    h.service.applyCommand(learn(1, [acquire]));
    const pushed: ClientPush[] = [];
    const started = h.service.watch({ push: (m: ClientPush) => void pushed.push(m) }, 1, key);
    expect(started).toMatchObject({ index: 1, status: { token: 1, holder: { clientId: "c1" } } });
    h.service.applyCommand(learn(2, [{ type: "release", requestId: { clientId: "c1", seq: 2 }, token: 1 }]));
    expect(changes(pushed)).toEqual(["released c1@us-east #1@2 released"]);
  });
});
