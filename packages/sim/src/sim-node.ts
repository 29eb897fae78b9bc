// One simulated Raft node: a RawNode, the node's disk, its application, and the driver loop
// that follows the Ready contract exactly: persist (a write that completes after a seeded
// fsync latency), mirror into the durable storage view, send, apply, serve reads, advance.
//
// The driver is single-threaded like the server's: while a write is in flight the node is
// blocked, and messages and ticks that arrive wait in a bounded inbox. A crash loses the
// RawNode, the inbox and the pending write; a restart rebuilds everything from the disk.

import { RawNode, SeededRng, asIndex, mayLeaveBeforePersist } from "@geolock/raft";
import type {
  ConfChange,
  Entry,
  HardState,
  Index,
  Message,
  NodeId,
  ProposeResult,
  Raft,
  RaftConfig,
  Ready,
  ReadState,
  RequestResult,
  SnapshotMetadata,
} from "@geolock/raft";
import type { Application, ApplicationFactory } from "./application.js";
import type { DiskWrite, SimDisk } from "./disk.js";
import { violated } from "./violation.js";

/** The Raft settings a simulated node runs with (id, storage, rng and applied are the sim's). */
export type RaftTuning = Omit<RaftConfig, "id" | "storage" | "rng" | "applied" | "logger">;

export interface SimNodeConfig {
  readonly id: NodeId;
  readonly raft: RaftTuning;
  /** Take an application snapshot (and compact the log) after this many applied entries. */
  readonly snapshotEveryEntries: number;
  /** Entries kept in the log below a snapshot, so slightly lagging followers need none. */
  readonly snapshotKeepTailEntries: number;
  /** Messages queued while the node waits for its disk; more are dropped. */
  readonly inboxMessagesMax: number;
  /** Readies handled in one turn before the driver declares the core stuck. */
  readonly readiesPerTurnMax: number;
  /**
   * Send the leader's replication traffic (mayLeaveBeforePersist) before the Ready's fsync,
   * as the server does (Raft thesis 10.2.1); everything else still waits for the disk.
   */
  readonly earlyReplication: boolean;
  /**
   * While waiting for its disk, step an arriving acknowledgement at once and apply the
   * entries it commits (RawNode.committedDuringWrite), as the server does for a leader whose
   * followers answer before its own write is done; other messages still queue until the
   * write is durable. Only for a Ready that itself brings no committed entries or snapshot.
   */
  readonly applyDuringWrite: boolean;
}

/** What the node needs from the simulation around it. */
export interface NodeEnv {
  /** Calls node.diskDone(life) after `delayUs` of virtual time. */
  scheduleDiskDone(node: NodeId, life: number, delayUs: number): void;
  send(message: Message): void;
}

/** Hooks through which the checkers watch a node; each may throw an InvariantViolation. */
export interface NodeObserver {
  /** A Ready was taken: its entries and snapshot are now part of the node's log. */
  readyTaken(node: SimNode, ready: Ready): void;
  /** A write is about to become durable, replacing `before`. */
  beforeDurable(node: SimNode, write: DiskWrite, before: HardState): void;
  applied(node: SimNode, entry: Entry): void;
  snapshotRestored(node: SimNode, metadata: SnapshotMetadata, data: Uint8Array): void;
  snapshotTaken(node: SimNode, index: Index, data: Uint8Array): void;
  readState(node: SimNode, readState: ReadState): void;
  /** The node (re)started from its disk. */
  started(node: SimNode): void;
}

export interface SimNodeDeps {
  readonly env: NodeEnv;
  readonly observer: NodeObserver;
  readonly disk: SimDisk;
  /** Seeds each lifetime's RawNode (election jitter). */
  readonly rng: SeededRng;
  readonly createApp: ApplicationFactory;
  readonly createRaft?: (config: RaftConfig) => Raft;
}

export class SimNode {
  readonly id: NodeId;
  /** Incremented at every start; events of an earlier lifetime are ignored. */
  private lifetime = 0;
  private raw: RawNode | undefined;
  private app: Application;
  private appliedIndex = 0;
  /** The Ready whose write is in flight; the node handles nothing else until it is durable. */
  private blockedOn: Ready | undefined;
  private inbox: Message[] = [];
  private tickPending = false;
  private inboxDropped = 0;
  /** Entries applied while this node's own write was in flight (applyDuringWrite). */
  private appliedDuringWrite = 0;

  constructor(
    readonly config: SimNodeConfig,
    protected readonly deps: SimNodeDeps,
  ) {
    this.id = config.id;
    this.app = deps.createApp();
  }

  get life(): number {
    return this.lifetime;
  }

  get disk(): SimDisk {
    return this.deps.disk;
  }

  get application(): Application {
    return this.app;
  }

  get applied(): number {
    return this.appliedIndex;
  }

  isUp(): boolean {
    return this.raw !== undefined;
  }

  isBlocked(): boolean {
    return this.blockedOn !== undefined;
  }

  /** The RawNode of this lifetime; throws when the node is down. */
  rawNode(): RawNode {
    if (this.raw === undefined) throw new Error(`node ${this.id} is down (lifetime ${this.lifetime})`);
    return this.raw;
  }

  /** Starts (or restarts) the node from what its disk holds. */
  start(): void {
    if (this.raw !== undefined) throw new Error(`node ${this.id} is already up`);
    this.lifetime += 1;
    const snapshot = this.disk.storage.snapshot();
    this.app = this.deps.createApp();
    if (snapshot.metadata.index > 0) this.app.restore(snapshot.data);
    this.appliedIndex = snapshot.metadata.index;
    const config: RaftConfig = {
      ...this.config.raft,
      id: this.id,
      storage: this.disk.storage,
      rng: new SeededRng(this.deps.rng.nextUint32()),
      applied: asIndex(this.appliedIndex),
    };
    this.raw = new RawNode(config, this.deps.createRaft);
    this.deps.observer.started(this);
    this.runTurn();
  }

  /** Power loss: volatile state, queued input and the unsynced write are gone. */
  crash(): boolean {
    if (this.raw === undefined) throw new Error(`node ${this.id} is already down`);
    this.raw = undefined;
    this.blockedOn = undefined;
    this.inbox = [];
    this.tickPending = false;
    return this.disk.crash();
  }

  tick(): void {
    if (this.raw === undefined) return;
    if (this.blockedOn !== undefined) {
      // Like a timer on a busy event loop: late ticks coalesce into one.
      this.tickPending = true;
      return;
    }
    this.raw.tick();
    this.runTurn();
  }

  receive(message: Message): void {
    if (this.raw === undefined) return;
    const blockedOn = this.blockedOn;
    if (blockedOn !== undefined && this.config.applyDuringWrite && message.type === "appendResp" && blockedOn.committedEntries.length === 0 && blockedOn.snapshot === undefined) {
      this.raw.step(message);
      const entries = this.raw.committedDuringWrite();
      this.applyEntries(entries);
      this.appliedDuringWrite += entries.length;
      return;
    }
    if (blockedOn !== undefined) {
      if (this.inbox.length >= this.config.inboxMessagesMax) this.inboxDropped += 1;
      else this.inbox.push(message);
      return;
    }
    this.raw.step(message);
    this.runTurn();
  }

  /** A client request; undefined when the node cannot take one now (down or waiting for its disk). */
  /**
   * Client proposals, all taken in one driver turn (so they share one Ready and one fsync);
   * undefined when the node cannot take any now (down, or waiting for its disk).
   */
  propose(batch: readonly Uint8Array[]): ProposeResult[] | undefined {
    return this.request((raw) => batch.map((data) => raw.propose(data)));
  }

  proposeConfChange(change: ConfChange): ProposeResult | undefined {
    return this.request((raw) => raw.proposeConfChange(change));
  }

  transferLeader(to: NodeId): RequestResult | undefined {
    return this.request((raw) => raw.transferLeader(to));
  }

  readIndex(context: Uint8Array): RequestResult | undefined {
    return this.request((raw) => raw.readIndex(context));
  }

  /** The fsync of this lifetime's pending write returned. */
  diskDone(life: number): void {
    if (life !== this.lifetime || this.raw === undefined) return;
    const ready = this.blockedOn;
    if (ready === undefined) throw new Error(`node ${this.id}: disk completion without a pending write`);
    this.blockedOn = undefined;
    this.finishReady(ready);
    this.runTurn();
  }

  counters(): { inboxDropped: number; appliedDuringWrite: number } {
    return { inboxDropped: this.inboxDropped, appliedDuringWrite: this.appliedDuringWrite };
  }

  private request<R>(call: (raw: RawNode) => R): R | undefined {
    if (this.raw === undefined || this.blockedOn !== undefined) return undefined;
    const result = call(this.raw);
    this.runTurn();
    return result;
  }

  /** Handles readies until the core has nothing more to say or a write blocks the node. */
  private runTurn(): void {
    for (let turn = 0; turn < this.config.readiesPerTurnMax; turn++) {
      const raw = this.raw;
      if (raw === undefined || this.blockedOn !== undefined) return;
      this.drainInbox(raw);
      if (!raw.hasReady()) return;
      this.handleReady(raw.ready());
    }
    throw new Error(`node ${this.id}: still has a Ready after ${this.config.readiesPerTurnMax} in one turn`);
  }

  private drainInbox(raw: RawNode): void {
    const queued = this.inbox;
    this.inbox = [];
    for (const message of queued) raw.step(message);
    if (this.tickPending) {
      this.tickPending = false;
      raw.tick();
    }
  }

  /**
   * Step 1 of the Ready contract: make the hard state, entries and snapshot durable. The
   * rest (mirror, send, apply, advance) happens in finishReady once the write is durable;
   * only the leader's replication traffic may leave earlier (earlyReplication).
   * Protected so that a test can build a driver that breaks the contract.
   */
  protected handleReady(taken: Ready): void {
    this.deps.observer.readyTaken(this, taken);
    let ready = taken;
    if (this.config.earlyReplication && ready.messages.some(mayLeaveBeforePersist)) {
      this.sendAll(ready.messages.filter(mayLeaveBeforePersist));
      ready = { ...ready, messages: ready.messages.filter((m) => !mayLeaveBeforePersist(m)) };
    }
    const write: DiskWrite = {
      entries: ready.entries,
      ...(ready.hardState !== undefined ? { hardState: ready.hardState } : {}),
      ...(ready.snapshot !== undefined ? { snapshot: ready.snapshot } : {}),
    };
    const hasWrite = write.hardState !== undefined || write.entries.length > 0 || write.snapshot !== undefined;
    if (!hasWrite) {
      this.finishReady(ready);
      return;
    }
    this.disk.begin(write);
    // Without mustSync (only the commit index moved) the write needs no fsync wait.
    const delayUs = ready.mustSync ? this.disk.sampleFsyncUs() : 0;
    if (delayUs === 0) {
      this.finishReady(ready);
      return;
    }
    this.blockedOn = ready;
    this.deps.env.scheduleDiskDone(this.id, this.lifetime, delayUs);
  }

  /** Steps 2 to 6: mirror the durable write, send, apply, serve reads, advance. */
  private finishReady(ready: Ready): void {
    const pending = this.disk.pendingWrite();
    if (pending !== undefined) {
      this.deps.observer.beforeDurable(this, pending, this.disk.storage.hardState());
      this.disk.complete();
    }
    this.sendAll(ready.messages);
    this.applyReady(ready);
    for (const readState of ready.readStates) this.deps.observer.readState(this, readState);
    this.rawNode().advance();
    this.maybeSnapshot();
  }

  protected sendAll(messages: readonly Message[]): void {
    for (const message of messages) this.deps.env.send(message);
  }

  private applyReady(ready: Ready): void {
    const snapshot = ready.snapshot;
    if (snapshot !== undefined) {
      if (snapshot.metadata.index <= this.appliedIndex) {
        violated("applyOrder", `node ${this.id} got snapshot at ${snapshot.metadata.index} but has applied ${this.appliedIndex}`);
      }
      this.app.restore(snapshot.data);
      this.appliedIndex = snapshot.metadata.index;
      this.deps.observer.snapshotRestored(this, snapshot.metadata, snapshot.data);
    }
    this.applyEntries(ready.committedEntries);
  }

  private applyEntries(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.index !== this.appliedIndex + 1) {
        violated("applyOrder", `node ${this.id} applies ${entry.index}@${entry.term} after ${this.appliedIndex}`);
      }
      this.app.apply(entry);
      this.appliedIndex = entry.index;
      this.deps.observer.applied(this, entry);
    }
  }

  /** Every snapshotEveryEntries applied entries: snapshot the application, compact the log. */
  private maybeSnapshot(): void {
    const storage = this.disk.storage;
    if (this.appliedIndex - storage.snapshot().metadata.index < this.config.snapshotEveryEntries) return;
    const index = asIndex(this.appliedIndex);
    if (!this.commitRecordedThrough(index)) return;
    const data = this.app.snapshot();
    storage.createSnapshot(index, this.rawNode().confState(), data);
    this.deps.observer.snapshotTaken(this, index, data);
    const compactTo = this.appliedIndex - this.config.snapshotKeepTailEntries;
    if (compactTo >= storage.firstIndex()) storage.compact(asIndex(compactTo));
  }

  /**
   * As the server's durable log, this disk takes no snapshot beyond the commit index it holds;
   * like the server's driver (region-node.ts), this one records the commit of entries applied
   * during a write first (RawNode.hardStateCommittedThrough).
   */
  private commitRecordedThrough(index: Index): boolean {
    const storage = this.disk.storage;
    const recorded = storage.hardState();
    const hardState = this.rawNode().hardStateCommittedThrough(recorded, index);
    if (hardState === undefined) return false;
    if (hardState !== recorded) storage.setHardState(hardState);
    return true;
  }
}
