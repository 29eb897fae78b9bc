// A node's durable Raft state: log entries, hard state and snapshot, kept in a record store
// (LevelDB for DurableLog, memory for MemoryDurableLog) and mirrored into a MemoryStorage
// view that the Raft core reads.
//
// Every call is planned at once against a private "staged" view, which is where the durable
// state will be once every queued call is written: the plan checks the update, and the
// difference between the staged view before and after gives the keys to put and delete.
// The writer then takes the queued calls in order, writes them as one batch with one fsync
// (group commit), mirrors each into the public view, and only then resolves each caller.

import type { MemoryStorage } from "@geolock/raft";
import type { ConfState, HardState, Index, Snapshot } from "@geolock/raft";
import { EMPTY_CONF_STATE } from "@geolock/raft";
import { identityProblem } from "./checks.js";
import { StorageClosedError, StorageFailedError, StorageOverloadedError } from "./errors.js";
import type { NodeIdentity } from "./errors.js";
import type { RecordStore, StoreOp } from "./record-store.js";
import { buildView, readDiskState } from "./recovery.js";
import type { DiskState } from "./recovery.js";
import { applyCompact, applySaveSnapshot, applyUpdate, assertLogInvariants } from "./transitions.js";
import type { LogUpdate } from "./transitions.js";
import { bootstrapOps, chunkCountFor, entryDeleteOps, entryOps, hardStateOp, logStartOp, opBytes, snapshotOps } from "./write-ops.js";

export interface DurableLogOptions {
  /** The membership of a fresh node; ignored when the directory already holds a log. */
  readonly initialConfState?: ConfState;
  /** Snapshot data is stored in records of at most this many bytes. Default 1 MiB. */
  readonly snapshotChunkBytes?: number;
  /** At most this many calls share one fsync batch. Default 1024. */
  readonly batchCallsMax?: number;
  /** A batch takes no further call once it holds this many bytes (one larger call goes alone). Default 64 MiB. */
  readonly batchBytesMax?: number;
  /** Calls waiting for their fsync beyond this are refused with StorageOverloadedError. Default 16384. */
  readonly pendingCallsMax?: number;
  /** Recovery refuses a database holding more records than this. Default 100 million. */
  readonly recordsMax?: number;
}

type Limits = Required<Omit<DurableLogOptions, "initialConfState">>;

const DEFAULT_LIMITS: Limits = {
  snapshotChunkBytes: 1 << 20,
  batchCallsMax: 1024,
  batchBytesMax: 64 << 20,
  pendingCallsMax: 16384,
  recordsMax: 100_000_000,
};

/** What the server needs to restart a node, as recovered from disk. */
export interface RecoveredLog {
  /** True when the directory was empty and has just been initialised. */
  readonly fresh: boolean;
  readonly hardState: HardState;
  readonly snapshot: Snapshot;
  readonly firstIndex: Index;
  readonly lastIndex: Index;
}

/** Counters for metrics and for tests that check group commit. */
export interface LogStats {
  /** Batches written with an fsync. */
  readonly syncBatches: number;
  /** Batches written without one (every call in them asked for no sync). */
  readonly unsyncedBatches: number;
  /** Calls made durable by those batches. */
  readonly syncedCalls: number;
}

interface PendingWrite {
  readonly ops: readonly StoreOp[];
  /** False for a write whose loss in a crash is harmless (a commit-index-only hard state). */
  readonly sync: boolean;
  /** Whether its mirror sets the view's hard state. */
  readonly setsHardState: boolean;
  readonly bytes: number;
  readonly mirror: (view: MemoryStorage) => void;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

interface Plan {
  readonly ops: readonly StoreOp[];
  readonly mirror: (view: MemoryStorage) => void;
  readonly setsHardState?: boolean;
}

export class NodeLog {
  /** The RaftStorage the core reads: holds only what is durable. */
  readonly view: MemoryStorage;
  readonly recovered: RecoveredLog;
  private readonly staged: MemoryStorage;
  private stagedChunkCount: number;
  private readonly limits: Limits;
  private readonly queue: PendingWrite[] = [];
  /** A drain is scheduled or running. */
  private writing = false;
  private draining = false;
  private failure: StorageFailedError | null = null;
  private closing: Promise<void> | null = null;
  private idleWaiters: (() => void)[] = [];
  private syncBatches = 0;
  private unsyncedBatches = 0;
  /** Whether the batch being written sets the hard state when it is mirrored. */
  private inFlightSetsHardState = false;
  private syncedCalls = 0;

  protected constructor(
    private readonly store: RecordStore,
    readonly identity: NodeIdentity,
    state: DiskState,
    fresh: boolean,
    limits: Limits,
  ) {
    this.limits = limits;
    this.view = buildView(state);
    this.staged = buildView(state);
    assertLogInvariants(this.view);
    this.stagedChunkCount = state.snapshotChunkCount;
    this.recovered = {
      fresh,
      hardState: this.view.hardState(),
      snapshot: this.view.snapshot(),
      firstIndex: this.view.firstIndex(),
      lastIndex: this.view.lastIndex(),
    };
  }

  /**
   * Reads and validates the store, initialising it first when empty, and hands the state to
   * `make`. Closes the store when recovery fails, so the directory's lock is released.
   */
  protected static async recover<T extends NodeLog>(
    store: RecordStore,
    identity: NodeIdentity,
    options: DurableLogOptions,
    make: (state: DiskState, fresh: boolean, limits: Limits) => T,
  ): Promise<T> {
    try {
      const problem = identityProblem(identity);
      if (problem !== null) throw new Error(`storage: invalid identity: ${problem}`);
      const limits = resolveLimits(options);
      let state = await readDiskState(store, identity, limits.recordsMax);
      const fresh = state === null;
      if (state === null) {
        await store.write(bootstrapOps(identity, options.initialConfState ?? EMPTY_CONF_STATE));
        // Read the fresh records back through the same checks as any restart.
        state = await readDiskState(store, identity, limits.recordsMax);
        if (state === null) throw new Error("storage: the database is still empty after initialisation");
      }
      return make(state, fresh, limits);
    } catch (error) {
      await store.close().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Makes a Ready's snapshot, entries and hard state durable in one fsync, then mirrors them
   * into the view. Resolves only once they are durable and visible in the view.
   * `sync: false` is for a Ready whose only change is the commit index (Ready.mustSync is
   * false): Raft does not need it durable, so it rides without an fsync of its own, unless
   * it shares a batch with a call that needs one.
   */
  persist(update: LogUpdate, options: { readonly sync?: boolean } = {}): Promise<void> {
    return this.submit(() => this.planPersist(update), options.sync ?? true);
  }

  /**
   * Takes a higher commit index at once, without writing it: Raft does not need the commit
   * index durable (a restarted node learns it again), so a Ready whose only change is the
   * commit index (Ready.mustSync false) costs no disk write. The next persist that carries
   * a hard state, or the next saveSnapshot, writes it. Throws if term or vote differ from
   * the durable ones, or the commit goes back or beyond the log.
   */
  advanceCommit(hardState: HardState): void {
    if (this.failure !== null) throw this.failure;
    const current = this.staged.hardState();
    if (hardState.term !== current.term || hardState.vote !== current.vote) {
      throw new Error(`storage: advanceCommit may only move the commit index, got ${JSON.stringify(hardState)} over ${JSON.stringify(current)}`);
    }
    if (hardState.commit < current.commit || hardState.commit > this.staged.lastIndex()) {
      throw new Error(`storage: commit ${hardState.commit} outside [${current.commit}, ${this.staged.lastIndex()}]`);
    }
    if (this.inFlightSetsHardState || this.queue.some((write) => write.setsHardState)) {
      // Its mirror would set an older commit index on the view after this one.
      throw new Error("storage: advanceCommit while a write that sets the hard state is queued");
    }
    this.staged.setHardState(hardState);
    this.view.setHardState(hardState);
  }

  /**
   * Hands the queued calls to the store now instead of on the next microtask. For a caller
   * with CPU work to do before it awaits them: the store writes and fsyncs on its own
   * thread meanwhile, where otherwise the write would start only after that work.
   */
  startWriting(): void {
    this.startDrain();
  }

  /** Records an application snapshot covering the log up to its (committed) index. */
  saveSnapshot(snapshot: Snapshot): Promise<void> {
    return this.submit(() => this.planSaveSnapshot(snapshot), true);
  }

  /** Deletes the entries up to `index - keepTail`; `index` must be covered by the snapshot. */
  compact(index: Index, keepTail: number): Promise<void> {
    return this.submit(() => this.planCompact(index, keepTail), true);
  }

  stats(): LogStats {
    return { syncBatches: this.syncBatches, unsyncedBatches: this.unsyncedBatches, syncedCalls: this.syncedCalls };
  }

  /** Waits for every queued call to become durable, then closes the store. Later calls are refused. */
  close(): Promise<void> {
    if (this.closing === null) {
      this.closing = this.whenIdle().then(() => this.store.close());
    }
    return this.closing;
  }

  private planPersist(update: LogUpdate): Plan {
    const chunkOps =
      update.snapshot === undefined ? [] : snapshotOps(update.snapshot, this.limits.snapshotChunkBytes, this.stagedChunkCount);
    const logOps = this.stageLogChange((staged) => applyUpdate(staged, update));
    if (update.snapshot !== undefined) this.stagedChunkCount = chunkCountFor(update.snapshot.data.length, this.limits.snapshotChunkBytes);
    const firstKept = this.staged.firstIndex();
    const puts = entryOps(update.entries.filter((entry) => entry.index >= firstKept));
    const hardOps = update.hardState === undefined ? [] : [hardStateOp(update.hardState)];
    return { ops: [...logOps, ...chunkOps, ...puts, ...hardOps], mirror: (view) => applyUpdate(view, update), setsHardState: update.hardState !== undefined };
  }

  private planSaveSnapshot(snapshot: Snapshot): Plan {
    applySaveSnapshot(this.staged, snapshot);
    // The hard state goes along: its commit index may have advanced without a write
    // (advanceCommit), and a durable snapshot beyond the durable commit would not recover.
    const ops = [...snapshotOps(snapshot, this.limits.snapshotChunkBytes, this.stagedChunkCount), hardStateOp(this.staged.hardState())];
    this.stagedChunkCount = chunkCountFor(snapshot.data.length, this.limits.snapshotChunkBytes);
    return { ops, mirror: (view) => applySaveSnapshot(view, snapshot) };
  }

  private planCompact(index: Index, keepTail: number): Plan {
    const ops = this.stageLogChange((staged) => applyCompact(staged, index, keepTail));
    return { ops, mirror: (view) => applyCompact(view, index, keepTail) };
  }

  /**
   * Applies a transition to the staged view and returns the ops that move the disk along:
   * deletes for entry keys that left the log (a compacted prefix, a replaced suffix), and
   * the new log start when it moved. Puts of new entries are the caller's.
   */
  private stageLogChange(transition: (staged: MemoryStorage) => void): StoreOp[] {
    const staged = this.staged;
    const firstBefore = staged.firstIndex();
    const lastBefore = staged.lastIndex();
    transition(staged);
    const firstAfter = staged.firstIndex();
    const lastAfter = staged.lastIndex();
    const ops = [
      ...entryDeleteOps(firstBefore, Math.min(lastBefore, firstAfter - 1)),
      ...entryDeleteOps(Math.max(firstBefore, lastAfter + 1), lastBefore),
    ];
    if (firstAfter !== firstBefore) {
      const startIndex = (firstAfter - 1) as Index;
      ops.push(logStartOp({ index: startIndex, term: staged.term(startIndex) }));
    }
    return ops;
  }

  private submit(plan: () => Plan, sync: boolean): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.closing !== null) return Promise.reject(new StorageClosedError());
    if (this.queue.length >= this.limits.pendingCallsMax) {
      return Promise.reject(new StorageOverloadedError(this.queue.length, this.limits.pendingCallsMax));
    }
    let planned: Plan;
    try {
      planned = plan();
    } catch (error) {
      // The staged view may be half-changed: it no longer describes what the disk will hold.
      return Promise.reject(this.fail(error));
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ ops: planned.ops, mirror: planned.mirror, setsHardState: planned.setsHardState ?? false, sync, bytes: opBytes(planned.ops), resolve, reject });
      if (!this.writing) {
        this.writing = true;
        // Start on a microtask so that calls made in the same turn share the first batch.
        queueMicrotask(() => this.startDrain());
      }
    });
  }

  private startDrain(): void {
    if (!this.writing || this.draining) return;
    this.draining = true;
    void this.drain();
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && this.failure === null) {
      const batch = this.takeBatch();
      const ops = batch.flatMap((write) => write.ops);
      const sync = batch.some((write) => write.sync);
      this.inFlightSetsHardState = batch.some((write) => write.setsHardState);
      try {
        if (ops.length > 0) await this.store.write(ops, sync);
      } catch (error) {
        this.inFlightSetsHardState = false;
        this.rejectAll(batch, this.fail(error));
        break;
      }
      if (ops.length > 0 && sync) this.syncBatches += 1;
      else if (ops.length > 0) this.unsyncedBatches += 1;
      this.syncedCalls += batch.length;
      this.mirrorAndResolve(batch);
      this.inFlightSetsHardState = false;
    }
    this.writing = false;
    this.draining = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  /** The oldest queued calls, in order, within the batch bounds; always at least one. */
  private takeBatch(): PendingWrite[] {
    let count = 0;
    let bytes = 0;
    while (count < this.queue.length && count < this.limits.batchCallsMax) {
      const next = this.queue[count] as PendingWrite;
      if (count > 0 && bytes + next.bytes > this.limits.batchBytesMax) break;
      bytes += next.bytes;
      count += 1;
    }
    return this.queue.splice(0, count);
  }

  private mirrorAndResolve(batch: readonly PendingWrite[]): void {
    for (let i = 0; i < batch.length; i++) {
      const write = batch[i] as PendingWrite;
      try {
        write.mirror(this.view);
      } catch (error) {
        this.rejectAll(batch.slice(i), this.fail(error));
        return;
      }
      write.resolve();
    }
  }

  /** Enters the failed state (once) and rejects every queued call. */
  private fail(cause: unknown): StorageFailedError {
    if (this.failure === null) this.failure = new StorageFailedError(cause);
    this.rejectAll(this.queue.splice(0), this.failure);
    return this.failure;
  }

  private rejectAll(writes: readonly PendingWrite[], error: Error): void {
    for (const write of writes) write.reject(error);
  }

  private whenIdle(): Promise<void> {
    if (!this.writing && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}

function resolveLimits(options: DurableLogOptions): Limits {
  const limits: Limits = {
    snapshotChunkBytes: options.snapshotChunkBytes ?? DEFAULT_LIMITS.snapshotChunkBytes,
    batchCallsMax: options.batchCallsMax ?? DEFAULT_LIMITS.batchCallsMax,
    batchBytesMax: options.batchBytesMax ?? DEFAULT_LIMITS.batchBytesMax,
    pendingCallsMax: options.pendingCallsMax ?? DEFAULT_LIMITS.pendingCallsMax,
    recordsMax: options.recordsMax ?? DEFAULT_LIMITS.recordsMax,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new Error(`storage: option ${name} ${value} is not an integer >= 1`);
  }
  return limits;
}
