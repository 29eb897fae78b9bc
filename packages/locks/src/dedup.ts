// Exactly-once application of client commands (Raft thesis §6.3). Each client command
// carries (clientId, seq); the table remembers, per client, the answers to its most recent
// sequence numbers, so a retry (after a lost answer or a failover) gets the first answer
// back instead of being applied twice.
//
// Bounds and lifetime:
// - Per client at most dedupSeqsPerClientMax answers. When one more is recorded, the lowest
//   seq is forgotten and the client's floor rises above it; a seq below the floor answers
//   STALE_SEQUENCE: it might have been applied, so it is never applied (again).
// - A record is created only by an openSession that succeeds, and lives while the client
//   has an open session plus dedupRetainMs after its last one ended. A client without a
//   record has no open session, so every command it sends (except openSession) fails
//   without changing anything, and repeating such a command is harmless.
// - At most dedupClientsMax records. A new client in a full table evicts the idle record
//   due to be forgotten first. One always exists: a record with open sessions has at least
//   one, openSession is refused before sessionsMax is exceeded, and the config demands
//   dedupClientsMax >= sessionsMax.

import type { LockAnswer } from "./answers.js";
import { errorAnswer, invariant } from "./errors.js";

export interface DedupLimits {
  readonly dedupClientsMax: number;
  readonly dedupSeqsPerClientMax: number;
  readonly dedupRetainMs: number;
}

/** One client's record as the snapshot carries it; answers in ascending seq order. */
export interface ClientRecordSnapshot {
  readonly clientId: string;
  /** Every seq below it was forgotten (or never used) and answers STALE_SEQUENCE. */
  readonly floorSeq: number;
  /** When an idle record is forgotten (state clock); null while the client has an open session. */
  readonly forgetAtMs: number | null;
  readonly answers: readonly { readonly seq: number; readonly answer: LockAnswer }[];
}

interface ClientRecord {
  readonly clientId: string;
  floorSeq: number;
  openSessions: number;
  forgetAtMs: number | null;
  readonly answers: Map<number, LockAnswer>;
}

export type DedupLookup = { readonly kind: "fresh" } | { readonly kind: "seen"; readonly answer: LockAnswer };

export class DedupTable {
  private readonly clients = new Map<string, ClientRecord>();

  constructor(private readonly limits: DedupLimits) {}

  get size(): number {
    return this.clients.size;
  }

  /** Whether (clientId, seq) must be applied, or what to answer instead. */
  lookup(clientId: string, seq: number): DedupLookup {
    const client = this.clients.get(clientId);
    if (client === undefined) return { kind: "fresh" };
    if (seq < client.floorSeq) {
      const message = `seq ${seq} of client ${clientId} is below its dedup window (floor ${client.floorSeq}); it is not applied again`;
      return { kind: "seen", answer: errorAnswer("STALE_SEQUENCE", message) };
    }
    const answer = client.answers.get(seq);
    return answer === undefined ? { kind: "fresh" } : { kind: "seen", answer };
  }

  /** Remembers the answer to a fresh command, if the client has a record. */
  record(clientId: string, seq: number, answer: LockAnswer): void {
    const client = this.clients.get(clientId);
    if (client === undefined) return;
    invariant(
      seq >= client.floorSeq && !client.answers.has(seq),
      () => `dedup: recording seq ${seq} of ${clientId} twice or below floor ${client.floorSeq}`,
    );
    client.answers.set(seq, answer);
    // More than one answer is dropped only after a restore under a smaller limit.
    while (client.answers.size > this.limits.dedupSeqsPerClientMax) {
      let lowest = Number.POSITIVE_INFINITY;
      for (const recorded of client.answers.keys()) if (recorded < lowest) lowest = recorded;
      client.answers.delete(lowest);
      client.floorSeq = lowest + 1;
    }
  }

  /** A session of the client opens (the caller keeps fewer than sessionsMax open). */
  attachSession(clientId: string): void {
    let client = this.clients.get(clientId);
    if (client === undefined) {
      if (this.clients.size >= this.limits.dedupClientsMax) {
        const evicted = this.evictOneIdle();
        invariant(
          evicted,
          () => `dedup: ${this.clients.size} records and none idle; dedupClientsMax ${this.limits.dedupClientsMax} must exceed the open sessions`,
        );
      }
      client = { clientId, floorSeq: 0, openSessions: 0, forgetAtMs: null, answers: new Map() };
      this.clients.set(clientId, client);
    }
    client.openSessions += 1;
    client.forgetAtMs = null;
  }

  /** A session of the client ended; returns when the record will be forgotten, if it is now idle. */
  detachSession(clientId: string, nowMs: number): number | undefined {
    const client = this.clients.get(clientId);
    invariant(
      client !== undefined && client.openSessions > 0,
      () => `dedup: session of ${clientId} ended but its record counts ${client?.openSessions ?? "no"} open sessions`,
    );
    client.openSessions -= 1;
    if (client.openSessions > 0) return undefined;
    client.forgetAtMs = nowMs + this.limits.dedupRetainMs;
    return client.forgetAtMs;
  }

  /** Forgets every idle record whose time has come. */
  forgetDue(nowMs: number): void {
    for (const client of [...this.clients.values()]) {
      if (client.forgetAtMs !== null && client.forgetAtMs <= nowMs) this.clients.delete(client.clientId);
    }
  }

  earliestForgetMs(): number {
    let earliest = Number.POSITIVE_INFINITY;
    for (const client of this.clients.values()) if (client.forgetAtMs !== null) earliest = Math.min(earliest, client.forgetAtMs);
    return earliest;
  }

  /** Moves every forget time by deltaMs (a leader change re-bases the clock). */
  shiftTimes(deltaMs: number): void {
    for (const client of this.clients.values()) if (client.forgetAtMs !== null) client.forgetAtMs += deltaMs;
  }

  openSessionsOf(clientId: string): number | undefined {
    return this.clients.get(clientId)?.openSessions;
  }

  snapshot(): ClientRecordSnapshot[] {
    return [...this.clients.values()].map((c) => ({
      clientId: c.clientId,
      floorSeq: c.floorSeq,
      forgetAtMs: c.forgetAtMs,
      answers: [...c.answers.entries()].sort((a, b) => a[0] - b[0]).map(([seq, answer]) => ({ seq, answer })),
    }));
  }

  /** Rebuilds from validated records; openSessions is counted from the restored sessions. */
  static restore(limits: DedupLimits, records: readonly ClientRecordSnapshot[], openSessions: ReadonlyMap<string, number>): DedupTable {
    const table = new DedupTable(limits);
    for (const r of records) {
      const answers = new Map(r.answers.map((a) => [a.seq, a.answer] as const));
      const open = openSessions.get(r.clientId) ?? 0;
      table.clients.set(r.clientId, { clientId: r.clientId, floorSeq: r.floorSeq, openSessions: open, forgetAtMs: r.forgetAtMs, answers });
    }
    return table;
  }

  /** Throws unless every record is consistent with the given open-session counts and clock. */
  assertInvariants(openSessions: ReadonlyMap<string, number>, nowMs: number): void {
    invariant(
      this.clients.size <= Math.max(this.limits.dedupClientsMax, openSessions.size),
      () => `dedup: ${this.clients.size} records exceed dedupClientsMax ${this.limits.dedupClientsMax}`,
    );
    for (const [clientId, count] of openSessions) {
      invariant(
        this.clients.get(clientId)?.openSessions === count,
        () => `dedup: client ${clientId} has ${count} open sessions, record says ${this.clients.get(clientId)?.openSessions ?? "none"}`,
      );
    }
    for (const c of this.clients.values()) {
      const idle = c.openSessions === 0;
      invariant(
        idle === (c.forgetAtMs !== null),
        () => `dedup: client ${c.clientId} has ${c.openSessions} open sessions and forgetAtMs ${c.forgetAtMs}`,
      );
      invariant(
        c.forgetAtMs === null || c.forgetAtMs > nowMs,
        () => `dedup: idle record ${c.clientId} due at ${c.forgetAtMs} survives clock ${nowMs}`,
      );
      for (const seq of c.answers.keys()) {
        invariant(
          seq >= c.floorSeq,
          () => `dedup: client ${c.clientId} remembers seq ${seq} below floor ${c.floorSeq}`,
        );
      }
    }
  }

  /** Evicts the idle record due to be forgotten first (ties: smallest clientId). */
  private evictOneIdle(): boolean {
    let victim: ClientRecord | undefined;
    for (const c of this.clients.values()) {
      if (c.forgetAtMs === null) continue;
      const victimAtMs = victim?.forgetAtMs ?? Number.POSITIVE_INFINITY;
      if (victim === undefined || c.forgetAtMs < victimAtMs || (c.forgetAtMs === victimAtMs && c.clientId < victim.clientId)) victim = c;
    }
    if (victim === undefined) return false;
    this.clients.delete(victim.clientId);
    return true;
  }
}
