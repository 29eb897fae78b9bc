// The region's replicated application: entries in tagged envelopes go to the lock machine or
// the global replica in log order; both parts are snapshotted together, and a snapshot that
// is not this version's or not this region's is refused.

import { asFencingToken, asGlobalKey, asInstance, asRegionId, paxosConfig, type ReplicaCommand } from "@geolock/paxos";
import { asIndex, asTerm, type Entry } from "@geolock/raft";
import { decodePlain, DEFAULT_RAFT_WIRE_LIMITS, encodeValue, MemoryTransportNetwork, type MemoryTransport } from "@geolock/transport";
import { CLIENT_ID_BYTES_MAX, COMMAND_FIELDS, NAME_BYTES_MAX, OWNER_BYTES_MAX, validateCommand } from "@geolock/locks";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_GLOBAL_TIMING, GlobalService } from "../src/global-service.js";
import { BATCH_COMMANDS_MAX, LockService } from "../src/lock-service.js";
import { PaxosPeers } from "../src/paxos-peers.js";
import { RegionApplication } from "../src/region-application.js";
import { decodeEntry, encodeLockBatchEntry, encodeLockEntry, encodePaxosEntry, type DecodedEntry } from "../src/region-entry.js";
import type { Topology } from "../src/topology.js";

const REGIONS = ["us-east", "eu-west"];
const topology: Topology = {
  clusterId: "test",
  regions: REGIONS.map((name, r) => ({ name, id: r + 1, nodes: [{ id: 1, host: "127.0.0.1", port: 9100 + r }] })),
};
const paxos = paxosConfig(REGIONS.map(asRegionId));
const logger = pino({ level: "silent" });
const clock = { nowMs: () => 1_000_000 };
let transports: MemoryTransport[] = [];
let network = new MemoryTransportNetwork();

interface Parts {
  readonly app: RegionApplication;
  readonly locks: LockService;
  readonly global: GlobalService;
}

function parts(region = "us-east"): Parts {
  const transport = network.create(`${region}/${transports.length + 1}`);
  transports.push(transport);
  const regionId = asRegionId(region);
  const peers = new PaxosPeers({ topology, region: regionId, self: transport.self, paxos }, transport);
  const global = new GlobalService({ ...DEFAULT_GLOBAL_TIMING, region: regionId, paxos, seed: 1, peerNameOf: (id) => `${region}/${id}` }, clock, peers, logger);
  const locks = new LockService({ region, tickCommandMs: 100, proposalTimeoutMs: 1_000, peerNameOf: (id) => `${region}/${id}` }, clock, logger);
  return { app: new RegionApplication(locks, global), locks, global };
}

let index = 0;
function entry(data: Uint8Array): Entry {
  index += 1;
  return { index: asIndex(index), term: asTerm(1), kind: "normal", data };
}

const key = asGlobalKey("global:config");
const learnGrant: ReplicaCommand = {
  type: "learn",
  key,
  instance: asInstance(1),
  value: [{ type: "acquire", requestId: { clientId: "c1", seq: 1 }, holder: { region: asRegionId("us-east"), clientId: "c1", owner: "o" }, ttlMs: 10_000 }],
};
const openSession = { type: "openSession", clientId: "c1", seq: 1, ttlMs: 10_000, nowMs: 1_000_000 };

afterEach(async () => {
  await Promise.all(transports.map((t) => t.close()));
  transports = [];
  network = new MemoryTransportNetwork();
});

function commandsOf(decoded: DecodedEntry): readonly unknown[] {
  if (decoded.kind !== "lockBatch") throw new Error(`expected a lock batch, got ${decoded.kind}`);
  return decoded.commands;
}

describe("the region's Raft entries", () => {
  it("tags lock and paxos commands, reads a map without a tag as a pre-envelope lock command, and refuses unknown tags", () => {
    expect(decodeEntry(encodeLockEntry(openSession))).toEqual({ kind: "lock", command: openSession });
    expect(decodeEntry(encodePaxosEntry(learnGrant))).toEqual({ kind: "paxos", command: learnGrant });
    expect(decodeEntry(encodeValue(openSession))).toEqual({ kind: "lock", command: openSession });
    expect(decodeEntry(encodeValue({ k: "other", c: 1 })).kind).toBe("undecodable");
    expect(decodeEntry(encodeValue({ k: "lock", c: 1, extra: 2 })).kind).toBe("undecodable");
    expect(decodeEntry(new Uint8Array([0xc1])).kind).toBe("undecodable");
    expect(decodeEntry(encodeLockBatchEntry([openSession, openSession]))).toEqual({ kind: "lockBatch", commands: [openSession, openSession] });
    expect(decodeEntry(encodeValue({ k: "locks", c: openSession })).kind).toBe("undecodable");
  });

  it("writes a batch of well-formed commands as rows of their fields, in about half the bytes of maps, and reads back the same commands", () => {
    const batch = [
      { type: "acquire", nowMs: 1_000_000, clientId: "gl-client-0001", seq: 7, sessionId: 3, name: "us-east:order:1", mode: "exclusive", waitMs: 0, owner: "worker-1" },
      { type: "release", nowMs: 1_000_001, clientId: "gl-client-0002", seq: 8, sessionId: 4, name: "us-east:order:2" },
      { type: "keepAlive", nowMs: 1_000_002, clientId: "gl-client-0003", seq: 9, sessionId: 5 },
    ];
    const bytes = encodeLockBatchEntry(batch);
    const raw = decodePlain(bytes, 16);
    expect(raw).toMatchObject({ ok: true, value: { k: "lockRows" } });
    const rows = (raw as { value: { c: unknown[][] } }).value.c;
    expect(rows[1]).toEqual(COMMAND_FIELDS.release.map((field) => (batch[1] as Record<string, unknown>)[field]));
    expect(decodeEntry(bytes)).toEqual({ kind: "lockBatch", commands: batch });
    expect(bytes.byteLength).toBeLessThan(encodeValue({ k: "locks", c: batch }).byteLength * 0.7);
    // Logs written before rows existed hold batches of maps, and still read.
    expect(decodeEntry(encodeValue({ k: "locks", c: batch }))).toEqual({ kind: "lockBatch", commands: batch });
  });

  it("writes a batch as maps when a command lacks a field or has one too many, so that a follower refuses it as the leader does", () => {
    const release = { type: "release", nowMs: 1_000_000, clientId: "c1", seq: 2, sessionId: 3, name: "us-east:a" };
    const { name: _dropped, ...missing } = release;
    for (const odd of [{ ...release, extra: 1 }, missing]) {
      const bytes = encodeLockBatchEntry([release, odd]);
      expect(decodePlain(bytes, 16)).toMatchObject({ ok: true, value: { k: "locks" } });
      const decoded = decodeEntry(bytes);
      expect(decoded).toEqual({ kind: "lockBatch", commands: [release, odd] });
      const [first, second] = commandsOf(decoded);
      expect(validateCommand(first).ok).toBe(true);
      expect(validateCommand(second)).toEqual(validateCommand(odd));
      expect(validateCommand(second).ok).toBe(false);
    }
  });

  it("hands on rows of no known type or of the wrong length as they are, for the lock machine to refuse, and refuses rows that are no array", () => {
    const bad = [["bogus", 1], ["release", 1_000_000, "c1"], ["constructor", 1], ["__proto__"], 5, null];
    const decoded = decodeEntry(encodeValue({ k: "lockRows", c: bad }));
    expect(decoded).toEqual({ kind: "lockBatch", commands: bad });
    for (const command of commandsOf(decoded)) expect(validateCommand(command).ok).toBe(false);
    expect(decodeEntry(encodeValue({ k: "lockRows", c: 5 })).kind).toBe("undecodable");
  });

  it("fits a full batch of the largest lock commands in one entry a peer accepts", () => {
    const largest = {
      type: "acquire",
      clientId: "c".repeat(CLIENT_ID_BYTES_MAX),
      seq: Number.MAX_SAFE_INTEGER,
      sessionId: Number.MAX_SAFE_INTEGER,
      name: "n".repeat(NAME_BYTES_MAX),
      mode: "exclusive",
      waitMs: Number.MAX_SAFE_INTEGER,
      owner: "o".repeat(OWNER_BYTES_MAX),
      nowMs: Number.MAX_SAFE_INTEGER,
    };
    const batch = Array.from({ length: BATCH_COMMANDS_MAX }, () => largest);
    expect(encodeLockBatchEntry(batch).byteLength).toBeLessThan(DEFAULT_RAFT_WIRE_LIMITS.maxEntryBytes / 8);
    // The map form, for a batch with a command of other fields, is the larger.
    expect(encodeValue({ k: "locks", c: batch }).byteLength).toBeLessThan(DEFAULT_RAFT_WIRE_LIMITS.maxEntryBytes / 8);
  });
});

describe("RegionApplication", () => {
  it("applies lock entries to the lock machine and paxos entries to the global replica", () => {
    const { app, locks, global } = parts();
    app.applyEntry(entry(encodeLockEntry(openSession)));
    app.applyEntry(entry(encodePaxosEntry(learnGrant)));
    expect(locks.stats().sessions).toBe(1);
    expect(global.status(key)).toMatchObject({ token: 1, nextToken: 2, applied: 1, holder: { clientId: "c1", region: "us-east" } });
  });

  it("applies the commands of a lock batch entry in order", () => {
    const { app, locks } = parts();
    app.applyEntry(entry(encodeLockEntry(openSession)));
    const sessionId = index;
    const acquire = (name: string, seq: number) => ({ type: "acquire", clientId: "c1", seq, sessionId, name, mode: "exclusive", waitMs: 0, owner: "o", nowMs: 1_000_000 });
    app.applyEntry(entry(encodeLockBatchEntry([acquire("us-east:a", 2), acquire("us-east:b", 3), { type: "release", clientId: "c1", seq: 4, sessionId, name: "us-east:a", nowMs: 1_000_000 }])));
    expect(locks.stats()).toMatchObject({ sessions: 1, locks: 1, holders: 1 });
  });

  it("skips a paxos entry that does not validate, on every replica alike", () => {
    const { app, global } = parts();
    app.applyEntry(entry(encodePaxosEntry({ ...learnGrant, instance: -1 })));
    expect(global.status(key)).toMatchObject({ applied: 0, token: null });
  });

  it("snapshots both parts together and restores them into a fresh node", () => {
    const source = parts();
    source.app.applyEntry(entry(encodeLockEntry(openSession)));
    source.app.applyEntry(entry(encodePaxosEntry(learnGrant)));
    const release: ReplicaCommand = { type: "learn", key, instance: asInstance(2), value: [{ type: "release", requestId: { clientId: "c1", seq: 2 }, token: asFencingToken(1) }] };
    source.app.applyEntry(entry(encodePaxosEntry(release)));
    const copy = parts();
    copy.app.restore(source.app.snapshot());
    expect(copy.locks.stats()).toEqual(source.locks.stats());
    expect(copy.global.status(key)).toEqual(source.global.status(key));
    expect(copy.global.status(key)).toMatchObject({ token: null, nextToken: 2, applied: 2 });
  });

  it("refuses a snapshot of another version, of another region, or of no known shape", () => {
    const source = parts("eu-west");
    source.app.applyEntry(entry(encodePaxosEntry(learnGrant)));
    const target = parts("us-east");
    expect(() => target.app.restore(source.app.snapshot())).toThrow(/eu-west given to us-east/);
    expect(() => target.app.restore(encodeValue({ v: 2, locks: new Uint8Array(), global: {} }))).toThrow(/version/);
    expect(() => target.app.restore(encodeValue({ v: 1, locks: new Uint8Array(), global: { version: 1 } }))).toThrow(/refused/);
    expect(() => target.app.restore(new Uint8Array([0xc1]))).toThrow(/MessagePack/);
    expect(target.global.status(key)).toMatchObject({ applied: 0 });
  });
});
