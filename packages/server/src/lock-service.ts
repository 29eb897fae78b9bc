// The region's lock service: the replicated application that runs the lock state machine,
// and the leader-side path that turns client requests into stamped, proposed commands and
// their committed answers into responses.
//
// Answers and events are computed on every replica by the same deterministic apply, so any
// replica can resolve what it is waiting for: a queued acquire is answered by the `granted`
// or `waitTimedOut` event wherever the request is parked, even if the leader changed since.

import { LockStateMachine, type LockAnswer, type LockCommand, type LockEvent, type LockStatus } from "@geolock/locks";
import { NO_NODE, type Entry, type NodeId, type Role, type Term } from "@geolock/raft";
import { decodePlain, encodeValue } from "@geolock/transport";
import type { Logger } from "pino";
import type { Clock } from "./clock.js";
import { RequestError, type ClientPush } from "@geolock/transport";
import { LockWatches, type WatchSink } from "./lock-watches.js";
import { encodeLockBatchEntry, encodeLockEntry, survivesEncoding } from "./region-entry.js";
import type { RegionNode } from "./region-node.js";

/** A client command before the leader stamps it with its clock. */
export type UnstampedCommand = DistributiveOmit<Exclude<LockCommand, { type: "tick" }>, "nowMs">;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface LockServiceOptions {
  readonly region: string;
  /** How often the leader proposes a tick, letting due sessions and waits expire. */
  readonly tickCommandMs: number;
  /** How long a proposal may wait for its entry to be applied before TIMEOUT. */
  readonly proposalTimeoutMs: number;
  /** Names the node that leads, for NOT_LEADER hints ("region/node"). */
  readonly peerNameOf: (node: NodeId) => string;
}

interface AnswerWaiter {
  readonly resolve: (answer: LockAnswer) => void;
  readonly reject: (error: RequestError) => void;
}

/** A proposed entry: the waiters of the commands it carries, in order. */
interface PendingProposal {
  readonly term: Term;
  /** The entry's bytes, as handed to Raft, and the commands they were encoded from. */
  readonly data: Uint8Array;
  /** Undefined when a command would not survive the encoding unchanged (survivesEncoding). */
  readonly proposed: OwnEntry | undefined;
  readonly waiters: readonly AnswerWaiter[];
  readonly timer: NodeJS.Timeout;
}

/** A lock entry in the form the leader encoded it from. */
export type OwnEntry = { readonly kind: "lock"; readonly command: LockCommand } | { readonly kind: "lockBatch"; readonly commands: readonly LockCommand[] };

/**
 * Commands gathered for one Ready share one entry, up to this many: one Raft entry, one disk
 * record and one replicated envelope instead of one each. openSession goes alone (its
 * session id is its entry's index). The largest command (a 128-byte client id, 256-byte
 * name and owner) encodes to under 1 KB, so a full batch stays far below the 1 MiB entry
 * limit that peers enforce (raft-validation.ts maxEntryBytes).
 */
export const BATCH_COMMANDS_MAX = 128;

interface ParkedWait {
  readonly resolve: (answer: LockAnswer) => void;
  readonly reject: (error: RequestError) => void;
  readonly timer: NodeJS.Timeout;
}

/** A lock command as RegionApplication took it out of its entry envelope. */
export type LockEntryCommand = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly reason: string };

/** What the lock service needs of its Raft node: proposing entries (gathered until the next Ready) and linearizable reads. */
export type LockServiceNode = Pick<RegionNode, "propose" | "beforeNextReady" | "linearizableRead">;

/** The regional part of the region's replicated application (region-application.ts dispatches to it). */
export class LockService {
  private machine = new LockStateMachine();
  private node: LockServiceNode | undefined;
  private role: Role = "follower";
  private leader: NodeId = NO_NODE;
  private tickTimer: NodeJS.Timeout | undefined;
  private readonly proposals = new Map<number, PendingProposal>();
  /** Commands not yet proposed (they wait for the Raft driver's next Ready), and whether their flush is queued. */
  private batch: { readonly command: LockCommand; readonly waiter: AnswerWaiter }[] = [];
  private batchFlushQueued = false;
  /**
   * The batch's commands wait for the Raft driver's next Ready, which waits for the write in
   * flight: a disk that never finishes must not keep them unanswered (a proposal's own timer
   * starts only once it is proposed). One watchdog, not a timer per batch: it checks when the
   * current batch began, and lapses when no batch waits.
   */
  private batchWatchdog: NodeJS.Timeout | undefined;
  /** When the current batch took its first command (real time, like the timers it sets). */
  private batchSinceMs = 0;
  /**
   * Acquires answered "queued", by session and then name, until granted or timed out. By
   * session first, so that closing a session finds its waits without scanning everyone's.
   */
  private readonly parked = new Map<number, Map<string, ParkedWait[]>>();
  private readonly pushListeners = new Set<(clientId: string, push: ClientPush) => void>();

  constructor(
    private readonly options: LockServiceOptions,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** Who watches which lock on this node; told of every grant and release applied. */
    readonly watches: LockWatches = new LockWatches(),
  ) {}

  attach(node: LockServiceNode): void {
    this.node = node;
  }

  onPush(listener: (clientId: string, push: ClientPush) => void): () => void {
    this.pushListeners.add(listener);
    return () => this.pushListeners.delete(listener);
  }

  isLeader(): boolean {
    return this.role === "leader";
  }

  leaderHint(): string | undefined {
    return this.leader === NO_NODE ? undefined : this.options.peerNameOf(this.leader);
  }

  /**
   * Proposes a client command and resolves with its committed answer. A queued acquire
   * resolves only when it is granted (or with TIMEOUT when its wait ends).
   */
  async submit(command: UnstampedCommand): Promise<LockAnswer> {
    const answer = await this.propose(stamp(command, this.clock.nowMs()));
    if (answer.type === "queued" && command.type === "acquire") return this.awaitGrant(command.sessionId, command.name, command.waitMs);
    return answer;
  }

  /** A linearizable status read: confirmed by ReadIndex, served from the applied state. */
  async status(name: string): Promise<LockStatus> {
    await this.requireNode().linearizableRead().catch((error: Error) => {
      throw new RequestError("NOT_LEADER", `status of ${name} could not be confirmed: ${error.message}`, this.leaderHint());
    });
    return this.machine.status(name);
  }

  /**
   * Starts a watch of `name` for `sink` and resolves with the lock's status and the index it
   * reflects, read linearizably. The watch is registered first, so a change applied while the
   * read is confirmed is pushed too (with an index at or below the status's, which the
   * client skips): nothing falls between the status and the pushes.
   */
  async watch(sink: WatchSink, watchId: number, name: string): Promise<{ index: number; status: LockStatus }> {
    // Any grant after this one has a larger token; an answer repeated from the dedup table
    // (a retried acquire) carries an older one and is no news.
    this.watches.watch(sink, watchId, name, this.machine.newestToken());
    try {
      await this.requireNode().linearizableRead();
    } catch (error) {
      this.watches.unwatch(sink, watchId);
      throw new RequestError("NOT_LEADER", `the watch of ${name} could not be confirmed: ${(error as Error).message}`, this.leaderHint());
    }
    return { index: this.machine.lastAppliedIndex(), status: this.machine.status(name) };
  }

  /** Applies one committed lock entry (RegionApplication has opened its envelope). */
  applyCommand(entry: Entry, decoded: LockEntryCommand): void {
    const { answer, events } = this.machine.apply(
      { index: entry.index, term: entry.term },
      decoded.ok ? decoded.value : { undecodable: decoded.reason },
    );
    this.settleProposal(entry, [answer]);
    for (const event of events) this.dispatch(event);
    if (this.watches.size > 0) this.tellWatches(entry.index, decoded.ok ? decoded.value : undefined, answer, events);
    if (decoded.ok) this.endWaitsOf(decoded.value, answer);
  }

  /** Applies one committed entry that carries a batch of lock commands. */
  applyBatch(entry: Entry, commands: readonly unknown[]): void {
    const results = this.machine.applyBatch({ index: entry.index, term: entry.term }, commands);
    this.settleProposal(entry, results.map((r) => r.answer));
    results.forEach((result, i) => {
      for (const event of result.events) this.dispatch(event);
      if (this.watches.size > 0) this.tellWatches(entry.index, commands[i], result.answer, result.events);
      this.endWaitsOf(commands[i], result.answer);
    });
  }

  /**
   * Tells watchers of one command's grants and releases, in the order apply made them: the
   * events first (expiries and promotions run before the command itself), then the
   * command's own immediate grant, which is an answer, not an event.
   */
  private tellWatches(index: number, command: unknown, answer: LockAnswer, events: readonly LockEvent[]): void {
    for (const event of events) {
      if (event.type === "granted") this.watches.acquired(index, event.name, event);
      else if (event.type === "released") this.watches.released(index, event.name, event, event.reason);
    }
    if (answer.type !== "granted" || !this.watches.watching(answer.name)) return;
    // The machine granted it, so the command was a valid acquire.
    const acquire = command as { readonly type: "acquire"; readonly sessionId: number; readonly owner: string };
    this.watches.acquired(index, answer.name, { sessionId: acquire.sessionId, owner: acquire.owner, mode: answer.mode, token: answer.token });
  }

  /** A wait withdrawn by release, or a session closed, ends the acquires parked on it. */
  private endWaitsOf(command: unknown, answer: LockAnswer): void {
    if (answer.type !== "waitCancelled" && answer.type !== "sessionClosed") return;
    const { sessionId, name } = command as { sessionId: number; name?: string };
    const error =
      answer.type === "sessionClosed"
        ? new RequestError("SESSION_EXPIRED", `session ${sessionId} was closed while waiting`)
        : new RequestError("TIMEOUT", `the wait for ${String(name)} was withdrawn`);
    const names = answer.type === "waitCancelled" ? [String(name)] : [...(this.parked.get(sessionId)?.keys() ?? [])];
    for (const waited of names) this.settleParked(sessionId, waited, (w) => w.reject(error));
  }

  snapshot(): Uint8Array {
    return encodeValue(this.machine.snapshot());
  }

  restore(data: Uint8Array): void {
    const decoded = decodePlain(data, 64);
    if (!decoded.ok) throw new Error(`lock snapshot is not MessagePack: ${decoded.reason}`);
    const restored = LockStateMachine.restore(decoded.value);
    if (!restored.ok) throw new Error(`lock snapshot refused: ${restored.error}`);
    this.machine = restored.machine;
    // The snapshot skipped entries whose grants and releases nobody was told of.
    this.watches.endAll("the node caught up from a snapshot; watch again for the current status");
  }

  onLeadership(role: Role, leader: NodeId): void {
    this.role = role;
    this.leader = leader;
    if (role === "leader" && this.tickTimer === undefined) {
      this.tickTimer = setInterval(() => this.proposeTick(), this.options.tickCommandMs);
    } else if (role !== "leader" && this.tickTimer !== undefined) {
      clearInterval(this.tickTimer);
      this.tickTimer = undefined;
    }
  }

  stop(): void {
    if (this.tickTimer !== undefined) clearInterval(this.tickTimer);
    this.tickTimer = undefined;
    const error = new RequestError("UNAVAILABLE", "node is shutting down");
    this.watches.endAll("node is shutting down");
    for (const p of this.proposals.values()) {
      clearTimeout(p.timer);
      for (const waiter of p.waiters) waiter.reject(error);
    }
    this.proposals.clear();
    clearTimeout(this.batchWatchdog);
    this.batchWatchdog = undefined;
    for (const { waiter } of this.batch.splice(0)) waiter.reject(error);
    for (const byName of this.parked.values()) {
      for (const waits of byName.values()) {
        for (const w of waits) {
          clearTimeout(w.timer);
          w.reject(error);
        }
      }
    }
    this.parked.clear();
  }

  stats(): { sessions: number; locks: number; holders: number; waiters: number } {
    const s = this.machine.stats();
    return { sessions: s.sessions, locks: s.locks, holders: s.holders, waiters: s.waiters };
  }

  private propose(command: LockCommand): Promise<LockAnswer> {
    this.requireNode();
    return new Promise((resolve, reject) => {
      const waiter: AnswerWaiter = { resolve, reject };
      if (command.type === "openSession") {
        this.proposeEntry(encodeLockEntry(command), ownLock(command), [waiter]);
        return;
      }
      this.batch.push({ command, waiter });
      if (this.batch.length === 1) {
        this.batchSinceMs = performance.now();
        this.batchWatchdog ??= setTimeout(() => this.checkBatchAge(), this.options.proposalTimeoutMs);
      }
      if (this.batch.length >= BATCH_COMMANDS_MAX) this.flushBatch();
      else if (!this.batchFlushQueued) {
        this.batchFlushQueued = true;
        // Proposed just before the next Ready is taken, not per frame: with a connection per
        // client, each frame carries one request, and a turn's requests still share one entry.
        this.requireNode().beforeNextReady(() => {
          this.batchFlushQueued = false;
          this.flushBatch();
        });
      }
    });
  }

  private flushBatch(): void {
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    const first = batch[0] as (typeof batch)[number];
    if (batch.length === 1) this.proposeEntry(encodeLockEntry(first.command), ownLock(first.command), [first.waiter]);
    else {
      const commands = batch.map((b) => b.command);
      const own: OwnEntry | undefined = commands.every(survivesEncoding) ? { kind: "lockBatch", commands } : undefined;
      this.proposeEntry(encodeLockBatchEntry(commands), own, batch.map((b) => b.waiter));
    }
  }

  /** Answers a batch that waited its whole proposal timeout: never proposed, none of it took effect. */
  private checkBatchAge(): void {
    this.batchWatchdog = undefined;
    if (this.batch.length === 0) return;
    const waitedMs = performance.now() - this.batchSinceMs;
    if (waitedMs < this.options.proposalTimeoutMs) {
      this.batchWatchdog = setTimeout(() => this.checkBatchAge(), this.options.proposalTimeoutMs - waitedMs);
      return;
    }
    const batch = this.batch;
    this.batch = [];
    const error = new RequestError("TIMEOUT", `not proposed within ${this.options.proposalTimeoutMs} ms: the region's previous write has not finished; this request did not take effect`);
    for (const { waiter } of batch) waiter.reject(error);
  }

  private proposeEntry(data: Uint8Array, proposed: OwnEntry | undefined, waiters: readonly AnswerWaiter[]): void {
    const result = this.requireNode().propose(data);
    if (!result.ok) {
      const hint = result.leader === NO_NODE ? undefined : this.options.peerNameOf(result.leader);
      const error =
        result.reason === "overloaded"
          ? new RequestError("OVERLOADED", "too many uncommitted proposals")
          : new RequestError("NOT_LEADER", `not the leader of ${this.options.region} (${result.reason})`, hint);
      for (const waiter of waiters) waiter.reject(error);
      return;
    }
    const timer = setTimeout(() => {
      this.proposals.delete(result.index);
      const error = new RequestError("TIMEOUT", `proposal at index ${result.index} not applied within ${this.options.proposalTimeoutMs} ms; it may still take effect`);
      for (const waiter of waiters) waiter.reject(error);
    }, this.options.proposalTimeoutMs);
    this.proposals.set(result.index, { term: result.term, data, proposed, waiters, timer });
  }

  /**
   * `entry`'s commands as this node proposed them, if `entry` carries the very bytes it encoded
   * from them (same index, term and buffer), so that applying it need not decode them again;
   * undefined for any other entry (another leader's, one read back from disk, a copy) and for
   * commands that would not survive the encoding unchanged. The state machine validates them
   * on apply as it does decoded ones, so every replica applies alike (own-entries.test.ts).
   */
  ownEntry(entry: Entry): OwnEntry | undefined {
    const pending = this.proposals.get(entry.index);
    return pending !== undefined && pending.term === entry.term && pending.data === entry.data ? pending.proposed : undefined;
  }

  private proposeTick(): void {
    if (this.role !== "leader" || this.node === undefined) return;
    // Only sessions expire (waits and idle dedup records belong to them or wait for the
    // next command): an idle region writes nothing.
    if (this.machine.sessionCount() === 0) return;
    const result = this.node.propose(encodeLockEntry({ type: "tick", nowMs: this.clock.nowMs() }));
    if (!result.ok) this.logger.debug({ reason: result.reason }, "tick not proposed");
  }

  private settleProposal(entry: Entry, answers: readonly LockAnswer[]): void {
    const pending = this.proposals.get(entry.index);
    if (pending === undefined) return;
    this.proposals.delete(entry.index);
    clearTimeout(pending.timer);
    if (pending.term !== entry.term) {
      // Another leader's entry took the slot: ours was never committed, so a retry is safe.
      const error = new RequestError("NOT_LEADER", `proposal at index ${entry.index} was superseded by a new leader`, this.leaderHint());
      for (const waiter of pending.waiters) waiter.reject(error);
      return;
    }
    if (answers.length !== pending.waiters.length) {
      throw new Error(`lock service: entry ${entry.index} (term ${entry.term}) answered ${answers.length} commands, but ${pending.waiters.length} were proposed in it`);
    }
    pending.waiters.forEach((waiter, i) => waiter.resolve(answers[i] as LockAnswer));
  }

  private awaitGrant(sessionId: number, name: string, waitMs: number): Promise<LockAnswer> {
    // A retried acquire whose first answer was "queued" may find its wait already over.
    const status = this.machine.status(name);
    const held = status.holders.find((h) => h.sessionId === sessionId);
    if (held !== undefined) return Promise.resolve({ type: "granted", name, mode: held.mode, token: held.token });
    if (!status.waiters.some((w) => w.sessionId === sessionId)) {
      return Promise.reject(new RequestError("TIMEOUT", `the wait for ${name} has ended without a grant`));
    }
    return new Promise((resolve, reject) => {
      // Backstop only: the state machine times the wait out through a committed tick.
      const timer = setTimeout(() => {
        this.unpark(sessionId, name, wait);
        reject(new RequestError("TIMEOUT", `no grant or timeout for ${name} was applied within the wait; the wait may still be granted`));
      }, waitMs + this.options.proposalTimeoutMs);
      const wait: ParkedWait = { resolve, reject, timer };
      let byName = this.parked.get(sessionId);
      if (byName === undefined) this.parked.set(sessionId, (byName = new Map()));
      const list = byName.get(name);
      if (list === undefined) byName.set(name, [wait]);
      else list.push(wait);
    });
  }

  private dispatch(event: LockEvent): void {
    switch (event.type) {
      case "granted":
        this.settleParked(event.sessionId, event.name, (w) => w.resolve({ type: "granted", name: event.name, mode: event.mode, token: event.token }));
        return;
      case "waitTimedOut":
        this.settleParked(event.sessionId, event.name, (w) => w.reject(new RequestError("TIMEOUT", `waited for ${event.name} until the deadline`)));
        return;
      case "sessionExpired": {
        for (const name of event.cancelledWaits) {
          this.settleParked(event.sessionId, name, (w) => w.reject(new RequestError("SESSION_EXPIRED", `session ${event.sessionId} expired while waiting for ${name}`)));
        }
        const push: ClientPush = {
          push: "sessionExpired",
          region: this.options.region,
          sessionId: event.sessionId,
          lost: event.lost.map((l) => ({ name: l.name, token: l.token })),
        };
        for (const listener of this.pushListeners) listener(event.clientId, push);
        return;
      }
      case "released":
        // A session closing or releasing ends its own waits too.
        return;
    }
  }

  private settleParked(sessionId: number, name: string, settle: (wait: ParkedWait) => void): void {
    const byName = this.parked.get(sessionId);
    const waits = byName?.get(name);
    if (byName === undefined || waits === undefined) return;
    byName.delete(name);
    if (byName.size === 0) this.parked.delete(sessionId);
    for (const wait of waits) {
      clearTimeout(wait.timer);
      settle(wait);
    }
  }

  private unpark(sessionId: number, name: string, wait: ParkedWait): void {
    const byName = this.parked.get(sessionId);
    const waits = byName?.get(name);
    if (byName === undefined || waits === undefined) return;
    const rest = waits.filter((w) => w !== wait);
    if (rest.length > 0) byName.set(name, rest);
    else {
      byName.delete(name);
      if (byName.size === 0) this.parked.delete(sessionId);
    }
  }

  private requireNode(): LockServiceNode {
    if (this.node === undefined) throw new Error("lock service used before its Raft node was attached");
    return this.node;
  }
}

/** A one-command entry as its proposer keeps it, unless the command would not survive encoding. */
function ownLock(command: LockCommand): OwnEntry | undefined {
  return survivesEncoding(command) ? { kind: "lock", command } : undefined;
}

/**
 * The command with the leader's clock reading. One literal per type, not a spread: a spread
 * of the five command shapes went megamorphic and was a tenth of the request path's CPU.
 */
function stamp(c: UnstampedCommand, nowMs: number): LockCommand {
  switch (c.type) {
    case "openSession":
      return { type: c.type, clientId: c.clientId, seq: c.seq, ttlMs: c.ttlMs, nowMs };
    case "keepAlive":
    case "closeSession":
      return { type: c.type, clientId: c.clientId, seq: c.seq, sessionId: c.sessionId, nowMs };
    case "acquire":
      return { type: c.type, clientId: c.clientId, seq: c.seq, sessionId: c.sessionId, name: c.name, mode: c.mode, waitMs: c.waitMs, owner: c.owner, nowMs };
    case "release":
      return { type: c.type, clientId: c.clientId, seq: c.seq, sessionId: c.sessionId, name: c.name, nowMs };
  }
}
