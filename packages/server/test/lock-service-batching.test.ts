// The lock service on the real Raft driver (a one-node region on an in-memory disk): requests
// that reach the leader in separate tasks of one turn, as frames from separate connections
// do, are proposed as one entry; so are requests that arrive while the leader's write is in
// flight. One entry is one record on every replica's disk and one envelope on the wire,
// where an entry per connection cost the followers most of their CPU. Requests that wait so
// behind a write that never finishes are answered TIMEOUT once their proposal timeout passes.
import { asNodeId, type Entry, type Role } from "@geolock/raft";
import { DurableLog, MemoryDisk, type RecordStore } from "@geolock/storage";
import type { MemoryTransport } from "@geolock/transport";
import pino from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { LockAnswer } from "@geolock/locks";
import type { LockService } from "../src/lock-service.js";
import { RegionNode, type RaftApplication } from "../src/region-node.js";
import { regionReplica, REPLICA_REGION } from "./region-replica.js";

/** Holds the disk's writes while closed, as a disk slow to finish them. */
class HeldDisk implements RecordStore {
  writesStarted = 0;
  private passage: Promise<void> = Promise.resolve();
  private release: (() => void) | undefined;
  constructor(private readonly inner: RecordStore) {}
  hold(): void {
    this.passage = new Promise((resolve) => (this.release = resolve));
  }
  letGo(): void {
    this.release?.();
  }
  write: RecordStore["write"] = async (ops, sync) => {
    this.writesStarted += 1;
    await this.passage;
    return this.inner.write(ops, sync);
  };
  get: RecordStore["get"] = (key) => this.inner.get(key);
  scan: RecordStore["scan"] = () => this.inner.scan();
  close: RecordStore["close"] = () => this.inner.close();
}

interface Region {
  readonly locks: LockService;
  readonly disk: HeldDisk;
  /** The index of every applied entry that carried commands, in order. */
  readonly appliedEntries: number[];
}

let stops: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

async function oneNodeRegion(proposalTimeoutMs = 5_000): Promise<Region> {
  const { locks, app, transport } = regionReplica(60_000, proposalTimeoutMs);
  const disk = new HeldDisk(new MemoryDisk().open());
  const id = asNodeId(1);
  const log = await DurableLog.openStore(disk, { clusterId: "test", region: REPLICA_REGION, nodeId: id }, { initialConfState: { voters: [id], learners: [] } });
  const appliedEntries: number[] = [];
  let role: Role = "follower";
  const counted: RaftApplication = {
    applyEntry: (entry: Entry) => {
      appliedEntries.push(entry.index);
      app.applyEntry(entry);
    },
    snapshot: () => app.snapshot(),
    restore: (data) => app.restore(data),
    onLeadership: (newRole, leader, term) => {
      role = newRole;
      app.onLeadership(newRole, leader, term);
    },
  };
  const options = { nodeId: id, members: new Map([[id, (transport as MemoryTransport).self]]), tickMs: 5, electionTicks: 10, heartbeatTicks: 2, snapshotEveryEntries: 10_000, snapshotKeepTailEntries: 100, seed: 1 };
  const node = new RegionNode(options, log, transport, counted, pino({ level: "silent" }));
  locks.attach(node);
  const fatal: Error[] = [];
  node.start((error) => fatal.push(error));
  stops.push(async () => {
    locks.stop();
    await node.stop();
    await transport.close();
    expect(fatal.map((error) => error.message)).toEqual([]);
  });
  await vi.waitFor(() => expect(role).toBe("leader"), { timeout: 5_000, interval: 5 });
  return { locks, disk, appliedEntries };
}

/** `count` clients with a session each; `acquire` takes the client's own name. */
async function clients(locks: LockService, count: number) {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const clientId = `client-${i}`;
      const opened = await locks.submit({ type: "openSession", clientId, seq: 1, ttlMs: 60_000 });
      if (opened.type !== "sessionOpened") throw new Error(JSON.stringify(opened));
      return {
        acquire: (): Promise<LockAnswer> =>
          locks.submit({ type: "acquire", clientId, seq: 2, sessionId: opened.sessionId, name: `${REPLICA_REGION}:lock-${i}`, mode: "exclusive", waitMs: 0, owner: clientId }),
      };
    }),
  );
}

/** The answer, or the error the request was rejected with. */
function outcome(answer: Promise<LockAnswer>): Promise<LockAnswer | unknown> {
  return answer.catch((error: unknown) => error);
}

/** Runs each of `requests` in a task of its own, all in one turn of the event loop. */
function inSeparateTasks(requests: readonly (() => Promise<LockAnswer>)[]): Promise<LockAnswer[]> {
  return Promise.all(requests.map((request) => new Promise<LockAnswer>((resolve, reject) => setImmediate(() => request().then(resolve, reject)))));
}

describe("lock service batching on the Raft driver", () => {
  it("proposes requests that arrive in separate tasks of one turn as one entry", async () => {
    const region = await oneNodeRegion();
    const workers = await clients(region.locks, 8);
    const entriesBefore = region.appliedEntries.length;
    const answers = await inSeparateTasks(workers.map((w) => w.acquire));
    expect(answers.map((a) => a.type)).toEqual(Array(8).fill("granted"));
    expect(region.appliedEntries.length - entriesBefore).toBe(1);
  });

  it("proposes the requests that arrive while the leader's write is in flight as one entry after it", async () => {
    const region = await oneNodeRegion();
    const [first, ...rest] = await clients(region.locks, 6);
    const entriesBefore = region.appliedEntries.length;
    const writesBefore = region.disk.writesStarted;
    region.disk.hold();
    const firstAnswer = (first as (typeof rest)[number]).acquire();
    await vi.waitFor(() => expect(region.disk.writesStarted).toBe(writesBefore + 1), { timeout: 5_000, interval: 1 });
    const restAnswers = inSeparateTasks(rest.map((w) => w.acquire));
    // Several turns pass with the write held: the later requests wait, none is written.
    for (let turn = 0; turn < 5; turn += 1) await new Promise((resolve) => setImmediate(resolve));
    expect(region.disk.writesStarted).toBe(writesBefore + 1);
    region.disk.letGo();
    expect((await firstAnswer).type).toBe("granted");
    expect((await restAnswers).map((a) => a.type)).toEqual(Array(5).fill("granted"));
    expect(region.appliedEntries.length - entriesBefore).toBe(2);
  });

  it("answers TIMEOUT to requests that waited a whole proposal timeout behind a write that never finished, and they take no effect", async () => {
    const region = await oneNodeRegion(300);
    const [first, second] = await clients(region.locks, 2);
    const writesBefore = region.disk.writesStarted;
    region.disk.hold();
    const firstAnswer = outcome((first as NonNullable<typeof first>).acquire());
    await vi.waitFor(() => expect(region.disk.writesStarted).toBe(writesBefore + 1), { timeout: 5_000, interval: 1 });
    const secondAnswer = outcome((second as NonNullable<typeof second>).acquire());
    expect(await secondAnswer).toMatchObject({ code: "TIMEOUT", message: expect.stringContaining("did not take effect") });
    // The first was proposed: its outcome is unknown to its caller, and it may yet apply.
    expect(await firstAnswer).toMatchObject({ code: "TIMEOUT", message: expect.stringContaining("may still take effect") });
    expect(region.disk.writesStarted).toBe(writesBefore + 1);
    region.disk.letGo();
    await vi.waitFor(async () => expect((await region.locks.status(`${REPLICA_REGION}:lock-0`)).holders).toHaveLength(1), { timeout: 5_000, interval: 5 });
    expect((await region.locks.status(`${REPLICA_REGION}:lock-1`)).holders).toEqual([]);
  });
});
