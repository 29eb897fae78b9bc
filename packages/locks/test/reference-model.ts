// A deliberately naive reference model of the lock state machine, written from the spec in
// docs/locks.md rather than from the implementation: flat arrays and linear scans, every
// lock name promoted on every step, open-session counts recomputed by scanning. It applies
// only well-formed commands (the property test checks malformed ones separately) and
// answers errors with a code but no message.

import type { LockMode } from "../src/index.js";

export interface ModelConfig {
  readonly sessionsMax: number;
  readonly locksMax: number;
  readonly waitersPerLockMax: number;
  readonly dedupClientsMax: number;
  readonly dedupSeqsPerClientMax: number;
  readonly dedupRetainMs: number;
}

export type ModelCommand =
  | { type: "tick"; nowMs: number }
  | { type: "openSession"; nowMs: number; clientId: string; seq: number; ttlMs: number }
  | { type: "keepAlive" | "closeSession"; nowMs: number; clientId: string; seq: number; sessionId: number }
  | { type: "release"; nowMs: number; clientId: string; seq: number; sessionId: number; name: string }
  | { type: "acquire"; nowMs: number; clientId: string; seq: number; sessionId: number; name: string; mode: LockMode; waitMs: number; owner: string };

type Answer = Record<string, unknown> & { type: string };
type Event = Record<string, unknown> & { type: string };

interface Session { id: number; clientId: string; ttlMs: number; deadline: number; graceUsed: boolean }
interface Holder { name: string; sessionId: number; owner: string; mode: LockMode; token: number; since: number }
interface Waiter { name: string; sessionId: number; owner: string; mode: LockMode; deadline: number; since: number }
interface Client { clientId: string; floor: number; answers: { seq: number; answer: Answer }[]; forgetAt: number | null }

const err = (code: string): Answer => ({ type: "error", code });
const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export class ReferenceModel {
  term = 0;
  clock = 0;
  nextToken = 1;
  sessions: Session[] = [];
  holders: Holder[] = []; // grant order
  waiters: Waiter[] = []; // arrival order
  clients: Client[] = [];
  private events: Event[] = [];

  constructor(private readonly config: ModelConfig) {}

  apply(index: number, term: number, c: ModelCommand): { answer: Answer; events: Event[] } {
    this.events = [];
    if (c.type !== "tick") {
      const client = this.clients.find((x) => x.clientId === c.clientId);
      if (client !== undefined && c.seq < client.floor) return { answer: err("STALE_SEQUENCE"), events: [] };
      const seen = client?.answers.find((a) => a.seq === c.seq);
      if (seen !== undefined) return { answer: seen.answer, events: [] };
    }
    if (term > this.term) this.rebase(term, c.nowMs);
    else this.clock = Math.max(this.clock, c.nowMs);
    this.expire();
    const answer = this.execute(index, c);
    if (c.type !== "tick") this.remember(c.clientId, c.seq, answer);
    this.promoteAll();
    return { answer, events: this.events };
  }

  private rebase(term: number, now: number): void {
    const delta = now - this.clock;
    // The first leader change after a keep-alive grants the full TTL; later ones keep what was left.
    for (const s of this.sessions) {
      s.deadline = now + (s.graceUsed ? s.deadline - this.clock : s.ttlMs);
      s.graceUsed = true;
    }
    for (const h of this.holders) h.since += delta;
    for (const w of this.waiters) {
      w.deadline += delta;
      w.since += delta;
    }
    for (const c of this.clients) if (c.forgetAt !== null) c.forgetAt += delta;
    this.term = term;
    this.clock = now;
  }

  private expire(): void {
    const due = this.sessions.filter((s) => s.deadline <= this.clock).sort((a, b) => a.id - b.id);
    for (const s of due) this.endSession(s, "expired");
    const dueWaits = this.waiters.filter((w) => w.deadline <= this.clock);
    const ordered = [...dueWaits].sort(byName); // stable: keeps arrival order per name
    for (const w of ordered) {
      this.waiters = this.waiters.filter((x) => x !== w);
      const s = this.sessions.find((x) => x.id === w.sessionId);
      this.events.push({ type: "waitTimedOut", sessionId: w.sessionId, clientId: s?.clientId, name: w.name, mode: w.mode });
    }
    this.clients = this.clients.filter((c) => c.forgetAt === null || c.forgetAt > this.clock);
    this.promoteAll();
  }

  private endSession(s: Session, reason: "closed" | "expired"): { name: string; mode: LockMode; token: number }[] {
    this.sessions = this.sessions.filter((x) => x !== s);
    const waits = this.waiters.filter((w) => w.sessionId === s.id).sort(byName);
    this.waiters = this.waiters.filter((w) => w.sessionId !== s.id);
    const held = this.holders.filter((h) => h.sessionId === s.id).sort(byName);
    this.holders = this.holders.filter((h) => h.sessionId !== s.id);
    for (const h of held) this.events.push({ type: "released", sessionId: s.id, clientId: s.clientId, name: h.name, owner: h.owner, mode: h.mode, token: h.token, reason });
    if (!this.sessions.some((x) => x.clientId === s.clientId)) {
      const client = this.clients.find((c) => c.clientId === s.clientId);
      if (client !== undefined) client.forgetAt = this.clock + this.config.dedupRetainMs;
    }
    const lost = held.map((h) => ({ name: h.name, mode: h.mode, token: h.token }));
    if (reason === "expired") this.events.push({ type: "sessionExpired", sessionId: s.id, clientId: s.clientId, lost, cancelledWaits: waits.map((w) => w.name) });
    return lost;
  }

  private promoteAll(): void {
    const names = [...new Set(this.waiters.map((w) => w.name))].sort();
    for (const name of names) {
      for (;;) {
        const head = this.waiters.find((w) => w.name === name);
        if (head === undefined || !this.compatible(name, head.mode)) break;
        this.waiters = this.waiters.filter((w) => w !== head);
        const s = this.sessions.find((x) => x.id === head.sessionId);
        if (s === undefined || s.deadline <= this.clock) throw new Error(`model: would grant ${name} to dead session ${head.sessionId}`);
        const h = this.grant(name, head.sessionId, head.owner, head.mode);
        this.events.push({ type: "granted", sessionId: s.id, clientId: s.clientId, name, owner: h.owner, mode: h.mode, token: h.token });
      }
    }
  }

  private compatible(name: string, mode: LockMode): boolean {
    const held = this.holders.filter((h) => h.name === name);
    return held.length === 0 || (mode === "shared" && held.every((h) => h.mode === "shared"));
  }

  private grant(name: string, sessionId: number, owner: string, mode: LockMode): Holder {
    const h = { name, sessionId, owner, mode, token: this.nextToken++, since: this.clock };
    this.holders.push(h);
    return h;
  }

  private remember(clientId: string, seq: number, answer: Answer): void {
    const client = this.clients.find((c) => c.clientId === clientId);
    if (client === undefined) return;
    client.answers.push({ seq, answer });
    while (client.answers.length > this.config.dedupSeqsPerClientMax) {
      const lowest = Math.min(...client.answers.map((a) => a.seq));
      client.answers = client.answers.filter((a) => a.seq !== lowest);
      client.floor = lowest + 1;
    }
  }

  private execute(index: number, c: ModelCommand): Answer {
    if (c.type === "tick") return { type: "ticked" };
    if (c.type === "openSession") return this.open(index, c.clientId, c.ttlMs);
    const s = this.sessions.find((x) => x.id === c.sessionId);
    if (s === undefined) return err("SESSION_EXPIRED");
    if (s.clientId !== c.clientId) return err("UNAUTHORIZED");
    switch (c.type) {
      case "keepAlive":
        s.deadline = this.clock + s.ttlMs;
        s.graceUsed = false;
        return { type: "keptAlive", sessionId: s.id, ttlMs: s.ttlMs };
      case "closeSession":
        return { type: "sessionClosed", sessionId: s.id, released: this.endSession(s, "closed") };
      case "release":
        return this.release(s, c.name);
      case "acquire":
        return this.acquire(s, c.name, c.mode, c.waitMs, c.owner);
    }
  }

  private open(index: number, clientId: string, ttlMs: number): Answer {
    if (this.sessions.length >= this.config.sessionsMax) return err("OVERLOADED");
    if (!this.clients.some((c) => c.clientId === clientId)) {
      if (this.clients.length >= this.config.dedupClientsMax) {
        const idle = this.clients.filter((c) => c.forgetAt !== null);
        if (idle.length === 0) return err("OVERLOADED");
        idle.sort((a, b) => (a.forgetAt ?? 0) - (b.forgetAt ?? 0) || (a.clientId < b.clientId ? -1 : 1));
        this.clients = this.clients.filter((c) => c !== idle[0]);
      }
      this.clients.push({ clientId, floor: 0, answers: [], forgetAt: null });
    }
    const client = this.clients.find((c) => c.clientId === clientId);
    if (client !== undefined) client.forgetAt = null;
    this.sessions.push({ id: index, clientId, ttlMs, deadline: this.clock + ttlMs, graceUsed: false });
    return { type: "sessionOpened", sessionId: index, ttlMs };
  }

  private release(s: Session, name: string): Answer {
    const h = this.holders.find((x) => x.name === name && x.sessionId === s.id);
    if (h !== undefined) {
      this.holders = this.holders.filter((x) => x !== h);
      this.events.push({ type: "released", sessionId: s.id, clientId: s.clientId, name, owner: h.owner, mode: h.mode, token: h.token, reason: "released" });
      return { type: "released", name, token: h.token };
    }
    const w = this.waiters.find((x) => x.name === name && x.sessionId === s.id);
    if (w === undefined) return err("NOT_HOLDER");
    this.waiters = this.waiters.filter((x) => x !== w);
    return { type: "waitCancelled", name };
  }

  private acquire(s: Session, name: string, mode: LockMode, waitMs: number, owner: string): Answer {
    const held = this.holders.filter((h) => h.name === name);
    const queue = this.waiters.filter((w) => w.name === name);
    const mine = held.find((h) => h.sessionId === s.id);
    if (mine !== undefined) return mine.mode === mode ? { type: "granted", name, mode, token: mine.token } : err("INVALID_ARGUMENT");
    const at = queue.findIndex((w) => w.sessionId === s.id);
    if (at >= 0) return queue[at]?.mode === mode ? { type: "queued", name, mode, position: at + 1 } : err("INVALID_ARGUMENT");
    const names = new Set([...this.holders.map((h) => h.name), ...this.waiters.map((w) => w.name)]);
    if (!names.has(name) && names.size >= this.config.locksMax) return err("OVERLOADED");
    if (queue.length === 0 && this.compatible(name, mode)) {
      return { type: "granted", name, mode, token: this.grant(name, s.id, owner, mode).token };
    }
    if (waitMs === 0) {
      const holders = held.slice(0, 8).map((h) => ({ sessionId: h.sessionId, owner: h.owner, mode: h.mode, token: h.token }));
      return { type: "held", name, mode: held[0]?.mode, holders, holderCount: held.length, waiterCount: queue.length };
    }
    if (queue.length >= this.config.waitersPerLockMax) return err("OVERLOADED");
    this.waiters.push({ name, sessionId: s.id, owner, mode, deadline: this.clock + waitMs, since: this.clock });
    return { type: "queued", name, mode, position: queue.length + 1 };
  }

  /** The same shape as LockStateMachine.status. */
  status(name: string): unknown {
    const held = this.holders.filter((h) => h.name === name);
    const clientOf = (id: number): string | undefined => this.sessions.find((s) => s.id === id)?.clientId;
    return {
      name,
      mode: held[0]?.mode ?? null,
      token: held.length === 0 ? null : Math.max(...held.map((h) => h.token)),
      holders: held.map((h) => ({ sessionId: h.sessionId, clientId: clientOf(h.sessionId), owner: h.owner, mode: h.mode, token: h.token, heldForMs: this.clock - h.since })),
      waiters: this.waiters
        .filter((w) => w.name === name)
        .map((w) => ({ sessionId: w.sessionId, clientId: clientOf(w.sessionId), owner: w.owner, mode: w.mode, waitedForMs: this.clock - w.since, remainingMs: w.deadline - this.clock })),
    };
  }

  /** The same shape as LockStateMachine.sessionInfo. */
  sessionInfo(id: number): unknown {
    const s = this.sessions.find((x) => x.id === id);
    if (s === undefined) return undefined;
    return {
      sessionId: s.id,
      clientId: s.clientId,
      ttlMs: s.ttlMs,
      remainingMs: s.deadline - this.clock,
      held: this.holders.filter((h) => h.sessionId === id).sort(byName).map((h) => ({ name: h.name, mode: h.mode, token: h.token })),
      waiting: this.waiters.filter((w) => w.sessionId === id).sort(byName).map((w) => ({ name: w.name, mode: w.mode })),
    };
  }
}
