// The Raft driver over the in-memory transport and log: three nodes of one region. An empty
// append (a commit update) is held briefly and dropped when the next append to the same
// follower carries the newer commit index; when none follows, it still goes out. A follower
// starts its write and acknowledges before it applies; a leader applies what its followers
// committed while its own write is still held.
import { asNodeId, type Entry, type Message, type NodeId, type Role } from "@geolock/raft";
import { DurableLog, MemoryDisk, type RecordStore, type StoreOp } from "@geolock/storage";
import { MemoryTransportNetwork, type PeerId, type PeerTransport } from "@geolock/transport";
import pino from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RAFT_CHANNEL, RegionNode, type RaftApplication } from "../src/region-node.js";

const REGION = "us-east";
const IDS = [1, 2, 3].map(asNodeId);
const peerOf = (id: NodeId): PeerId => `${REGION}/${id}` as PeerId;

/** Applies entries by remembering their bytes; proposes from inside apply when asked to. */
class RecordingApp implements RaftApplication {
  readonly applied: string[] = [];
  role: Role = "follower";
  onApply: ((data: string) => void) | undefined;
  applyEntry(entry: Entry): void {
    const data = new TextDecoder().decode(entry.data);
    this.applied.push(data);
    this.onApply?.(data);
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.applied));
  }
  restore(data: Uint8Array): void {
    this.applied.splice(0, this.applied.length, ...(JSON.parse(new TextDecoder().decode(data)) as string[]));
  }
  onLeadership(role: Role): void {
    this.role = role;
  }
}

/** Records every Raft message the node hands to the transport, and tells `onSent`. */
function recording(inner: PeerTransport, sent: Message[], onSent: (message: Message) => void): PeerTransport {
  return {
    self: inner.self,
    registerChannel: (name, validate, onMessage) => inner.registerChannel(name, validate, onMessage),
    send: (to, channel, message) => {
      if (channel === RAFT_CHANNEL) {
        sent.push(message as Message);
        onSent(message as Message);
      }
      return inner.send(to, channel, message);
    },
    isConnected: (peer) => inner.isConnected(peer),
    stats: () => inner.stats(),
    close: () => inner.close(),
  };
}

/** Holds a node's disk writes while closed, as a disk slow to finish them; open by default. */
class WriteGate {
  private passage: Promise<void> = Promise.resolve();
  private release: (() => void) | undefined;
  /** Writes handed to the store and not yet let through. */
  held = 0;
  close(): void {
    this.passage = new Promise((resolve) => (this.release = resolve));
  }
  open(): void {
    this.release?.();
    this.release = undefined;
  }
  async pass(): Promise<void> {
    this.held += 1;
    await this.passage;
    this.held -= 1;
  }
}

/** Records the ops of every write as it is handed to the store (before it completes). */
function observed(inner: RecordStore, startedWrites: (readonly StoreOp[])[], gate: WriteGate): RecordStore {
  return {
    write: (ops, sync) => {
      startedWrites.push(ops);
      return gate.pass().then(() => inner.write(ops, sync));
    },
    get: (key) => inner.get(key),
    scan: () => inner.scan(),
    close: () => inner.close(),
  };
}

interface TestNode {
  readonly node: RegionNode;
  readonly app: RecordingApp;
  readonly sent: Message[];
  /** The ops of each disk write this node started, in order. */
  readonly startedWrites: (readonly StoreOp[])[];
  readonly gate: WriteGate;
  readonly log: DurableLog;
  /** Called with each Raft message this node sends. */
  onSent: (message: Message) => void;
}

let network: MemoryTransportNetwork | undefined;
let nodes: TestNode[] = [];
/** What a node's driver stopped on; every test ends with none. */
let fatalErrors: Error[] = [];

afterEach(async () => {
  for (const n of nodes) await n.node.stop();
  await network?.close();
  nodes = [];
  network = undefined;
  const failures = fatalErrors;
  fatalErrors = [];
  expect(failures.map((error) => error.message)).toEqual([]);
});

interface RegionTiming {
  readonly emptyAppendHoldMs?: number;
  /** A snapshot after this many applied entries; 1,000 unless set. */
  readonly snapshotEveryEntries?: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
}

const FAST: RegionTiming = { electionTicks: 10, heartbeatTicks: 2 };

async function startRegion(timing: RegionTiming = FAST): Promise<TestNode[]> {
  const { emptyAppendHoldMs, electionTicks, heartbeatTicks, snapshotEveryEntries = 1_000 } = timing;
  network = new MemoryTransportNetwork();
  const members = new Map(IDS.map((id) => [id, peerOf(id)] as const));
  for (const id of IDS) {
    const startedWrites: (readonly StoreOp[])[] = [];
    const gate = new WriteGate();
    const store = observed(new MemoryDisk().open(), startedWrites, gate);
    const log = await DurableLog.openStore(store, { clusterId: "test", region: REGION, nodeId: id }, { initialConfState: { voters: [...IDS], learners: [] } });
    const app = new RecordingApp();
    const sent: Message[] = [];
    const options = { nodeId: id, members, tickMs: 5, electionTicks, heartbeatTicks, snapshotEveryEntries, snapshotKeepTailEntries: 100, seed: id, ...(emptyAppendHoldMs === undefined ? {} : { emptyAppendHoldMs }) };
    const testNode: { node?: RegionNode; app: RecordingApp; sent: Message[]; startedWrites: (readonly StoreOp[])[]; gate: WriteGate; log: DurableLog; onSent: (message: Message) => void } = {
      app,
      log,
      sent,
      startedWrites,
      gate,
      onSent: () => {},
    };
    testNode.node = new RegionNode(options, log, recording(network.create(peerOf(id)), sent, (m) => testNode.onSent(m)), app, pino({ level: "silent" }));
    nodes.push(testNode as TestNode);
  }
  for (const n of nodes) n.node.start((error) => fatalErrors.push(error));
  await vi.waitFor(() => expect(nodes.filter((n) => n.app.role === "leader")).toHaveLength(1), { timeout: 5_000, interval: 5 });
  return nodes;
}

const leaderOf = (all: TestNode[]): TestNode => all.find((n) => n.app.role === "leader") as TestNode;

/**
 * The leader every node agrees on, in one term, once it replicates to every follower
 * directly. Under load a first leader may already have lost a second election that its
 * application has not heard of yet; and a leader still probing a follower sends it the next
 * entry only in the Ready after the one it is writing, so holding its disk would hold that
 * entry back from the followers too.
 */
async function settledLeader(all: TestNode[]): Promise<TestNode> {
  let leader: TestNode | undefined;
  await vi.waitFor(
    () => {
      const statuses = all.map((n) => n.node.status());
      const leading = statuses.find((s) => s.role === "leader");
      expect(leading).toBeDefined();
      expect(statuses.every((s) => s.leader === leading?.id && s.term === leading.term)).toBe(true);
      expect(leading?.progress.every((p) => p.state === "replicate" && p.match === leading.commit)).toBe(true);
      leader = all[statuses.indexOf(leading as (typeof statuses)[number])];
      expect(leader?.app.role).toBe("leader");
    },
    { timeout: 5_000, interval: 5 },
  );
  return leader as TestNode;
}
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe("RegionNode commit updates", () => {
  it("sends a held commit update on its own when no append follows, before any heartbeat could carry it", async () => {
    // Heartbeats every 200 ms, and the writes start right after one: the followers can
    // learn the last commit before the next heartbeat only from the held append's timer.
    const all = await startRegion({ electionTicks: 100, heartbeatTicks: 40 });
    const leader = leaderOf(all);
    await new Promise<void>((resolve) => {
      leader.onSent = (m) => {
        if (m.type === "heartbeat") resolve();
      };
    });
    let heartbeatsSince = 0;
    leader.onSent = (m) => {
      if (m.type === "heartbeat") heartbeatsSince += 1;
    };
    for (const text of ["a", "b", "c"]) expect(leader.node.propose(bytes(text)).ok).toBe(true);
    await vi.waitFor(() => expect(all.map((n) => n.app.applied.join(""))).toEqual(["abc", "abc", "abc"]), { timeout: 5_000, interval: 1 });
    expect(heartbeatsSince).toBe(0);
  });

  it("drops a held commit update when the next append to the follower carries the commit", async () => {
    // Held for longer than the test runs: only an append can take its place.
    const all = await startRegion({ ...FAST, emptyAppendHoldMs: 60_000 });
    const leader = leaderOf(all);
    leader.app.onApply = (data) => {
      if (data === "first") leader.node.propose(bytes("second"));
    };
    const sentBefore = leader.sent.length;
    expect(leader.node.propose(bytes("first")).ok).toBe(true);
    await vi.waitFor(() => expect(all.every((n) => n.app.applied.includes("first"))).toBe(true), { timeout: 5_000, interval: 5 });
    const carries = (m: Message, text: string): boolean => m.type === "append" && m.entries.some((e) => new TextDecoder().decode(e.data) === text);
    const leaderId = IDS[all.indexOf(leader)];
    const firstAppend = leader.sent.slice(sentBefore).find((m) => carries(m, "first")) as Extract<Message, { type: "append" }>;
    const indexOfFirst = (firstAppend.entries.find((e) => new TextDecoder().decode(e.data) === "first") as Entry).index;
    for (const follower of IDS.filter((id) => id !== leaderId)) {
      const toFollower = leader.sent.slice(sentBefore).filter((m) => m.to === follower);
      const first = toFollower.findIndex((m) => carries(m, "first"));
      const second = toFollower.findIndex((m) => carries(m, "second"));
      expect(first).toBeGreaterThanOrEqual(0);
      expect(second).toBeGreaterThan(first);
      // The commit update of "first" was replaced by the append of "second" (which carries
      // that commit). A held update leaves only by its timer (60 s here) or just ahead of a
      // message that is not an append (a heartbeat that a slow turn let fire in between):
      // so every stale empty append that went out is directly followed by such a message,
      // never by an append, which would have replaced it.
      const secondCommit = (toFollower[second] as Extract<Message, { type: "append" }>).commit;
      expect(secondCommit).toBeGreaterThanOrEqual(indexOfFirst);
      toFollower.forEach((m, i) => {
        if (i <= first || m.type !== "append" || m.entries.length > 0 || m.commit > indexOfFirst) return;
        expect(toFollower[i + 1]?.type, `stale commit update at ${i} to follower ${follower}`).toBeDefined();
        expect(toFollower[i + 1]?.type).not.toBe("append");
      });
    }
  });
});

/**
 * The leader proposes "first" and, once it applies it, `second`. The commit of "first" then
 * reaches the followers only with the append of `second` (the held commit update outlives the
 * test), so each follower's Ready holds `second` to write and "first" to apply. Returns what
 * `observe` says of each follower at the moment it applies "first".
 */
async function atFollowersApplyingFirst(second: Uint8Array, observe: (follower: TestNode, secondIndex: number | undefined) => boolean): Promise<boolean[]> {
  const all = await startRegion({ ...FAST, emptyAppendHoldMs: 60_000 });
  const leader = leaderOf(all);
  const followers = all.filter((n) => n !== leader);
  const isSecond = (data: Uint8Array): boolean => Buffer.from(data).equals(Buffer.from(second));
  const secondIndex = (): number | undefined => {
    for (const m of leader.sent) if (m.type === "append") for (const e of m.entries) if (isSecond(e.data)) return e.index;
    return undefined;
  };
  const seen = new Map<TestNode, boolean>();
  leader.app.onApply = (data) => {
    if (data === "first") leader.node.propose(second);
  };
  for (const follower of followers) {
    follower.app.onApply = (data) => {
      if (data === "first") seen.set(follower, observe(follower, secondIndex()));
    };
  }
  expect(leader.node.propose(bytes("first")).ok).toBe(true);
  const text = new TextDecoder().decode(second);
  await vi.waitFor(() => expect(all.every((n) => n.app.applied.includes(text))).toBe(true), { timeout: 5_000, interval: 5 });
  return followers.map((f) => seen.get(f) ?? false);
}

describe("RegionNode disk writes", () => {
  it("starts writing a Ready's new entries before it applies the already-durable entries that Ready commits", async () => {
    const marker = bytes("second-entry-marker");
    const holdsMarker = (ops: readonly StoreOp[]): boolean => ops.some((op) => op.type === "put" && Buffer.from(op.value).includes(Buffer.from(marker)));
    expect(await atFollowersApplyingFirst(marker, (follower) => follower.startedWrites.some(holdsMarker))).toEqual([true, true]);
  });
});

describe("RegionNode follower acknowledgements", () => {
  it("acknowledges a Ready's new entries before it applies the entries that Ready commits", async () => {
    // The acknowledgement of the second entry is what the leader's commit waits for; the
    // follower's apply of the first answers nobody, so it comes after.
    const acked = (follower: TestNode, secondIndex: number | undefined): boolean =>
      secondIndex !== undefined && follower.sent.some((m) => m.type === "appendResp" && !m.reject && m.index >= secondIndex);
    expect(await atFollowersApplyingFirst(bytes("acknowledged-before-apply"), acked)).toEqual([true, true]);
  });
});

describe("RegionNode apply during its own write", () => {
  it("applies an entry the followers made durable while the leader's own write of it is still unfinished", async () => {
    // A leader whose disk is held sends no heartbeats either: on a loaded machine a follower
    // may time out and win an election before the acknowledgements come back. The claim is
    // about a leader that keeps leading, so such a try is discarded and made again, with a
    // bounded number of tries; every try that keeps its leader must show the early apply.
    const all = await startRegion({ electionTicks: 200, heartbeatTicks: 2 });
    const TRIES = 3;
    let shown = false;
    for (let attempt = 0; attempt < TRIES && !shown; attempt++) {
      const leader = await settledLeader(all);
      const term = leader.node.status().term;
      const data = `x${attempt}`;
      leader.gate.close();
      expect(leader.node.propose(bytes(data)).ok).toBe(true);
      await vi
        .waitFor(() => expect(leader.app.applied.includes(data) || leader.node.status().term !== term).toBe(true), { timeout: 4_000, interval: 2 })
        .catch(() => undefined);
      const stillLeading = leader.node.status().term === term && leader.node.status().role === "leader";
      if (stillLeading) {
        expect(leader.app.applied).toContain(data);
        expect(leader.gate.held).toBeGreaterThan(0);
        shown = true;
      }
      leader.gate.open();
      if (shown) {
        await vi.waitFor(() => expect(all.every((n) => n.app.applied.includes(data))).toBe(true), { timeout: 5_000, interval: 5 });
        expect(leader.app.applied.filter((d) => d === data)).toHaveLength(1);
      }
    }
    expect(shown, `no try showed it: in all ${TRIES} the leader, its disk held, was still waiting when a follower won a new term`).toBe(true);
  });

  /** A settled leader with its disk held, snapshotting after every entry, and `text` proposed to it. */
  async function proposedWithLeaderDiskHeld(text: string): Promise<{ all: TestNode[]; leader: TestNode; term: number; index: number }> {
    const all = await startRegion({ electionTicks: 200, heartbeatTicks: 2, snapshotEveryEntries: 1 });
    const leader = await settledLeader(all);
    const term = leader.node.status().term;
    leader.gate.close();
    const proposed = leader.node.propose(bytes(text));
    if (!proposed.ok) throw new Error(`the settled leader refused a proposal: ${proposed.reason}`);
    return { all, leader, term, index: proposed.index };
  }

  it("takes a snapshot that falls due on an entry applied during the write, beyond the commit index of the Ready that wrote it", async () => {
    // The log refuses a snapshot beyond the commit index it holds; before the driver handed
    // it the newer one, this snapshot stopped the node.
    const { all, leader, term, index } = await proposedWithLeaderDiskHeld("snap");
    await vi.waitFor(() => expect(leader.app.applied.includes("snap") || leader.node.status().term !== term).toBe(true), { timeout: 4_000, interval: 2 });
    const appliedDuringWrite = leader.app.applied.includes("snap") && leader.gate.held > 0;
    leader.gate.open();
    await vi.waitFor(() => expect(all.every((n) => n.app.applied.includes("snap"))).toBe(true), { timeout: 5_000, interval: 5 });
    expect(fatalErrors.map((error) => error.message)).toEqual([]);
    await vi.waitFor(() => expect(leader.log.view.snapshot().metadata.index).toBeGreaterThanOrEqual(index), { timeout: 5_000, interval: 5 });
    // A machine slow enough to lose the leader before the followers answer shows nothing.
    if (leader.node.status().term === term) expect(appliedDuringWrite).toBe(true);
  });

  it("takes a due snapshot even when every write of the leader finishes after its followers committed the entry", async () => {
    // A leader with the slowest disk: each Ready carries a new entry that is applied during
    // its write. Waiting for a Ready whose entries were all committed when it was made would
    // put the snapshot off for as long as that lasts.
    const { all, leader, term, index: first } = await proposedWithLeaderDiskHeld("slow-1");
    let shown = false;
    for (const [previous, next] of [["slow-1", "slow-2"], ["slow-2", "slow-3"]] as const) {
      await vi.waitFor(() => expect(leader.app.applied.includes(previous) || leader.node.status().term !== term).toBe(true), { timeout: 4_000, interval: 2 });
      if (leader.node.status().term !== term) break;
      // The next entry waits in Raft for the held write; the write after it is held too.
      expect(leader.node.propose(bytes(next)).ok).toBe(true);
      leader.gate.open();
      leader.gate.close();
    }
    await vi
      .waitFor(() => expect(leader.app.applied.includes("slow-3") || leader.node.status().term !== term).toBe(true), { timeout: 4_000, interval: 2 })
      .catch(() => undefined);
    if (leader.node.status().term === term && leader.app.applied.includes("slow-3") && leader.gate.held > 0) {
      // Every Ready since the first has had an entry applied during its write, and yet:
      expect(leader.log.view.snapshot().metadata.index).toBeGreaterThanOrEqual(first);
      shown = true;
    }
    leader.gate.open();
    await vi.waitFor(() => expect(all.every((n) => n.app.applied.includes("slow-3"))).toBe(true), { timeout: 5_000, interval: 5 });
    // A machine slow enough to lose the leader mid-way shows nothing; a fast one must.
    if (leader.node.status().term === term) expect(shown).toBe(true);
  });

  it("applies nothing of its own while a write is held if no follower has the entry either", async () => {
    const all = await startRegion({ electionTicks: 200, heartbeatTicks: 2 });
    const leader = await settledLeader(all);
    for (const n of all) n.gate.close();
    expect(leader.node.propose(bytes("y")).ok).toBe(true);
    await vi.waitFor(() => expect(all.every((n) => n.gate.held > 0)).toBe(true), { timeout: 2_000, interval: 2 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(all.some((n) => n.app.applied.includes("y"))).toBe(false);
    for (const n of all) n.gate.open();
    await vi.waitFor(() => expect(all.every((n) => n.app.applied.includes("y"))).toBe(true), { timeout: 5_000, interval: 5 });
  });
});
