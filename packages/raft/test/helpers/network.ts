// A deterministic in-process network of RawNodes for tests. Each node has a MemoryStorage
// as its "disk" and a tiny state machine (the list of applied payloads). The driver loop
// follows the persistence contract: persist a Ready, then queue its messages, then apply,
// then advance. Messages are delivered in FIFO order unless dropped by a link control.
// Every loop is bounded; every applied entry is checked against what other nodes applied
// at the same index (state machine safety).

import { MemoryStorage, RawNode, SeededRng, asIndex, asNodeId, decodeConfChange } from "../../src/index.js";
import type { ConfState, Entry, Index, Message, NodeId, Raft, RaftConfig, ReadState, Ready } from "../../src/index.js";

export const ELECTION_TICKS = 10;
export const HEARTBEAT_TICKS = 1;

export interface TestNode {
  readonly id: NodeId;
  node: RawNode;
  readonly storage: MemoryStorage;
  /** The state machine: payloads of applied normal entries, in order. */
  applied: string[];
  appliedIndex: Index;
  readStates: ReadState[];
  /** Every Ready this node produced since it (re)started, for tests that inspect them. */
  readies: Ready[];
}

export interface NetworkOptions {
  readonly voters: readonly number[];
  readonly learners?: readonly number[];
  readonly seed?: number;
  readonly config?: Partial<Omit<RaftConfig, "id" | "storage" | "rng">>;
  readonly createRaft?: (config: RaftConfig) => Raft;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const bytes = (s: string): Uint8Array => encoder.encode(s);
export const text = (b: Uint8Array): string => decoder.decode(b);

export class Network {
  readonly nodes = new Map<NodeId, TestNode>();
  /** Messages in flight, delivered FIFO. */
  queue: Message[] = [];
  /** Links that drop everything, as "from->to". */
  private readonly cut = new Set<string>();
  /** Extra drop rule, e.g. a message type. */
  dropIf: ((m: Message) => boolean) | undefined = undefined;
  /** Every message sent, in order (for tests that inspect traffic). */
  readonly sent: Message[] = [];
  /** index -> "term:payload" of every applied entry on any node. */
  private readonly committedAt = new Map<number, string>();
  private readonly rng: SeededRng;
  /** The group's membership at index 0: what a node joining later starts with. */
  readonly bootstrapConf: ConfState;

  constructor(private readonly options: NetworkOptions) {
    this.rng = new SeededRng(options.seed ?? 1);
    const conf: ConfState = { voters: options.voters.map(asNodeId), learners: (options.learners ?? []).map(asNodeId) };
    this.bootstrapConf = conf;
    for (const id of [...conf.voters, ...conf.learners]) this.addNode(id);
  }

  config(id: NodeId, storage: MemoryStorage, applied?: Index): RaftConfig {
    return {
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: HEARTBEAT_TICKS,
      ...this.options.config,
      id,
      storage,
      rng: new SeededRng(this.rng.nextUint32() + id),
      ...(applied !== undefined ? { applied } : {}),
    };
  }

  /**
   * Starts a node with a fresh disk. Its initial membership is the group's bootstrap
   * membership: a joiner learns every later change from the log (or from a snapshot).
   */
  addNode(id: NodeId, conf: ConfState = this.bootstrapConf): TestNode {
    const storage = new MemoryStorage(conf);
    const node = new RawNode(this.config(id, storage), this.options.createRaft);
    const t: TestNode = { id, node, storage, applied: [], appliedIndex: asIndex(0), readStates: [], readies: [] };
    this.nodes.set(id, t);
    return t;
  }

  get(id: number): TestNode {
    const t = this.nodes.get(asNodeId(id));
    if (t === undefined) throw new Error(`network: no node ${id}`);
    return t;
  }

  /** Crash and restart: the disk survives, the state machine restarts from the snapshot and replays. */
  restart(id: number): TestNode {
    const t = this.get(id);
    const snap = t.storage.snapshot();
    t.applied = snap.metadata.index > 0 ? (JSON.parse(text(snap.data)) as string[]) : [];
    t.appliedIndex = snap.metadata.index;
    t.readStates = [];
    t.readies = [];
    t.node = new RawNode(this.config(t.id, t.storage), this.options.createRaft);
    this.queue = this.queue.filter((m) => m.to !== t.id && m.from !== t.id);
    return t;
  }

  cutLink(a: number, b: number): void {
    this.cut.add(`${a}->${b}`);
    this.cut.add(`${b}->${a}`);
  }

  /** Cuts every link between `id` and the other nodes. */
  isolate(id: number): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cutLink(id, other);
  }

  /** Splits the nodes into groups that cannot talk to each other. */
  partition(...groups: number[][]): void {
    for (const g of groups) for (const h of groups) if (g !== h) for (const a of g) for (const b of h) this.cut.add(`${a}->${b}`);
  }

  heal(): void {
    this.cut.clear();
    this.dropIf = undefined;
  }

  /** Processes every pending Ready and delivers messages until the network is quiet. */
  flush(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      for (const t of this.nodes.values()) while (t.node.hasReady()) this.handleReady(t);
      if (this.queue.length === 0) return;
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) this.deliver(m);
    }
    throw new Error(`network: not quiet after ${maxRounds} rounds`);
  }

  /** Delivers only the messages currently queued (one hop), after processing Readies. */
  step(): void {
    for (const t of this.nodes.values()) while (t.node.hasReady()) this.handleReady(t);
    const batch = this.queue;
    this.queue = [];
    for (const m of batch) this.deliver(m);
    for (const t of this.nodes.values()) while (t.node.hasReady()) this.handleReady(t);
  }

  private deliver(m: Message): void {
    if (this.cut.has(`${m.from}->${m.to}`) || this.dropIf?.(m) === true) return;
    this.nodes.get(m.to)?.node.step(m);
  }

  /** The driver: persist, then send, then apply, then advance. */
  handleReady(t: TestNode): void {
    const rd = t.node.ready();
    t.readies.push(rd);
    if (rd.snapshot !== undefined) t.storage.applySnapshot(rd.snapshot);
    t.storage.append(rd.entries);
    if (rd.hardState !== undefined) t.storage.setHardState(rd.hardState);
    for (const m of rd.messages) {
      this.sent.push(m);
      this.queue.push(m);
    }
    if (rd.snapshot !== undefined) {
      t.applied = JSON.parse(text(rd.snapshot.data)) as string[];
      t.appliedIndex = rd.snapshot.metadata.index;
    }
    for (const e of rd.committedEntries) this.apply(t, e);
    t.readStates.push(...rd.readStates);
    t.node.advance();
  }

  private apply(t: TestNode, e: Entry): void {
    if (e.index !== t.appliedIndex + 1) throw new Error(`network: node ${t.id} applies ${e.index} after ${t.appliedIndex}`);
    const payload = e.kind === "confChange" ? JSON.stringify(decodeConfChange(e.data)) : text(e.data);
    const key = `${e.term}:${e.kind}:${payload}`;
    const seen = this.committedAt.get(e.index);
    if (seen !== undefined && seen !== key) {
      throw new Error(`state machine safety: node ${t.id} applies ${key} at ${e.index}, another node applied ${seen}`);
    }
    this.committedAt.set(e.index, key);
    if (e.kind === "normal" && e.data.byteLength > 0) t.applied.push(payload);
    t.appliedIndex = e.index;
  }

  /** The application snapshots its state at its applied index and compacts the log up to `keepFrom`. */
  compact(id: number, keepFrom?: Index): void {
    const t = this.get(id);
    t.storage.createSnapshot(t.appliedIndex, t.node.confState(), bytes(JSON.stringify(t.applied)));
    t.storage.compact(keepFrom ?? t.appliedIndex);
  }

  tick(id: number): void {
    this.get(id).node.tick();
  }

  /** Ticks every node `count` times, flushing after each tick. */
  tickAll(count = 1, only?: readonly number[]): void {
    for (let i = 0; i < count; i++) {
      for (const t of this.nodes.values()) if (only === undefined || only.includes(t.id)) t.node.tick();
      this.flush();
    }
  }

  /** Ticks until some node is leader (bounded), and returns it. */
  electLeader(maxTicks = 200, only?: readonly number[]): TestNode {
    for (let i = 0; i < maxTicks; i++) {
      const leader = this.leader(only);
      if (leader !== undefined) return leader;
      this.tickAll(1, only);
    }
    throw new Error(`network: no leader after ${maxTicks} ticks`);
  }

  /** Makes `id` leader by letting only it time out first. */
  campaign(id: number): TestNode {
    const t = this.get(id);
    for (let i = 0; i < 4 * ELECTION_TICKS && t.node.status().role !== "leader"; i++) {
      t.node.tick();
      this.flush();
    }
    if (t.node.status().role !== "leader") throw new Error(`network: ${id} did not become leader: ${JSON.stringify(t.node.status())}`);
    return t;
  }

  /** The leader of the highest term among `only` (or all nodes), if any. */
  leader(only?: readonly number[]): TestNode | undefined {
    let best: TestNode | undefined;
    for (const t of this.nodes.values()) {
      if (only !== undefined && !only.includes(t.id)) continue;
      const s = t.node.status();
      if (s.role === "leader" && (best === undefined || s.term > best.node.status().term)) best = t;
    }
    return best;
  }

  propose(id: number, payload: string): ReturnType<RawNode["propose"]> {
    return this.get(id).node.propose(bytes(payload));
  }
}
