// A test driver for LockStateMachine: it plays the server's part (log indexes, terms,
// leader clock stamps, per-client sequence numbers), applies each command, and after every
// apply checks the machine's invariants and that fencing tokens strictly increase per name.

import { expect } from "vitest";
import {
  LockStateMachine,
  type ApplyResult,
  type LockAnswer,
  type LockConfig,
  type LockEvent,
  type LockMode,
  type SessionId,
} from "../src/index.js";

export const TEST_CONFIG: LockConfig = {
  sessionTtlMsMin: 500,
  sessionTtlMsMax: 3_600_000,
  waitMsMax: 3_600_000,
  sessionsMax: 64,
  locksMax: 64,
  waitersPerLockMax: 8,
  dedupClientsMax: 128,
  dedupSeqsPerClientMax: 4,
  dedupRetainMs: 10_000,
};

export class Driver {
  machine: LockStateMachine;
  index = 0;
  term = 1;
  nowMs = 1_000;
  private readonly seqs = new Map<string, number>();
  /** Highest token granted per name so far, and every (name, token) grant seen. */
  private readonly lastToken = new Map<string, number>();
  private readonly grants = new Set<string>();

  constructor(readonly config: LockConfig = TEST_CONFIG) {
    this.machine = new LockStateMachine(config);
  }

  /** Applies a raw command at the next log index, then checks every invariant. */
  applyRaw(command: unknown): ApplyResult {
    this.index += 1;
    const result = this.machine.apply({ index: this.index, term: this.term }, command);
    this.machine.assertInvariants();
    this.checkTokens(result);
    return result;
  }

  nextSeq(clientId: string): number {
    const seq = (this.seqs.get(clientId) ?? 0) + 1;
    this.seqs.set(clientId, seq);
    return seq;
  }

  client(clientId: string, fields: Record<string, unknown>, seq = this.nextSeq(clientId)): ApplyResult {
    return this.applyRaw({ ...fields, clientId, seq, nowMs: this.nowMs });
  }

  open(clientId: string, ttlMs = 10_000): SessionId {
    const { answer } = this.client(clientId, { type: "openSession", ttlMs });
    if (answer.type !== "sessionOpened") throw new Error(`openSession failed: ${JSON.stringify(answer)}`);
    return answer.sessionId;
  }

  acquire(clientId: string, sessionId: SessionId, name: string, mode: LockMode = "exclusive", waitMs = 0, owner = clientId): ApplyResult {
    return this.client(clientId, { type: "acquire", sessionId, name, mode, waitMs, owner });
  }

  release(clientId: string, sessionId: SessionId, name: string): ApplyResult {
    return this.client(clientId, { type: "release", sessionId, name });
  }

  keepAlive(clientId: string, sessionId: SessionId): ApplyResult {
    return this.client(clientId, { type: "keepAlive", sessionId });
  }

  close(clientId: string, sessionId: SessionId): ApplyResult {
    return this.client(clientId, { type: "closeSession", sessionId });
  }

  /** Lets time pass on the leader's clock, then applies a tick. */
  tick(advanceMs = 0): ApplyResult {
    this.nowMs += advanceMs;
    return this.applyRaw({ type: "tick", nowMs: this.nowMs });
  }

  /** A new leader in a new term, whose monotonic clock reads `nowMs`. */
  newLeader(nowMs: number): void {
    this.term += 1;
    this.nowMs = nowMs;
  }

  /** Replaces the machine by one restored from its snapshot, after a JSON round trip. */
  restart(): void {
    const snapshot: unknown = JSON.parse(JSON.stringify(this.machine.snapshot()));
    // Plain data only: a Map, a class instance or an undefined field would not survive JSON.
    expect(snapshot).toStrictEqual(this.machine.snapshot());
    const restored = LockStateMachine.restore(snapshot, this.config);
    if (!restored.ok) throw new Error(restored.error);
    expect(restored.machine.snapshot()).toEqual(this.machine.snapshot());
    this.machine = restored.machine;
  }

  private checkTokens(result: ApplyResult): void {
    const grants: { name: string; token: number }[] = result.events.filter(isGrantedEvent);
    if (result.answer.type === "granted") grants.push(result.answer);
    for (const { name, token } of grants) {
      const key = `${name}#${token}`;
      if (this.grants.has(key)) continue; // a re-acquire or a replayed answer, not a new grant
      const last = this.lastToken.get(name) ?? 0;
      if (token <= last) throw new Error(`token ${token} for ${name} does not exceed ${last}`);
      this.lastToken.set(name, token);
      this.grants.add(key);
    }
  }
}

function isGrantedEvent(e: LockEvent): e is Extract<LockEvent, { type: "granted" }> {
  return e.type === "granted";
}

export function eventsOf<T extends LockEvent["type"]>(result: ApplyResult, type: T): Extract<LockEvent, { type: T }>[] {
  return result.events.filter((e): e is Extract<LockEvent, { type: T }> => e.type === type);
}

export function expectAnswer<T extends LockAnswer["type"]>(result: ApplyResult, type: T): Extract<LockAnswer, { type: T }> {
  expect(result.answer.type, JSON.stringify(result.answer)).toBe(type);
  return result.answer as Extract<LockAnswer, { type: T }>;
}

export function expectError(result: ApplyResult, code: string): void {
  expect(result.answer).toMatchObject({ type: "error", code });
  expect(result.events).toEqual([]);
}
