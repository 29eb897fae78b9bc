// The snapshot format: plain, versioned data (arrays and objects of numbers, strings and
// null; no Map, no class), which the server encodes with MessagePack and writes to disk.
// decodeSnapshot checks everything before the state machine trusts it: shapes, ranges, and
// the cross-references and lock invariants a corrupted or hand-edited file could break.

import { decodeAnswer, type LockAnswer } from "./answers.js";
import { array, check, integer, nullable, oneOf, record, text } from "./decode.js";
import type { ClientRecordSnapshot } from "./dedup.js";
import { CLIENT_ID_BYTES_MAX, NAME_BYTES_MAX, OWNER_BYTES_MAX } from "./text.js";
import { asFencingToken, asSessionId, LOCK_MODES, TIME_MS_MAX, type FencingToken, type LockMode, type SessionId } from "./types.js";

/** 2 added SessionSnapshot.failoverGraceUsed; version 1 snapshots are still read. */
export const SNAPSHOT_VERSION = 2;

export interface SessionSnapshot {
  readonly id: SessionId;
  readonly clientId: string;
  readonly ttlMs: number;
  readonly deadlineMs: number;
  /** A leader change already gave the session a full TTL since its last keep-alive. */
  readonly failoverGraceUsed: boolean;
}

export interface HolderSnapshot {
  readonly sessionId: SessionId;
  readonly owner: string;
  readonly mode: LockMode;
  readonly token: FencingToken;
  readonly sinceMs: number;
}

export interface WaiterSnapshot {
  readonly sessionId: SessionId;
  readonly owner: string;
  readonly mode: LockMode;
  readonly deadlineMs: number;
  readonly sinceMs: number;
}

export interface LockEntrySnapshot {
  readonly name: string;
  /** In grant order. */
  readonly holders: readonly HolderSnapshot[];
  /** In queue order. */
  readonly waiters: readonly WaiterSnapshot[];
}

export interface LockSnapshot {
  readonly version: typeof SNAPSHOT_VERSION;
  readonly appliedIndex: number;
  readonly term: number;
  readonly clockMs: number;
  readonly nextToken: FencingToken;
  /** In ascending id order. */
  readonly sessions: readonly SessionSnapshot[];
  readonly locks: readonly LockEntrySnapshot[];
  readonly clients: readonly ClientRecordSnapshot[];
}

const SAFE = Number.MAX_SAFE_INTEGER;
/** Generous caps on list lengths: a snapshot is large, but not unboundedly so. */
const ENTRIES_MAX = 1 << 24;
const ANSWERS_PER_CLIENT_MAX = 1 << 12;
/** Elapsed-time stamps may be negative after a re-base onto a younger leader clock. */
const time = (v: unknown, path: string): number => integer(v, path, -TIME_MS_MAX * 4, TIME_MS_MAX * 4);

/** Validates a snapshot read from disk; throws DecodeError describing the first problem. */
export function decodeSnapshot(value: unknown, locksMax: number): LockSnapshot {
  const f = record(value, "snapshot", ["version", "appliedIndex", "term", "clockMs", "nextToken", "sessions", "locks", "clients"]);
  const version = f["version"];
  check(version === 1 || version === SNAPSHOT_VERSION, () => `snapshot.version: expected 1 or ${SNAPSHOT_VERSION}, got ${String(version)}`);
  const appliedIndex = integer(f["appliedIndex"], "snapshot.appliedIndex", 0, SAFE);
  const clockMs = integer(f["clockMs"], "snapshot.clockMs", 0, TIME_MS_MAX);
  const nextToken = asFencingToken(integer(f["nextToken"], "snapshot.nextToken", 1, SAFE));
  const sessions = array(f["sessions"], "snapshot.sessions", ENTRIES_MAX).map((s, i) =>
    decodeSession(s, `snapshot.sessions[${i}]`, clockMs, appliedIndex, version),
  );
  const locks = array(f["locks"], "snapshot.locks", ENTRIES_MAX).map((l, i) => decodeLock(l, `snapshot.locks[${i}]`, clockMs, nextToken));
  const clients = array(f["clients"], "snapshot.clients", ENTRIES_MAX).map((c, i) => decodeClient(c, `snapshot.clients[${i}]`, clockMs, locksMax));
  const term = integer(f["term"], "snapshot.term", 0, SAFE);
  const snapshot: LockSnapshot = { version: SNAPSHOT_VERSION, appliedIndex, term, clockMs, nextToken, sessions, locks, clients };
  checkReferences(snapshot);
  return snapshot;
}

function decodeSession(value: unknown, path: string, clockMs: number, appliedIndex: number, version: 1 | 2): SessionSnapshot {
  const f = record(value, path, version === 1 ? ["id", "clientId", "ttlMs", "deadlineMs"] : ["id", "clientId", "ttlMs", "deadlineMs", "failoverGraceUsed"]);
  const ttlMs = integer(f["ttlMs"], `${path}.ttlMs`, 1, TIME_MS_MAX);
  const graceUsed = version === 1 ? false : f["failoverGraceUsed"];
  check(typeof graceUsed === "boolean", () => `${path}.failoverGraceUsed: expected a boolean, got ${typeof graceUsed}`);
  return {
    id: asSessionId(integer(f["id"], `${path}.id`, 1, appliedIndex)),
    clientId: text(f["clientId"], `${path}.clientId`, 1, CLIENT_ID_BYTES_MAX),
    ttlMs,
    deadlineMs: integer(f["deadlineMs"], `${path}.deadlineMs`, clockMs + 1, clockMs + ttlMs),
    failoverGraceUsed: graceUsed,
  };
}

function decodeLock(value: unknown, path: string, clockMs: number, nextToken: number): LockEntrySnapshot {
  const f = record(value, path, ["name", "holders", "waiters"]);
  const holders = array(f["holders"], `${path}.holders`, ENTRIES_MAX).map((h, i) => {
    const p = `${path}.holders[${i}]`;
    const g = record(h, p, ["sessionId", "owner", "mode", "token", "sinceMs"]);
    return {
      sessionId: asSessionId(integer(g["sessionId"], `${p}.sessionId`, 1, SAFE)),
      owner: text(g["owner"], `${p}.owner`, 0, OWNER_BYTES_MAX),
      mode: oneOf(g["mode"], `${p}.mode`, LOCK_MODES),
      token: asFencingToken(integer(g["token"], `${p}.token`, 1, nextToken - 1)),
      sinceMs: time(g["sinceMs"], `${p}.sinceMs`),
    };
  });
  const waiters = array(f["waiters"], `${path}.waiters`, ENTRIES_MAX).map((w, i) => {
    const p = `${path}.waiters[${i}]`;
    const g = record(w, p, ["sessionId", "owner", "mode", "deadlineMs", "sinceMs"]);
    return {
      sessionId: asSessionId(integer(g["sessionId"], `${p}.sessionId`, 1, SAFE)),
      owner: text(g["owner"], `${p}.owner`, 0, OWNER_BYTES_MAX),
      mode: oneOf(g["mode"], `${p}.mode`, LOCK_MODES),
      deadlineMs: integer(g["deadlineMs"], `${p}.deadlineMs`, clockMs + 1, clockMs + TIME_MS_MAX),
      sinceMs: time(g["sinceMs"], `${p}.sinceMs`),
    };
  });
  const lock = { name: text(f["name"], `${path}.name`, 1, NAME_BYTES_MAX), holders, waiters };
  checkLockShape(lock, path, clockMs);
  return lock;
}

/** The per-lock invariants of the state machine (see Lock in state-machine.ts). */
function checkLockShape(lock: LockEntrySnapshot, path: string, clockMs: number): void {
  const { holders, waiters } = lock;
  check(holders.length + waiters.length > 0, () => `${path}: a lock entry with no holder and no waiter`);
  const exclusive = holders.filter((h) => h.mode === "exclusive").length;
  check(exclusive === 0 || holders.length === 1, () => `${path}: ${exclusive} exclusive among ${holders.length} holders`);
  for (const h of holders) check(h.sinceMs <= clockMs, () => `${path}: holder ${h.sessionId} since ${h.sinceMs}, after clock ${clockMs}`);
  for (const w of waiters) check(w.sinceMs <= clockMs, () => `${path}: waiter ${w.sessionId} since ${w.sinceMs}, after clock ${clockMs}`);
  const ids = [...holders, ...waiters].map((x) => x.sessionId);
  check(new Set(ids).size === ids.length, () => `${path}: a session appears twice`);
  const head = waiters[0];
  const headGrantable = head !== undefined && (holders.length === 0 || (head.mode === "shared" && exclusive === 0));
  check(!headGrantable, () => `${path}: the head waiter ${head?.sessionId} could have been granted`);
}

function decodeClient(value: unknown, path: string, clockMs: number, locksMax: number): ClientRecordSnapshot {
  const f = record(value, path, ["clientId", "floorSeq", "forgetAtMs", "answers"]);
  const floorSeq = integer(f["floorSeq"], `${path}.floorSeq`, 0, SAFE);
  const answers = array(f["answers"], `${path}.answers`, ANSWERS_PER_CLIENT_MAX).map((a, i) => {
    const p = `${path}.answers[${i}]`;
    const g = record(a, p, ["seq", "answer"]);
    const answer: LockAnswer = decodeAnswer(g["answer"], `${p}.answer`, locksMax);
    return { seq: integer(g["seq"], `${p}.seq`, floorSeq, SAFE), answer };
  });
  for (let i = 1; i < answers.length; i++) {
    check((answers[i]?.seq ?? 0) > (answers[i - 1]?.seq ?? 0), () => `${path}.answers: seqs are not strictly ascending at ${i}`);
  }
  return {
    clientId: text(f["clientId"], `${path}.clientId`, 1, CLIENT_ID_BYTES_MAX),
    floorSeq,
    forgetAtMs: nullable(f["forgetAtMs"], (v) => integer(v, `${path}.forgetAtMs`, clockMs + 1, clockMs + TIME_MS_MAX)),
    answers,
  };
}

/** Cross-references: sessions, locks and client records must describe one consistent state. */
function checkReferences(s: LockSnapshot): void {
  for (let i = 1; i < s.sessions.length; i++) {
    check((s.sessions[i]?.id ?? 0) > (s.sessions[i - 1]?.id ?? 0), () => `snapshot.sessions: ids are not strictly ascending at ${i}`);
  }
  const sessionIds = new Set(s.sessions.map((x) => x.id));
  const names = new Set<string>();
  const tokens = new Set<number>();
  for (const lock of s.locks) {
    check(!names.has(lock.name), () => `snapshot.locks: ${lock.name} appears twice`);
    names.add(lock.name);
    for (const x of [...lock.holders, ...lock.waiters]) {
      check(sessionIds.has(x.sessionId), () => `snapshot.locks: ${lock.name} names session ${x.sessionId}, which is not open`);
    }
    for (const h of lock.holders) {
      check(!tokens.has(h.token), () => `snapshot.locks: token ${h.token} is granted twice`);
      tokens.add(h.token);
    }
  }
  const openSessions = new Map<string, number>();
  for (const session of s.sessions) openSessions.set(session.clientId, (openSessions.get(session.clientId) ?? 0) + 1);
  const clientIds = new Set<string>();
  for (const c of s.clients) {
    check(!clientIds.has(c.clientId), () => `snapshot.clients: ${c.clientId} appears twice`);
    clientIds.add(c.clientId);
    const open = openSessions.has(c.clientId);
    check(
      open === (c.forgetAtMs === null),
      () => `snapshot.clients: ${c.clientId} ${open ? "has open sessions but a forget time" : "is idle but has no forget time"}`,
    );
  }
  for (const clientId of openSessions.keys()) {
    check(
      clientIds.has(clientId),
      () => `snapshot.clients: no record for client ${clientId}, which has open sessions`,
    );
  }
}
