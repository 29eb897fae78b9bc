// An independent model of the lock history, run once over the committed log in index
// order (the lock checker feeds it each entry's command and the answer and events the first
// replica computed; every other replica must compute the same). It never reads the
// machine's state: it rebuilds sessions, deadlines, holders and waiters from the commands,
// the entry terms and the answers and events alone, by the rules of docs/locks.md, and
// throws an InvariantViolation the moment the stream breaks one of them:
//
//  - mutual exclusion: a grant while an exclusive holder remains, or exclusive next to shared;
//  - fencing: every new grant's token is above every earlier grant of that name;
//  - session liveness under the leader's clock: the state clock is the entry's stamp (the
//    leader's clock at proposal), only moving forward within a term, and a larger term
//    re-bases it (a session gets now + ttl at the first leader change since it was opened
//    or kept alive, and keeps the time it had left at later ones). A session is alive while its deadline is
//    after that clock. Nothing may be granted to (or kept alive, or answered for) a session
//    that is not alive; a session expires exactly when the clock reaches its deadline, never
//    earlier (a client counting its lease from its send time would still think it holds
//    its locks) and never later;
//  - history: releases, timeouts and grants by event match what is held and waited for,
//    waiters are granted in FIFO order, session ids are the opening entry's index, and each
//    client's sequence numbers increase (so no command is a retry: STALE_SEQUENCE never
//    occurs).

import type { ApplyResult, LockAnswer, LockCommand, LockEvent, LockMode } from "@geolock/locks";
import type { Invariant } from "./violation.js";
import { violated } from "./violation.js";

interface ModelSession {
  readonly clientId: string;
  readonly ttlMs: number;
  deadlineMs: number;
  /** A leader change already gave it the full TTL since it was opened or kept alive. */
  graceUsed: boolean;
}

interface ModelHold {
  readonly mode: LockMode;
  readonly token: number;
}

/** A grant that created a hold (not a repeated acquire answered with the existing grant). */
export interface NewGrant {
  readonly sessionId: number;
  readonly name: string;
  readonly mode: LockMode;
  readonly token: number;
}

export interface LockModelCounters {
  grantedAtOnce: number;
  grantedAfterWait: number;
  refusedHeld: number;
  queued: number;
  waitsTimedOut: number;
  sessionsOpened: number;
  sessionsExpired: number;
  /** Sessions that expired while holding a lock (which others could then be granted). */
  expiredHolding: number;
  sessionsClosed: number;
  rebases: number;
}

type SessionCommand = Extract<LockCommand, { readonly sessionId: number }>;

export class LockHistoryModel {
  private term = 0;
  private clockMs = 0;
  private readonly sessions = new Map<number, ModelSession>();
  /** name -> session -> hold. */
  private readonly holds = new Map<string, Map<number, ModelHold>>();
  /** name -> session -> mode, in queue order (a Map keeps insertion order). */
  private readonly waits = new Map<string, Map<number, LockMode>>();
  private readonly lastToken = new Map<string, number>();
  private readonly lastSeq = new Map<string, number>();
  /** Context for violation messages: the entry being applied. */
  private where = "";
  /**
   * The wait the entry's command may withdraw (release: that name; closeSession: every
   * name). The machine withdraws it before it grants the next waiters, but the answer that
   * says so is read after the events, so a grant may overtake this one wait in FIFO order.
   */
  private withdrawing: { readonly sessionId: number; readonly name: string | undefined } | undefined;
  readonly counters: LockModelCounters = {
    grantedAtOnce: 0,
    grantedAfterWait: 0,
    refusedHeld: 0,
    queued: 0,
    waitsTimedOut: 0,
    sessionsOpened: 0,
    sessionsExpired: 0,
    expiredHolding: 0,
    sessionsClosed: 0,
    rebases: 0,
  };

  /** Takes one committed lock entry; returns the grants it made. */
  apply(index: number, term: number, command: LockCommand, result: ApplyResult): NewGrant[] {
    this.where = `entry ${index}@${term} ${JSON.stringify(command)} -> ${JSON.stringify(result.answer)}`;
    this.checkSequence(command);
    this.withdrawing = command.type === "release" ? { sessionId: command.sessionId, name: command.name } : undefined;
    if (command.type === "closeSession") this.withdrawing = { sessionId: command.sessionId, name: undefined };
    this.advanceClock(term, command.nowMs);
    const due = new Set([...this.sessions].filter(([, s]) => s.deadlineMs <= this.clockMs).map(([id]) => id));
    const grants: NewGrant[] = [];
    for (const event of result.events) this.event(event, grants);
    this.answer(index, command, result.answer, grants);
    for (const id of due) {
      if (this.sessions.has(id)) this.fail("lockSessionLiveness", `session ${id} outlives its deadline ${this.sessions.get(id)?.deadlineMs}`);
    }
    return grants;
  }

  private checkSequence(command: LockCommand): void {
    if (command.type === "tick") return;
    const last = this.lastSeq.get(command.clientId) ?? -1;
    if (command.seq <= last) this.fail("lockHistory", `client ${command.clientId} seq ${command.seq} committed after seq ${last}`);
    this.lastSeq.set(command.clientId, command.seq);
  }

  private advanceClock(term: number, nowMs: number): void {
    if (term > this.term) {
      // A new leader's clock: a session gets its full TTL from the new stamp at the first
      // leader change since its last keep-alive, and the time it had left at later ones.
      for (const session of this.sessions.values()) {
        session.deadlineMs = nowMs + (session.graceUsed ? session.deadlineMs - this.clockMs : session.ttlMs);
        session.graceUsed = true;
      }
      this.term = term;
      this.clockMs = nowMs;
      this.counters.rebases += 1;
    } else {
      this.clockMs = Math.max(this.clockMs, nowMs);
    }
  }

  private event(event: LockEvent, grants: NewGrant[]): void {
    switch (event.type) {
      case "granted":
        this.grantFromQueue(event.sessionId, event.name, event.mode, event.token, grants);
        return;
      case "waitTimedOut":
        this.removeWait(event.sessionId, event.name, "times out");
        this.counters.waitsTimedOut += 1;
        return;
      case "released":
        this.release(event.sessionId, event.name, event.token);
        return;
      case "sessionExpired":
        this.expire(event.sessionId, event.cancelledWaits);
        if (event.lost.length > 0) this.counters.expiredHolding += 1;
        return;
    }
  }

  private answer(index: number, command: LockCommand, answer: LockAnswer, grants: NewGrant[]): void {
    if (command.type === "tick") {
      if (answer.type !== "ticked") this.fail("lockHistory", "a tick answered something else than ticked");
      return;
    }
    if (command.type === "openSession") {
      this.opened(index, command.clientId, answer);
      return;
    }
    if (answer.type === "error") {
      this.refused(command, answer.code);
      return;
    }
    const session = this.aliveSession(command.sessionId, `answers ${answer.type} for`);
    switch (answer.type) {
      case "keptAlive":
        session.deadlineMs = this.clockMs + session.ttlMs;
        session.graceUsed = false;
        return;
      case "sessionClosed":
        this.endSession(command.sessionId, "closed");
        this.counters.sessionsClosed += 1;
        return;
      case "granted":
        this.grantAtOnce(command.sessionId, answer.name, answer.mode, answer.token, grants);
        return;
      case "held":
        this.refusedHeld(answer.name);
        return;
      case "queued":
        this.enqueue(command.sessionId, answer.name, answer.mode);
        return;
      case "released":
        if (this.holds.get(answer.name)?.has(command.sessionId) === true) this.fail("lockHistory", `session ${command.sessionId} still holds ${answer.name} after its release`);
        return;
      case "waitCancelled":
        this.removeWait(command.sessionId, answer.name, "withdraws");
        return;
      default:
        this.fail("lockHistory", `answer ${answer.type} to a ${command.type}`);
    }
  }

  private opened(index: number, clientId: string, answer: LockAnswer): void {
    if (answer.type === "error") return;
    if (answer.type !== "sessionOpened" || answer.sessionId !== index) {
      this.fail("lockHistory", `openSession at index ${index} answered ${JSON.stringify(answer)}`);
    }
    this.sessions.set(answer.sessionId, { clientId, ttlMs: answer.ttlMs, deadlineMs: this.clockMs + answer.ttlMs, graceUsed: false });
    this.counters.sessionsOpened += 1;
  }

  private refused(command: SessionCommand, code: string): void {
    if (code === "STALE_SEQUENCE") this.fail("lockHistory", `client ${command.clientId} seq ${command.seq} is fresh but answered STALE_SEQUENCE`);
    const session = this.sessions.get(command.sessionId);
    if (code === "SESSION_EXPIRED" && session !== undefined) {
      this.fail("lockSessionLiveness", `session ${command.sessionId} answered SESSION_EXPIRED while alive (deadline ${session.deadlineMs})`);
    }
  }

  /** The session a command acted on successfully: it must be open and its deadline after the clock. */
  private aliveSession(sessionId: number, what: string): ModelSession {
    const session = this.sessions.get(sessionId);
    if (session === undefined) this.fail("lockSessionLiveness", `${what} session ${sessionId}, which is not open`);
    if (session.deadlineMs <= this.clockMs) {
      this.fail("lockSessionLiveness", `${what} session ${sessionId}, whose deadline ${session.deadlineMs} has passed`);
    }
    return session;
  }

  private grantAtOnce(sessionId: number, name: string, mode: LockMode, token: number, grants: NewGrant[]): void {
    const existing = this.holds.get(name)?.get(sessionId);
    if (existing !== undefined) {
      // The same session asking again in the same mode gets its existing grant back.
      if (existing.mode !== mode || existing.token !== token) {
        this.fail("lockHistory", `session ${sessionId} holds ${name} ${existing.mode} #${existing.token} but is answered ${mode} #${token}`);
      }
      return;
    }
    if (this.waits.get(name)?.has(sessionId) === true) this.fail("lockHistory", `session ${sessionId} waits for ${name} but is granted it at once`);
    this.newGrant(sessionId, name, mode, token, grants);
    this.counters.grantedAtOnce += 1;
  }

  private grantFromQueue(sessionId: number, name: string, mode: LockMode, token: number, grants: NewGrant[]): void {
    this.aliveSession(sessionId, `grants ${name} to`);
    const queue = this.waits.get(name);
    if (queue?.get(sessionId) !== mode) this.fail("lockHistory", `grants ${name} ${mode} to session ${sessionId}, which does not wait for it in that mode`);
    const ahead = [...queue.keys()];
    ahead.length = ahead.indexOf(sessionId);
    const w = this.withdrawing;
    const overtaken = ahead.filter((id) => !(w !== undefined && id === w.sessionId && (w.name === undefined || w.name === name)));
    if (overtaken.length > 0) this.fail("lockHistory", `grants ${name} to session ${sessionId} ahead of session ${overtaken.join(",")} (not FIFO)`);
    this.removeWait(sessionId, name, "is granted");
    this.newGrant(sessionId, name, mode, token, grants);
    this.counters.grantedAfterWait += 1;
  }

  private newGrant(sessionId: number, name: string, mode: LockMode, token: number, grants: NewGrant[]): void {
    const holders = this.holds.get(name) ?? new Map<number, ModelHold>();
    const others = [...holders].map(([id, h]) => `${h.mode}@${id}#${h.token}`).join(",");
    if (holders.size > 0 && (mode === "exclusive" || [...holders.values()].some((h) => h.mode === "exclusive"))) {
      this.fail("lockMutualExclusion", `grants ${name} ${mode} to session ${sessionId} while held by ${others}`);
    }
    const last = this.lastToken.get(name) ?? 0;
    if (token <= last) this.fail("lockFencing", `grants ${name} to session ${sessionId} with token ${token}, not above earlier token ${last}`);
    this.lastToken.set(name, token);
    holders.set(sessionId, { mode, token });
    this.holds.set(name, holders);
    grants.push({ sessionId, name, mode, token });
  }

  private refusedHeld(name: string): void {
    if ((this.holds.get(name)?.size ?? 0) === 0 && (this.waits.get(name)?.size ?? 0) === 0) {
      this.fail("lockHistory", `try-lock of ${name} refused although nobody holds or waits for it`);
    }
    this.counters.refusedHeld += 1;
  }

  private enqueue(sessionId: number, name: string, mode: LockMode): void {
    const queue = this.waits.get(name) ?? new Map<number, LockMode>();
    if (!queue.has(sessionId)) this.counters.queued += 1;
    queue.set(sessionId, mode);
    this.waits.set(name, queue);
  }

  private removeWait(sessionId: number, name: string, what: string): void {
    const queue = this.waits.get(name);
    if (queue?.delete(sessionId) !== true) this.fail("lockHistory", `session ${sessionId} ${what} a wait for ${name} it does not have`);
    if (queue.size === 0) this.waits.delete(name);
  }

  private release(sessionId: number, name: string, token: number): void {
    const holders = this.holds.get(name);
    const hold = holders?.get(sessionId);
    if (holders === undefined || hold === undefined || hold.token !== token) {
      this.fail("lockHistory", `session ${sessionId} releases ${name} #${token}, which it does not hold (holds ${hold?.token ?? "nothing"})`);
    }
    holders.delete(sessionId);
    if (holders.size === 0) this.holds.delete(name);
  }

  private expire(sessionId: number, cancelledWaits: readonly string[]): void {
    const session = this.sessions.get(sessionId);
    if (session === undefined) this.fail("lockHistory", `session ${sessionId} expires but is not open`);
    if (session.deadlineMs > this.clockMs) {
      this.fail("lockSessionLiveness", `session ${sessionId} expires early: deadline ${session.deadlineMs} is after the clock`);
    }
    const waiting = this.waitsOf(sessionId);
    if (waiting.join(",") !== [...cancelledWaits].sort().join(",")) {
      this.fail("lockHistory", `session ${sessionId} expires cancelling waits [${cancelledWaits.join(",")}] but waits for [${waiting.join(",")}]`);
    }
    this.endSession(sessionId, "expired");
    this.counters.sessionsExpired += 1;
  }

  /** A session ends (its released events came first): nothing may remain held; its waits go. */
  private endSession(sessionId: number, how: string): void {
    for (const [name, holders] of this.holds) {
      if (holders.has(sessionId)) this.fail("lockHistory", `session ${sessionId} ${how} but still holds ${name}`);
    }
    for (const name of this.waitsOf(sessionId)) this.removeWait(sessionId, name, `${how} with`);
    this.sessions.delete(sessionId);
  }

  private waitsOf(sessionId: number): string[] {
    return [...this.waits].filter(([, queue]) => queue.has(sessionId)).map(([name]) => name).sort();
  }

  private fail(invariant: Invariant, detail: string): never {
    violated(invariant, `${detail} (term ${this.term}, clock ${this.clockMs}; ${this.where})`);
  }
}
