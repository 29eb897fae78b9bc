// The lock state machine: applied in log order on every replica of a region, it turns the
// same sequence of commands into the same answers, events and state everywhere. No clock of
// its own: time is the nowMs the leader stamped on each command, and anything due
// (sessions, waits, idle dedup records) expires only when a committed command carries the
// clock past its deadline. See docs/locks.md for the semantics and the safety argument.

import { HELD_ANSWER_HOLDERS_MAX, type ApplyResult, type LockAnswer, type LockEvent, type ReleaseReason } from "./answers.js";
import {
  validateCommand,
  type AcquireCommand,
  type ClientCommand,
  type LockCommand,
  type OpenSessionCommand,
  type ReleaseCommand,
} from "./commands.js";
import { assertValidConfig, DEFAULT_LOCK_CONFIG, type LockConfig } from "./config.js";
import { DedupTable } from "./dedup.js";
import { DecodeError } from "./decode.js";
import { errorAnswer, invariant, InvariantError, isErrorAnswer, type ErrorAnswer } from "./errors.js";
import { decodeSnapshot, SNAPSHOT_VERSION, type LockSnapshot } from "./snapshot.js";
import { sortedNames } from "./text.js";
import { asFencingToken, asSessionId, type FencingToken, type LockMode, type LockRef, type LogPosition, type SessionId } from "./types.js";
import { WaitQueue, type Waiter } from "./wait-queue.js";

interface Session {
  readonly id: SessionId;
  readonly clientId: string;
  readonly ttlMs: number;
  /** Expires once the clock reaches it. Invariant: clockMs < deadlineMs <= clockMs + ttlMs. */
  deadlineMs: number;
  /** A leader change already gave it a full TTL since it was opened or last kept alive. */
  failoverGraceUsed: boolean;
  /** Names this session holds, and names it waits for (never both for one name). */
  readonly held: Set<string>;
  readonly waiting: Set<string>;
}

interface Holder {
  readonly sessionId: SessionId;
  readonly owner: string;
  readonly mode: LockMode;
  readonly token: FencingToken;
  sinceMs: number;
}

/**
 * A lock name that is held or waited for; an entry with neither is deleted.
 * Invariants: at most one exclusive holder, never exclusive and shared together; the queue
 * is empty or its head is incompatible with the holders (whoever could be granted, was).
 */
interface Lock {
  readonly name: string;
  readonly holders: Holder[];
  readonly queue: WaitQueue;
}

/** What one apply produces besides its answer: events, and names whose queue may move. */
interface Effects {
  readonly events: LockEvent[];
  readonly touched: Set<string>;
}

export interface HolderView {
  readonly sessionId: SessionId;
  readonly clientId: string;
  readonly owner: string;
  readonly mode: LockMode;
  readonly token: FencingToken;
  /** How long it has held the lock, by the state clock at the last applied command. */
  readonly heldForMs: number;
}

export interface WaiterView {
  readonly sessionId: SessionId;
  readonly clientId: string;
  readonly owner: string;
  readonly mode: LockMode;
  readonly waitedForMs: number;
  readonly remainingMs: number;
}

export interface LockStatus {
  readonly name: string;
  /** The holders' mode, or null when nobody holds the lock. */
  readonly mode: LockMode | null;
  /** The newest holder's token (the one a fenced resource must accept), or null. */
  readonly token: FencingToken | null;
  readonly holders: readonly HolderView[];
  /** In queue order: the first one is granted next. */
  readonly waiters: readonly WaiterView[];
}

export interface SessionInfo {
  readonly sessionId: SessionId;
  readonly clientId: string;
  readonly ttlMs: number;
  /** Time left before expiry, by the state clock at the last applied command. */
  readonly remainingMs: number;
  readonly held: readonly LockRef[];
  readonly waiting: readonly { readonly name: string; readonly mode: LockMode }[];
}

export interface LockStats {
  readonly appliedIndex: number;
  readonly term: number;
  readonly clockMs: number;
  readonly sessions: number;
  readonly locks: number;
  readonly holders: number;
  readonly waiters: number;
  readonly dedupClients: number;
  readonly nextToken: FencingToken;
}

export type RestoreResult = { readonly ok: true; readonly machine: LockStateMachine } | { readonly ok: false; readonly error: string };

const OPEN_SESSION_IN_BATCH = errorAnswer("INVALID_ARGUMENT", "openSession cannot share a log entry with other commands");

function isOpenSession(raw: unknown): boolean {
  return typeof raw === "object" && raw !== null && (raw as { type?: unknown }).type === "openSession";
}

export class LockStateMachine {
  private readonly config: LockConfig;
  private readonly sessions = new Map<SessionId, Session>();
  private readonly locks = new Map<string, Lock>();
  /**
   * Names that may have waiters: a superset of the locks with a non-empty queue and a subset
   * of the lock entries (so at most locksMax), pruned by every deadline scan. Scans for due
   * waits visit these rather than every lock.
   */
  private readonly queuedNames = new Set<string>();
  private dedup: DedupTable;
  /** Highest log index applied; session ids are log indexes, so they never repeat. */
  private appliedIndex = 0;
  /** Term of the last applied entry: the leader whose clock clockMs belongs to. */
  private term = 0;
  /** The state clock: the largest nowMs applied in this term (re-based when the term changes). */
  private clockMs = 0;
  /** The next fencing token; one global counter makes tokens strictly increasing per name. */
  private nextToken = 1;
  /** A lower bound of every deadline in the state; nothing can be due while clockMs is below it. */
  private earliestDueMs = Number.POSITIVE_INFINITY;

  constructor(config: LockConfig = DEFAULT_LOCK_CONFIG) {
    assertValidConfig(config);
    this.config = config;
    this.dedup = new DedupTable(config);
  }

  /**
   * Applies one committed log entry's command (as decoded from the entry; it is validated
   * here). Entries must come in log order: position.index strictly increasing, position.term
   * never decreasing. Never throws for any command content; a malformed command answers an
   * error and changes nothing.
   */
  apply(position: LogPosition, raw: unknown): ApplyResult {
    this.enterEntry(position);
    return this.applyCommand(position, raw);
  }

  /**
   * Applies the commands one committed entry carries together (the leader batches the
   * commands of one turn into one entry), in order, as if each were its own entry at this
   * position. An openSession in a batch is refused: a session's id is its entry's index,
   * so it needs an entry of its own. Never throws for any command content.
   */
  applyBatch(position: LogPosition, raws: readonly unknown[]): ApplyResult[] {
    this.enterEntry(position);
    return raws.map((raw) => (isOpenSession(raw) ? { answer: OPEN_SESSION_IN_BATCH, events: [] } : this.applyCommand(position, raw)));
  }

  private enterEntry(position: LogPosition): void {
    invariant(
      Number.isSafeInteger(position.index) && position.index > this.appliedIndex,
      () => `apply: index ${position.index} after applied index ${this.appliedIndex}`,
    );
    invariant(
      Number.isSafeInteger(position.term) && position.term >= this.term,
      () => `apply: term ${position.term} at index ${position.index} below applied term ${this.term}`,
    );
    this.appliedIndex = position.index;
  }

  private applyCommand(position: LogPosition, raw: unknown): ApplyResult {
    const parsed = validateCommand(raw, this.config);
    if (!parsed.ok) return { answer: parsed.error, events: [] };
    const command = parsed.command;
    if (command.type !== "tick") {
      const seen = this.dedup.lookup(command.clientId, command.seq);
      if (seen.kind === "seen") return { answer: seen.answer, events: [] };
    }
    const fx: Effects = { events: [], touched: new Set() };
    this.advanceClock(position.term, command.nowMs, fx);
    const answer = this.execute(command, asSessionId(position.index), fx);
    if (command.type !== "tick") this.dedup.record(command.clientId, command.seq, answer);
    this.promoteTouched(fx);
    return { answer, events: fx.events };
  }

  /** The lock's holders and waiters as of the last applied command (empty if free). */
  status(name: string): LockStatus {
    const lock = this.locks.get(name);
    if (lock === undefined) return { name, mode: null, token: null, holders: [], waiters: [] };
    const holders = lock.holders.map((h) => ({
      sessionId: h.sessionId,
      clientId: this.mustSession(h.sessionId).clientId,
      owner: h.owner,
      mode: h.mode,
      token: h.token,
      heldForMs: this.clockMs - h.sinceMs,
    }));
    const waiters = lock.queue.toArray().map((w) => ({
      sessionId: w.sessionId,
      clientId: this.mustSession(w.sessionId).clientId,
      owner: w.owner,
      mode: w.mode,
      waitedForMs: this.clockMs - w.sinceMs,
      remainingMs: w.deadlineMs - this.clockMs,
    }));
    const newest = lock.holders.reduce<FencingToken | null>((max, h) => (max === null || h.token > max ? h.token : max), null);
    return { name, mode: lock.holders[0]?.mode ?? null, token: newest, holders, waiters };
  }

  /** True if some current holder of `name` was granted it with `token`. */
  checkToken(name: string, token: number): boolean {
    return this.locks.get(name)?.holders.some((h) => h.token === token) ?? false;
  }

  sessionInfo(sessionId: number): SessionInfo | undefined {
    const session = this.sessions.get(asSessionId(sessionId));
    if (session === undefined) return undefined;
    return {
      sessionId: session.id,
      clientId: session.clientId,
      ttlMs: session.ttlMs,
      remainingMs: session.deadlineMs - this.clockMs,
      held: sortedNames(session.held).map((name) => this.holderRef(name, session.id)),
      waiting: sortedNames(session.waiting).map((name) => ({ name, mode: this.mustWaiter(name, session.id).mode })),
    };
  }

  /** Open sessions, in O(1): the leader asks it before every periodic tick. */
  sessionCount(): number {
    return this.sessions.size;
  }

  /** The index of the last command applied (0 before the first): what a status read reflects. */
  lastAppliedIndex(): number {
    return this.appliedIndex;
  }

  /** The newest fencing token granted on any lock (0 before the first): every later grant's is above it. */
  newestToken(): number {
    return this.nextToken - 1;
  }

  stats(): LockStats {
    let holders = 0;
    let waiters = 0;
    for (const lock of this.locks.values()) {
      holders += lock.holders.length;
      waiters += lock.queue.length;
    }
    return {
      appliedIndex: this.appliedIndex,
      term: this.term,
      clockMs: this.clockMs,
      sessions: this.sessions.size,
      locks: this.locks.size,
      holders,
      waiters,
      dedupClients: this.dedup.size,
      nextToken: asFencingToken(this.nextToken),
    };
  }

  /** The whole state as plain data (see snapshot.ts); restore(snapshot()) is an identical machine. */
  snapshot(): LockSnapshot {
    return {
      version: SNAPSHOT_VERSION,
      appliedIndex: this.appliedIndex,
      term: this.term,
      clockMs: this.clockMs,
      nextToken: asFencingToken(this.nextToken),
      sessions: [...this.sessions.values()]
        .sort((a, b) => a.id - b.id)
        .map((s) => ({ id: s.id, clientId: s.clientId, ttlMs: s.ttlMs, deadlineMs: s.deadlineMs, failoverGraceUsed: s.failoverGraceUsed })),
      locks: [...this.locks.values()].map((l) => ({
        name: l.name,
        holders: l.holders.map((h) => ({ sessionId: h.sessionId, owner: h.owner, mode: h.mode, token: h.token, sinceMs: h.sinceMs })),
        waiters: l.queue
          .toArray()
          .map((w) => ({ sessionId: w.sessionId, owner: w.owner, mode: w.mode, deadlineMs: w.deadlineMs, sinceMs: w.sinceMs })),
      })),
      clients: this.dedup.snapshot(),
    };
  }

  /**
   * Rebuilds a machine from a snapshot read from disk or received from the leader. The
   * snapshot is validated first (shapes, ranges, cross-references, lock invariants); a bad
   * one is refused with a message, never half-restored.
   */
  static restore(snapshot: unknown, config: LockConfig = DEFAULT_LOCK_CONFIG): RestoreResult {
    try {
      const s = decodeSnapshot(snapshot, config.locksMax);
      const machine = new LockStateMachine(config);
      machine.load(s);
      machine.assertInvariants();
      return { ok: true, machine };
    } catch (error) {
      if (error instanceof DecodeError || error instanceof InvariantError) return { ok: false, error: `invalid lock snapshot: ${error.message}` };
      throw error;
    }
  }

  /**
   * Throws an InvariantError describing the first broken invariant. O(state size): the tests
   * and the simulator call it after every step; apply keeps the cheap ones inline.
   */
  assertInvariants(): void {
    const openSessions = new Map<string, number>();
    for (const s of this.sessions.values()) {
      invariant(s.id <= this.appliedIndex, () => `session ${s.id} is newer than applied index ${this.appliedIndex}`);
      invariant(
        s.deadlineMs > this.clockMs && s.deadlineMs <= this.clockMs + s.ttlMs,
        () => `session ${s.id} deadline ${s.deadlineMs} outside (${this.clockMs}, +${s.ttlMs}]`,
      );
      invariant(this.earliestDueMs <= s.deadlineMs, () => `session ${s.id} deadline ${s.deadlineMs} before earliestDueMs ${this.earliestDueMs}`);
      for (const name of s.held) {
        invariant(
          this.locks.get(name)?.holders.some((h) => h.sessionId === s.id) === true,
          () => `session ${s.id} lists ${name} as held, the lock does not`,
        );
      }
      for (const name of s.waiting) {
        invariant(
          this.locks.get(name)?.queue.find(s.id) !== undefined,
          () => `session ${s.id} lists ${name} as waited for, the queue does not`,
        );
      }
      openSessions.set(s.clientId, (openSessions.get(s.clientId) ?? 0) + 1);
    }
    const tokens = new Set<number>();
    for (const lock of this.locks.values()) this.assertLockInvariants(lock, tokens);
    for (const name of this.queuedNames) invariant(this.locks.has(name), () => `queuedNames holds ${name}, which has no lock entry`);
    this.dedup.assertInvariants(openSessions, this.clockMs);
    invariant(this.earliestDueMs <= this.dedup.earliestForgetMs(), () => `an idle dedup record is due before earliestDueMs ${this.earliestDueMs}`);
  }

  private assertLockInvariants(lock: Lock, tokens: Set<number>): void {
    const where = (): string => {
      const holders = lock.holders.map((h) => `${h.mode}@${h.sessionId}#${h.token}`).join(",");
      const waiters = lock.queue.toArray().map((w) => `${w.mode}@${w.sessionId}`).join(",");
      return `lock ${lock.name}: holders ${holders} waiters ${waiters}`;
    };
    invariant(lock.holders.length + lock.queue.length > 0, () => `${where()}: empty entry kept`);
    const exclusive = lock.holders.filter((h) => h.mode === "exclusive").length;
    invariant(exclusive === 0 || lock.holders.length === 1, () => `${where()}: exclusive shares the lock`);
    for (const h of lock.holders) {
      invariant(this.sessions.get(h.sessionId)?.held.has(lock.name) === true, () => `${where()}: holder ${h.sessionId} has no session holding it`);
      invariant(
        h.token < this.nextToken && !tokens.has(h.token),
        () => `${where()}: token ${h.token} reused or not below next token ${this.nextToken}`,
      );
      tokens.add(h.token);
    }
    for (const w of lock.queue.toArray()) {
      invariant(this.sessions.get(w.sessionId)?.waiting.has(lock.name) === true, () => `${where()}: waiter ${w.sessionId} has no session waiting`);
      invariant(
        w.deadlineMs > this.clockMs && w.deadlineMs >= this.earliestDueMs,
        () => `${where()}: waiter ${w.sessionId} deadline ${w.deadlineMs} passed (clock ${this.clockMs}) or before earliestDueMs`,
      );
      invariant(!lock.holders.some((h) => h.sessionId === w.sessionId), () => `${where()}: session ${w.sessionId} holds and waits`);
    }
    invariant(lock.queue.length === 0 || this.queuedNames.has(lock.name), () => `${where()}: queued but not in queuedNames`);
    const head = lock.queue.head();
    invariant(head === undefined || !compatible(lock.holders, head.mode), () => `${where()}: the head waiter could be granted`);
  }

  /** Fills a fresh machine from a validated snapshot. */
  private load(s: LockSnapshot): void {
    this.appliedIndex = s.appliedIndex;
    this.term = s.term;
    this.clockMs = s.clockMs;
    this.nextToken = s.nextToken;
    const openSessions = new Map<string, number>();
    for (const x of s.sessions) {
      this.sessions.set(x.id, {
        id: x.id,
        clientId: x.clientId,
        ttlMs: x.ttlMs,
        deadlineMs: x.deadlineMs,
        failoverGraceUsed: x.failoverGraceUsed,
        held: new Set(),
        waiting: new Set(),
      });
      openSessions.set(x.clientId, (openSessions.get(x.clientId) ?? 0) + 1);
    }
    for (const l of s.locks) {
      const lock = this.createLock(l.name);
      for (const h of l.holders) {
        lock.holders.push({ ...h });
        this.mustSession(h.sessionId).held.add(l.name);
      }
      for (const w of l.waiters) {
        lock.queue.push({ ...w });
        this.queuedNames.add(l.name);
        this.mustSession(w.sessionId).waiting.add(l.name);
      }
    }
    this.dedup = DedupTable.restore(this.config, s.clients, openSessions);
    this.recomputeEarliestDue();
  }

  // ---- time ----

  /**
   * Moves the state clock to the command's stamp, then expires whatever is due.
   * A larger term means a new leader, whose monotonic clock has nothing to do with the old
   * one: re-base. Within a term the clock only moves forward; a stamp below it (a command
   * stamped before another one that was appended first) is applied at the state clock, which
   * only ever places deadlines later than the stamp would, never earlier.
   */
  private advanceClock(term: number, nowMs: number, fx: Effects): void {
    if (term > this.term) {
      this.rebase(nowMs);
      this.term = term;
    } else if (nowMs > this.clockMs) {
      this.clockMs = nowMs;
    }
    if (this.clockMs >= this.earliestDueMs) this.expireDue(fx);
  }

  /**
   * A new leader's clock. No session may expire early because the leader changed: the old
   * leader may have run its clock past the last stamp applied here, but it cannot have moved
   * a deadline without a committed keep-alive, so the time left at that stamp is an upper
   * bound of what the old leader would still have granted. The first leader change after an
   * open or keep-alive gives the full TTL all the same, as Chubby does, so that a client that
   * spent the election unable to reach anyone has time to find the new leader. Later ones
   * keep only the time left: with a full TTL on every change, a dead client's session and
   * locks would never expire under constant leader churn (etcd issue 9395).
   * Every wait and idle dedup record keeps its remaining time, and elapsed times (holding
   * since, waiting since) are kept.
   */
  private rebase(nowMs: number): void {
    const deltaMs = nowMs - this.clockMs;
    for (const session of this.sessions.values()) {
      const remainingMs = session.deadlineMs - this.clockMs;
      session.deadlineMs = nowMs + (session.failoverGraceUsed ? remainingMs : session.ttlMs);
      session.failoverGraceUsed = true;
      invariant(session.deadlineMs - nowMs >= remainingMs, () => `rebase shortened session ${session.id}: ${remainingMs} ms left before`);
    }
    for (const lock of this.locks.values()) {
      for (const holder of lock.holders) holder.sinceMs += deltaMs;
      lock.queue.shiftTimes(deltaMs);
    }
    this.dedup.shiftTimes(deltaMs);
    this.clockMs = nowMs;
    this.recomputeEarliestDue();
  }

  /**
   * Expires, in this order: due sessions (ascending id; their waits go first, then their
   * locks, so nothing is granted to them), due waits (by name, then queue order), due idle
   * dedup records. Then grants whatever became grantable, before the command itself runs.
   */
  private expireDue(fx: Effects): void {
    const now = this.clockMs;
    const dueSessions = [...this.sessions.values()].filter((s) => s.deadlineMs <= now).sort((a, b) => a.id - b.id);
    for (const session of dueSessions) this.endSession(session, "expired", fx);
    const namesWithDueWaits = [...this.queuedNames].filter((name) => (this.locks.get(name)?.queue.earliestDeadlineMs() ?? Number.POSITIVE_INFINITY) <= now);
    for (const name of sortedNames(namesWithDueWaits)) {
      for (const waiter of this.mustLock(name).queue.removeDue(now)) {
        const session = this.mustSession(waiter.sessionId);
        session.waiting.delete(name);
        fx.events.push({ type: "waitTimedOut", sessionId: session.id, clientId: session.clientId, name, mode: waiter.mode });
      }
      fx.touched.add(name);
    }
    this.dedup.forgetDue(now);
    this.promoteTouched(fx);
    this.recomputeEarliestDue();
  }

  private recomputeEarliestDue(): void {
    let earliest = this.dedup.earliestForgetMs();
    for (const session of this.sessions.values()) earliest = Math.min(earliest, session.deadlineMs);
    for (const name of [...this.queuedNames]) {
      const queue = this.locks.get(name)?.queue;
      if (queue === undefined || queue.length === 0) this.queuedNames.delete(name);
      else earliest = Math.min(earliest, queue.earliestDeadlineMs());
    }
    this.earliestDueMs = earliest;
  }

  private noteDeadline(deadlineMs: number): void {
    this.earliestDueMs = Math.min(this.earliestDueMs, deadlineMs);
  }

  // ---- commands ----

  private execute(command: LockCommand, index: SessionId, fx: Effects): LockAnswer {
    switch (command.type) {
      case "tick":
        return { type: "ticked" };
      case "openSession":
        return this.openSession(command, index);
      case "keepAlive":
        return this.keepAlive(command);
      case "closeSession":
        return this.closeSession(command, fx);
      case "acquire":
        return this.acquire(command);
      case "release":
        return this.release(command, fx);
    }
  }

  private openSession(command: OpenSessionCommand, id: SessionId): LockAnswer {
    if (this.sessions.size >= this.config.sessionsMax) {
      return errorAnswer("OVERLOADED", `${this.sessions.size} sessions open, the limit is ${this.config.sessionsMax}`);
    }
    this.dedup.attachSession(command.clientId);
    const { clientId, ttlMs } = command;
    const session: Session = { id, clientId, ttlMs, deadlineMs: this.clockMs + ttlMs, failoverGraceUsed: false, held: new Set(), waiting: new Set() };
    this.sessions.set(id, session);
    this.noteDeadline(session.deadlineMs);
    return { type: "sessionOpened", sessionId: id, ttlMs: command.ttlMs };
  }

  private keepAlive(command: ClientCommand & { readonly sessionId: SessionId }): LockAnswer {
    const session = this.liveSession(command);
    if (isErrorAnswer(session)) return session;
    const deadlineMs = this.clockMs + session.ttlMs;
    invariant(
      deadlineMs >= session.deadlineMs,
      () => `keepAlive would move session ${session.id} deadline back from ${session.deadlineMs} to ${deadlineMs}`,
    );
    session.deadlineMs = deadlineMs;
    session.failoverGraceUsed = false;
    return { type: "keptAlive", sessionId: session.id, ttlMs: session.ttlMs };
  }

  private closeSession(command: ClientCommand & { readonly sessionId: SessionId }, fx: Effects): LockAnswer {
    const session = this.liveSession(command);
    if (isErrorAnswer(session)) return session;
    const released = this.endSession(session, "closed", fx);
    return { type: "sessionClosed", sessionId: session.id, released };
  }

  private acquire(command: AcquireCommand): LockAnswer {
    const session = this.liveSession(command);
    if (isErrorAnswer(session)) return session;
    const { name, mode } = command;
    const lock = this.locks.get(name);
    if (lock !== undefined) {
      const already = this.alreadyThere(lock, session.id, mode);
      if (already !== undefined) return already;
    }
    if (lock === undefined && this.locks.size >= this.config.locksMax) {
      return errorAnswer("OVERLOADED", `${this.locks.size} lock names in use, the limit is ${this.config.locksMax}`);
    }
    if (lock === undefined || (lock.queue.length === 0 && compatible(lock.holders, mode))) {
      const holder = this.grant(lock ?? this.createLock(name), session, command.owner, mode);
      return { type: "granted", name, mode, token: holder.token };
    }
    if (command.waitMs === 0) return this.heldAnswer(lock);
    if (lock.queue.length >= this.config.waitersPerLockMax) {
      return errorAnswer("OVERLOADED", `${lock.queue.length} sessions wait for ${name}, the limit is ${this.config.waitersPerLockMax}`);
    }
    const deadlineMs = this.clockMs + command.waitMs;
    lock.queue.push({ sessionId: session.id, owner: command.owner, mode, deadlineMs, sinceMs: this.clockMs });
    this.queuedNames.add(name);
    session.waiting.add(name);
    this.noteDeadline(deadlineMs);
    return { type: "queued", name, mode, position: lock.queue.length };
  }

  /**
   * A session that already holds or waits for the lock: in the same mode it gets the
   * existing grant (same token) or its existing place in the queue, and nothing changes (no
   * reentrancy count: one release releases). In the other mode it is refused: an upgrade
   * from shared to exclusive could deadlock two upgraders, so the client releases first.
   */
  private alreadyThere(lock: Lock, sessionId: SessionId, mode: LockMode): LockAnswer | undefined {
    const holder = lock.holders.find((h) => h.sessionId === sessionId);
    const waiter = lock.queue.find(sessionId);
    const current = holder ?? waiter;
    if (current === undefined) return undefined;
    const state = holder !== undefined ? "holds" : "waits for";
    if (current.mode !== mode) {
      const message = `session ${sessionId} ${state} ${lock.name} in ${current.mode} mode; release it before asking for ${mode}`;
      return errorAnswer("INVALID_ARGUMENT", message);
    }
    if (holder !== undefined) return { type: "granted", name: lock.name, mode, token: holder.token };
    return { type: "queued", name: lock.name, mode, position: lock.queue.position(sessionId) };
  }

  private release(command: ReleaseCommand, fx: Effects): LockAnswer {
    const session = this.liveSession(command);
    if (isErrorAnswer(session)) return session;
    const { name } = command;
    if (session.held.has(name)) {
      const holder = this.removeHolder(name, session, "released", fx);
      return { type: "released", name, token: holder.token };
    }
    if (session.waiting.has(name)) {
      this.mustLock(name).queue.remove(session.id);
      session.waiting.delete(name);
      fx.touched.add(name);
      return { type: "waitCancelled", name };
    }
    return errorAnswer("NOT_HOLDER", `session ${session.id} neither holds nor waits for ${name}`);
  }

  // ---- transitions shared by the commands ----

  /** The open session a client command names, or the error to answer. */
  private liveSession(command: ClientCommand & { readonly sessionId: SessionId }): Session | ErrorAnswer {
    const session = this.sessions.get(command.sessionId);
    if (session === undefined) return errorAnswer("SESSION_EXPIRED", `session ${command.sessionId} is not open (expired, closed or never opened)`);
    if (session.clientId !== command.clientId) return errorAnswer("UNAUTHORIZED", `session ${command.sessionId} belongs to another client`);
    return session;
  }

  /**
   * Ends a session (closed or expired): deletes it first, so that nothing can be granted to
   * it, withdraws its waits, releases its locks in name order. Returns the released locks.
   */
  private endSession(session: Session, reason: "closed" | "expired", fx: Effects): LockRef[] {
    this.sessions.delete(session.id);
    const cancelledWaits = sortedNames(session.waiting);
    for (const name of cancelledWaits) {
      this.mustLock(name).queue.remove(session.id);
      fx.touched.add(name);
    }
    session.waiting.clear();
    const lost = sortedNames(session.held).map((name) => {
      const holder = this.removeHolder(name, session, reason, fx);
      return { name, mode: holder.mode, token: holder.token };
    });
    const forgetAtMs = this.dedup.detachSession(session.clientId, this.clockMs);
    if (forgetAtMs !== undefined) this.noteDeadline(forgetAtMs);
    if (reason === "expired") fx.events.push({ type: "sessionExpired", sessionId: session.id, clientId: session.clientId, lost, cancelledWaits });
    return lost;
  }

  private removeHolder(name: string, session: Session, reason: ReleaseReason, fx: Effects): Holder {
    const lock = this.mustLock(name);
    const at = lock.holders.findIndex((h) => h.sessionId === session.id);
    const holder = lock.holders[at];
    invariant(holder !== undefined, () => `session ${session.id} lists ${name} as held but is not among its ${lock.holders.length} holders`);
    lock.holders.splice(at, 1);
    session.held.delete(name);
    fx.touched.add(name);
    fx.events.push({ type: "released", sessionId: session.id, clientId: session.clientId, name, owner: holder.owner, mode: holder.mode, token: holder.token, reason });
    return holder;
  }

  private createLock(name: string): Lock {
    const lock: Lock = { name, holders: [], queue: new WaitQueue() };
    this.locks.set(name, lock);
    return lock;
  }

  private grant(lock: Lock, session: Session, owner: string, mode: LockMode): Holder {
    invariant(this.nextToken < Number.MAX_SAFE_INTEGER, () => `fencing tokens exhausted at ${this.nextToken}`);
    invariant(
      compatible(lock.holders, mode),
      () => `granting ${mode} ${lock.name} to session ${session.id} next to ${lock.holders.map((h) => `${h.mode}@${h.sessionId}`).join(",")}`,
    );
    const holder: Holder = { sessionId: session.id, owner, mode, token: asFencingToken(this.nextToken), sinceMs: this.clockMs };
    this.nextToken += 1;
    lock.holders.push(holder);
    session.held.add(lock.name);
    return holder;
  }

  /** Grants, in name order, whatever became grantable in the touched locks; drops empty locks. */
  private promoteTouched(fx: Effects): void {
    for (const name of sortedNames(fx.touched)) this.promote(name, fx);
    fx.touched.clear();
  }

  /**
   * Grants the head of the queue while it is compatible with the holders (several shared
   * heads in a row). The waiter's session is re-checked at this very moment: it must be
   * open and unexpired (etcd #11456 told a waiter it held a lock after its lease died).
   */
  private promote(name: string, fx: Effects): void {
    const lock = this.locks.get(name);
    if (lock === undefined) return;
    const bound = lock.queue.length;
    for (let i = 0; i < bound; i++) {
      const head = lock.queue.head();
      if (head === undefined || !compatible(lock.holders, head.mode)) break;
      lock.queue.shift();
      const session = this.sessions.get(head.sessionId);
      invariant(
        session !== undefined && session.deadlineMs > this.clockMs,
        () => `granting ${name} to session ${head.sessionId}, ${session === undefined ? "gone" : `expired at ${session.deadlineMs}`} (clock ${this.clockMs})`,
      );
      session.waiting.delete(name);
      const holder = this.grant(lock, session, head.owner, head.mode);
      fx.events.push({ type: "granted", sessionId: session.id, clientId: session.clientId, name, owner: holder.owner, mode: holder.mode, token: holder.token });
    }
    if (lock.holders.length === 0 && lock.queue.length === 0) {
      this.locks.delete(name);
      this.queuedNames.delete(name);
    }
  }

  private heldAnswer(lock: Lock): LockAnswer {
    const first = lock.holders[0];
    invariant(first !== undefined, () => `${lock.name} refuses a try-lock with no holder and ${lock.queue.length} waiters`);
    const holders = lock.holders
      .slice(0, HELD_ANSWER_HOLDERS_MAX)
      .map((h) => ({ sessionId: h.sessionId, owner: h.owner, mode: h.mode, token: h.token }));
    return { type: "held", name: lock.name, mode: first.mode, holders, holderCount: lock.holders.length, waiterCount: lock.queue.length };
  }

  private holderRef(name: string, sessionId: SessionId): LockRef {
    const holder = this.mustLock(name).holders.find((h) => h.sessionId === sessionId);
    invariant(holder !== undefined, () => `session ${sessionId} lists ${name} as held but does not hold it`);
    return { name, mode: holder.mode, token: holder.token };
  }

  private mustWaiter(name: string, sessionId: SessionId): Waiter {
    const waiter = this.mustLock(name).queue.find(sessionId);
    invariant(waiter !== undefined, () => `session ${sessionId} lists ${name} as waited for but is not in its queue`);
    return waiter;
  }

  private mustLock(name: string): Lock {
    const lock = this.locks.get(name);
    invariant(lock !== undefined, () => `no lock entry for ${name}`);
    return lock;
  }

  private mustSession(id: SessionId): Session {
    const session = this.sessions.get(id);
    invariant(session !== undefined, () => `no session ${id}`);
    return session;
  }
}

/** Exclusive needs no holders; shared needs no exclusive holder. */
function compatible(holders: readonly Holder[], mode: LockMode): boolean {
  return holders.length === 0 || (mode === "shared" && holders.every((h) => h.mode === "shared"));
}
