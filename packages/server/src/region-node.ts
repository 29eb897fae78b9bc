// The Raft driver of one node: it ticks the core from a monotonic clock, feeds it the peer
// messages, and runs each Ready through the persistence contract (persist with one fsync,
// then send, then apply, then advance). Proposals made while a Ready is being persisted
// wait in the core's unstable log and go out together in the next Ready: that is group
// commit, and it is why throughput grows with concurrency.

import {
  asIndex,
  mayLeaveBeforePersist,
  RawNode,
  SeededRng,
  type Entry,
  type Index,
  type Message,
  type NodeId,
  type ProposeResult,
  type RaftStatus,
  type ReadState,
  type Role,
  type Term,
} from "@geolock/raft";
import type { NodeLog } from "@geolock/storage";
import { raftChannelValidator, type PeerId, type PeerTransport } from "@geolock/transport";
import type { Logger } from "pino";

/** The replicated application: applied in log order on every replica. */
export interface RaftApplication {
  /** Applies one committed entry that carries data (the leader's empty no-op is skipped). */
  applyEntry(entry: Entry): void;
  /** The state as of the last applied entry, as bytes. */
  snapshot(): Uint8Array;
  /** Replaces the state with a snapshot's (received from the leader, or loaded at start). */
  restore(data: Uint8Array): void;
  /** Called when this node's role or known leader changes. */
  onLeadership?(role: Role, leader: NodeId, term: Term): void;
}

export interface RegionNodeOptions {
  readonly nodeId: NodeId;
  /** Every member of the group (this node included) and its transport name. */
  readonly members: ReadonlyMap<NodeId, PeerId>;
  /** Milliseconds per Raft tick. */
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /** Take an application snapshot after this many entries were applied since the last one. */
  readonly snapshotEveryEntries: number;
  /** Entries kept behind a snapshot, so that slightly lagging followers need no snapshot. */
  readonly snapshotKeepTailEntries: number;
  /** Seeds the election-timeout jitter. */
  readonly seed: number;
  /** How long an empty append may wait to be replaced by the next one (default EMPTY_APPEND_HOLD_MS). */
  readonly emptyAppendHoldMs?: number;
}

export const RAFT_CHANNEL = "raft";

const TEXT_ENCODER = new TextEncoder();
const TEXT_DECODER = new TextDecoder();

/**
 * How long an empty append (a commit update, a probe) may wait by default for the next
 * append to the same follower, which carries a commit index at least as new and replaces
 * it. Under load that saves a frame and an acknowledgement per follower per batch, but only
 * if the hold outlasts the time between batches: with 64 clients on two cores a round of
 * answers and new requests takes 3-8 ms, and a 2 ms hold fired in nearly every round.
 * Idle, a follower learns of a commit this much later: its applied state (and a watch it
 * serves) lags; no answer waits for it, and a ReadIndex heartbeat carries the commit anyway.
 */
export const EMPTY_APPEND_HOLD_MS = 20;

/** How long a linearizable read may wait for its ReadIndex before it is abandoned. */
const READ_INDEX_TIMEOUT_MS = 5_000;

interface PendingRead {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
  /** Set once the leader confirmed the read: it may be served once applied reaches it. */
  index?: Index;
}

export class RegionNode {
  private readonly raw: RawNode;
  private readonly nodeIdOf: ReadonlyMap<PeerId, NodeId>;
  private ticker: NodeJS.Timeout | undefined;
  private draining = false;
  private stopped = false;
  private applied: Index;
  private appliedSinceSnapshot = 0;
  private snapshotting = false;
  private readSeq = 0;
  private readonly pendingReads = new Map<string, PendingRead>();
  /** Confirmed reads waiting for the applied index to reach theirs, in index order. */
  private readonly confirmedReads: PendingRead[] = [];
  private fatal: ((error: Error) => void) | undefined;
  /** Empty appends waiting emptyAppendHoldMs for an append that replaces them, by follower. */
  private readonly heldEmptyAppends = new Map<NodeId, Message>();
  private heldTimer: NodeJS.Timeout | undefined;
  /**
   * Set while a leader's own write of a Ready is in flight and the Ready's committed entries
   * are applied: entries that acknowledgements commit meanwhile are applied as they arrive.
   */
  private applyingDuringWrite = false;
  private role: Role = "follower";
  /** Run once each just before the core's next Ready is taken (beforeNextReady). */
  private beforeReady: (() => void)[] = [];

  constructor(
    private readonly options: RegionNodeOptions,
    private readonly log: NodeLog,
    private readonly transport: PeerTransport,
    private readonly app: RaftApplication,
    private readonly logger: Logger,
  ) {
    const snapshot = log.view.snapshot();
    if (snapshot.metadata.index > 0) app.restore(snapshot.data);
    this.applied = snapshot.metadata.index;
    this.raw = new RawNode({
      id: options.nodeId,
      storage: log.view,
      rng: new SeededRng(options.seed),
      electionTicks: options.electionTicks,
      heartbeatTicks: options.heartbeatTicks,
      applied: snapshot.metadata.index,
      logger: {
        debug: (fields, message) => logger.debug(fields, message),
        info: (fields, message) => logger.info(fields, message),
        warn: (fields, message) => logger.warn(fields, message),
      },
    });
    this.nodeIdOf = new Map([...options.members].map(([id, peer]) => [peer, id]));
    transport.registerChannel(
      RAFT_CHANNEL,
      raftChannelValidator({ self: options.nodeId, nodeIdOf: (peer) => this.nodeIdOf.get(peer) }),
      (_from, message: Message) => this.step(message),
    );
  }

  /** Starts ticking. `onFatal` hears of errors the node cannot survive (a failed disk). */
  start(onFatal: (error: Error) => void): void {
    this.fatal = onFatal;
    this.ticker = setInterval(() => {
      this.raw.tick();
      this.schedule();
    }, this.options.tickMs);
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.ticker !== undefined) clearInterval(this.ticker);
    clearTimeout(this.heldTimer);
    this.heldEmptyAppends.clear();
    this.beforeReady = [];
    for (const read of this.pendingReads.values()) this.failRead(read, new Error("node stopping"));
    this.pendingReads.clear();
    for (const read of this.confirmedReads.splice(0)) this.failRead(read, new Error("node stopping"));
  }

  step(message: Message): void {
    if (this.stopped) return;
    this.raw.step(message);
    if (this.applyingDuringWrite) {
      try {
        this.applyCommittedDuringWrite();
      } catch (error) {
        // Whatever stops an apply in the drain stops it here too, not the message's sender.
        this.fail(error);
        return;
      }
    }
    this.schedule();
  }

  /**
   * Runs `flush` once, just before the core's next Ready is taken: in this turn's drain, or
   * in the one after the write in flight. A proposer that gathers requests proposes them
   * from there, so that requests that arrived on many connections in one turn, or during a
   * write, go out as one entry rather than one entry per connection.
   */
  beforeNextReady(flush: () => void): void {
    if (this.stopped) return;
    this.beforeReady.push(flush);
    this.schedule();
  }

  propose(data: Uint8Array): ProposeResult {
    const result = this.raw.propose(data);
    if (result.ok) this.schedule();
    return result;
  }

  transferLeader(to: NodeId): boolean {
    const result = this.raw.transferLeader(to);
    this.schedule();
    return result.ok;
  }

  status(): RaftStatus {
    return this.raw.status();
  }

  appliedIndex(): Index {
    return this.applied;
  }

  /**
   * Resolves once a read of the applied state is linearizable: the leader confirmed with a
   * quorum that it still leads, and this node has applied everything committed before the
   * read began. Rejects when no leader confirms in time.
   */
  linearizableRead(): Promise<void> {
    const key = String(++this.readSeq);
    const context = TEXT_ENCODER.encode(key);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingReads.delete(key);
        const i = this.confirmedReads.indexOf(read);
        if (i >= 0) this.confirmedReads.splice(i, 1);
        reject(new Error("read index not confirmed in time"));
      }, READ_INDEX_TIMEOUT_MS);
      const read: PendingRead = { resolve, reject, timer };
      const result = this.raw.readIndex(context);
      if (!result.ok) {
        clearTimeout(timer);
        reject(new Error(`read refused: ${result.reason}`));
        return;
      }
      this.pendingReads.set(key, read);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.draining || this.stopped || (!this.raw.hasReady() && this.beforeReady.length === 0)) return;
    this.draining = true;
    setImmediate(() => {
      this.drain().catch((error: unknown) => this.fail(error));
    });
  }

  private async drain(): Promise<void> {
    try {
      while (!this.stopped) {
        this.runBeforeReady();
        if (!this.raw.hasReady()) break;
        const ready = this.raw.ready();
        const leading = (ready.softState?.role ?? this.role) === "leader";
        // On a leader, committed entries that were already durable before this Ready are
        // applied while its own write is in flight: their answers leave one fsync earlier. A
        // follower's applies answer nobody, and JavaScript cannot interrupt an apply when the
        // write completes: its acknowledgement, which the commit waits for, would leave only
        // after it (a 60-command batch outlasts the fsync). A follower applies after acking.
        const durableNow = leading && ready.snapshot === undefined ? this.durablePrefix(ready.committedEntries) : 0;
        // The leader's appends go out now, so followers fsync while this node does.
        for (const message of ready.messages) if (mayLeaveBeforePersist(message)) this.send(message);
        // Written before the disk batch is built and before the apply, not after them.
        this.transport.flush?.();
        let persisted: Promise<void> | undefined;
        if (ready.snapshot !== undefined || ready.entries.length > 0 || ready.mustSync) {
          persisted = this.log.persist({ hardState: ready.hardState, entries: ready.entries, snapshot: ready.snapshot }, { sync: ready.mustSync });
          // The disk works while the leader applies below, not after.
          this.log.startWriting();
        } else if (ready.hardState !== undefined) {
          this.log.advanceCommit(ready.hardState);
        }
        this.apply(ready.committedEntries.slice(0, durableNow));
        // A Ready with nothing to write goes on in this turn, as before.
        if (persisted !== undefined) {
          // A leader descheduled between its sends starts its own write late; the followers'
          // acknowledgements then commit the entries first, and their answers need not wait
          // for this disk (the rest of the Ready's committed entries must be applied first).
          this.applyingDuringWrite = leading && durableNow === ready.committedEntries.length && ready.snapshot === undefined;
          try {
            await persisted;
          } finally {
            this.applyingDuringWrite = false;
          }
        }
        if (this.stopped) return;
        for (const message of ready.messages) if (!mayLeaveBeforePersist(message)) this.send(message);
        // A follower's acknowledgement leaves before it applies what this Ready committed.
        this.transport.flush?.();
        if (ready.snapshot !== undefined) {
          this.app.restore(ready.snapshot.data);
          this.applied = ready.snapshot.metadata.index;
          this.appliedSinceSnapshot = 0;
        }
        this.apply(ready.committedEntries.slice(durableNow));
        this.raw.advance();
        if (ready.softState !== undefined) {
          this.role = ready.softState.role;
          const status = this.raw.status();
          this.logger.info({ term: status.term, role: ready.softState.role, leader: ready.softState.leader }, "raft role changed");
          this.app.onLeadership?.(ready.softState.role, ready.softState.leader, status.term);
        }
        this.confirmReads(ready.readStates);
        this.serveConfirmedReads();
        this.maybeSnapshot();
      }
    } finally {
      this.draining = false;
    }
    this.schedule();
  }

  private runBeforeReady(): void {
    if (this.beforeReady.length === 0) return;
    const flushes = this.beforeReady;
    this.beforeReady = [];
    for (const flush of flushes) flush();
  }

  private applyCommittedDuringWrite(): void {
    const entries = this.raw.committedDuringWrite();
    if (entries.length === 0) return;
    this.apply(entries);
    this.serveConfirmedReads();
  }

  /** How many of `entries` (in order) are in the durable log with the same term. */
  private durablePrefix(entries: readonly Entry[]): number {
    const view = this.log.view;
    const first = view.firstIndex();
    const last = view.lastIndex();
    let count = 0;
    for (const entry of entries) {
      if (entry.index < first || entry.index > last || view.term(entry.index) !== entry.term) break;
      count += 1;
    }
    return count;
  }

  private apply(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.index !== this.applied + 1) {
        throw new Error(`raft driver: applying entry ${entry.index} after ${this.applied}: entries must be applied in order without gaps`);
      }
      if (entry.kind === "normal" && entry.data.byteLength > 0) this.app.applyEntry(entry);
      this.applied = entry.index;
      this.appliedSinceSnapshot += 1;
    }
  }

  /**
   * Sends now, except an empty append, which is held briefly: a later append to the same
   * follower supersedes it (dropping a Raft message is always safe; this one only delays a
   * commit index). Anything else to that follower sends the held one first, keeping order.
   */
  private send(message: Message): void {
    const held = this.heldEmptyAppends.get(message.to);
    if (message.type === "append") {
      if (message.entries.length === 0) {
        this.heldEmptyAppends.set(message.to, message);
        this.heldTimer ??= setTimeout(() => this.sendHeld(), this.options.emptyAppendHoldMs ?? EMPTY_APPEND_HOLD_MS);
        return;
      }
      if (held !== undefined) this.heldEmptyAppends.delete(message.to);
    } else if (held !== undefined) {
      this.heldEmptyAppends.delete(message.to);
      this.sendNow(held);
    }
    this.sendNow(message);
  }

  private sendHeld(): void {
    this.heldTimer = undefined;
    if (this.stopped) return;
    for (const message of this.heldEmptyAppends.values()) this.sendNow(message);
    this.heldEmptyAppends.clear();
    this.transport.flush?.();
  }

  private sendNow(message: Message): void {
    const peer = this.options.members.get(message.to);
    if (peer === undefined) return;
    const outcome = this.transport.send(peer, RAFT_CHANNEL, message);
    if (outcome !== "queued" && !this.transport.isConnected(peer)) this.raw.reportUnreachable(message.to);
  }

  private confirmReads(readStates: readonly ReadState[]): void {
    for (const state of readStates) {
      const key = TEXT_DECODER.decode(state.context);
      const read = this.pendingReads.get(key);
      if (read === undefined) continue;
      this.pendingReads.delete(key);
      read.index = state.index;
      this.confirmedReads.push(read);
    }
  }

  private serveConfirmedReads(): void {
    let kept = 0;
    for (const read of this.confirmedReads) {
      if ((read.index as Index) <= this.applied) {
        clearTimeout(read.timer);
        read.resolve();
      } else {
        this.confirmedReads[kept++] = read;
      }
    }
    this.confirmedReads.length = kept;
  }

  private failRead(read: PendingRead, error: Error): void {
    clearTimeout(read.timer);
    read.reject(error);
  }

  private maybeSnapshot(): void {
    if (this.snapshotting || this.appliedSinceSnapshot < this.options.snapshotEveryEntries) return;
    if (!this.commitRecordedThrough(this.applied)) return;
    this.snapshotting = true;
    const index = this.applied;
    const data = this.app.snapshot();
    const snapshotIndex = asIndex(index);
    const term = this.log.view.term(snapshotIndex);
    const snapshot = { metadata: { index: snapshotIndex, term, confState: this.raw.confState() }, data };
    this.appliedSinceSnapshot = 0;
    this.log
      .saveSnapshot(snapshot)
      .then(() => this.log.compact(snapshotIndex, this.options.snapshotKeepTailEntries))
      .then(() => this.logger.info({ index, bytes: data.byteLength }, "snapshot taken and log compacted"))
      .catch((error: unknown) => this.fail(error))
      .finally(() => {
        this.snapshotting = false;
      });
  }

  /**
   * Whether the log's commit index reaches `index`, telling it so (no write) if needed: a
   * leader's entries applied during its own write are committed beyond the hard state of the
   * Ready that wrote them, and with a leader whose disk is slower than its followers' every
   * Ready is like that, so waiting for a later one could put the snapshot off indefinitely.
   */
  private commitRecordedThrough(index: Index): boolean {
    const recorded = this.log.view.hardState();
    const hardState = this.raw.hardStateCommittedThrough(recorded, index);
    if (hardState === undefined) return false;
    if (hardState !== recorded) this.log.advanceCommit(hardState);
    return true;
  }

  private fail(error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error));
    this.logger.fatal({ err }, "raft driver failed");
    this.stopped = true;
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.fatal?.(err);
  }
}
