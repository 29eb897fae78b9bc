// The lock history model checked directly: a history computed by the real lock machine
// passes, and the same history with one answer or event corrupted (a second exclusive
// grant, a token that does not advance, a grant to a session whose deadline passed, an
// early or a missing expiry) is caught as the invariant it breaks. This is the second
// proof, besides the broken applications run in whole simulations, that the checks can fail.

import { LockStateMachine, asFencingToken, asSessionId } from "@geolock/locks";
import type { ApplyResult, LockCommand } from "@geolock/locks";
import { describe, expect, it } from "vitest";
import { InvariantViolation, LockHistoryModel } from "../src/index.js";
import type { Invariant } from "../src/index.js";

type Corrupt = (index: number, result: ApplyResult) => ApplyResult;

const s = asSessionId;
const c1 = { clientId: "c1" } as const;
const c2 = { clientId: "c2" } as const;

/** [term, command]: two sessions contend for "a"; session 1 stops keeping alive and expires. */
const HISTORY: readonly (readonly [number, LockCommand])[] = [
  [1, { type: "openSession", ...c1, seq: 1, nowMs: 1000, ttlMs: 1000 }],
  [1, { type: "openSession", ...c2, seq: 1, nowMs: 1010, ttlMs: 5000 }],
  [1, { type: "acquire", ...c1, seq: 2, nowMs: 1020, sessionId: s(1), name: "a", mode: "exclusive", waitMs: 0, owner: "" }],
  [1, { type: "acquire", ...c2, seq: 2, nowMs: 1030, sessionId: s(2), name: "a", mode: "exclusive", waitMs: 0, owner: "" }],
  [1, { type: "acquire", ...c2, seq: 3, nowMs: 1040, sessionId: s(2), name: "a", mode: "exclusive", waitMs: 4000, owner: "" }],
  [1, { type: "tick", nowMs: 1500 }],
  // Session 1's deadline is 2000: this tick expires it, and session 2's wait is granted.
  [1, { type: "tick", nowMs: 2000 }],
  [1, { type: "release", ...c2, seq: 4, nowMs: 2100, sessionId: s(2), name: "a" }],
  // A new leader: its clock is unrelated (lower), session 2 gets its full TTL from 40.
  [2, { type: "acquire", ...c2, seq: 5, nowMs: 40, sessionId: s(2), name: "a", mode: "shared", waitMs: 0, owner: "" }],
  [2, { type: "tick", nowMs: 5039 }],
  [2, { type: "tick", nowMs: 5040 }],
];

const c3 = { clientId: "c3" } as const;

/** [term, command]: sessions 2 and 3 queue for "a" behind session 1, which then releases it. */
const TWO_WAITERS: readonly (readonly [number, LockCommand])[] = [
  [1, { type: "openSession", ...c1, seq: 1, nowMs: 1000, ttlMs: 5000 }],
  [1, { type: "openSession", ...c2, seq: 1, nowMs: 1000, ttlMs: 5000 }],
  [1, { type: "openSession", ...c3, seq: 1, nowMs: 1000, ttlMs: 5000 }],
  [1, { type: "acquire", ...c1, seq: 2, nowMs: 1010, sessionId: s(1), name: "a", mode: "exclusive", waitMs: 0, owner: "" }],
  [1, { type: "acquire", ...c2, seq: 2, nowMs: 1020, sessionId: s(2), name: "a", mode: "exclusive", waitMs: 3000, owner: "" }],
  [1, { type: "acquire", ...c3, seq: 2, nowMs: 1030, sessionId: s(3), name: "a", mode: "exclusive", waitMs: 3000, owner: "" }],
  // Session 2 waited first, so the release grants it.
  [1, { type: "release", ...c1, seq: 3, nowMs: 1040, sessionId: s(1), name: "a" }],
];

/** Runs a history (HISTORY by default) through the real machine and the model; returns the violation, if any. */
function check(corrupt: Corrupt = (_i, r) => r, history = HISTORY): InvariantViolation | undefined {
  const machine = new LockStateMachine();
  const model = new LockHistoryModel();
  try {
    history.forEach(([term, command], i) => {
      const index = i + 1;
      model.apply(index, term, command, corrupt(index, machine.apply({ index, term }, command)));
    });
  } catch (error) {
    if (error instanceof InvariantViolation) return error;
    throw error;
  }
  return undefined;
}

function expectCaught(corrupt: Corrupt, invariant: Invariant, detail: RegExp): void {
  const violation = check(corrupt);
  expect(violation?.invariant).toBe(invariant);
  expect(violation?.detail).toMatch(detail);
}

describe("LockHistoryModel", () => {
  it("accepts the history the lock machine computes, and counts what happened in it", () => {
    const model = new LockHistoryModel();
    const machine = new LockStateMachine();
    HISTORY.forEach(([term, command], i) => model.apply(i + 1, term, command, machine.apply({ index: i + 1, term }, command)));
    expect(model.counters).toMatchObject({ grantedAtOnce: 2, grantedAfterWait: 1, refusedHeld: 1, sessionsExpired: 2, rebases: 2 });
    expect(check()).toBeUndefined();
  });

  it("catches a second exclusive grant while the first holder holds", () => {
    expectCaught(
      (index, r) => (index === 4 ? { answer: { type: "granted", name: "a", mode: "exclusive", token: asFencingToken(2) }, events: r.events } : r),
      "lockMutualExclusion",
      /grants a exclusive to session 2 while held by exclusive@1#1/,
    );
  });

  it("catches a grant whose fencing token does not advance", () => {
    expectCaught(
      (index, r) => (index === 7 ? { ...r, events: r.events.map((e) => (e.type === "granted" ? { ...e, token: asFencingToken(1) } : e)) } : r),
      "lockFencing",
      /token 1, not above earlier token 1/,
    );
  });

  it("catches a session that outlives its deadline (the expiry is missing)", () => {
    expectCaught((index, r) => (index === 7 ? { answer: r.answer, events: [] } : r), "lockSessionLiveness", /session 1 outlives its deadline 2000/);
  });

  it("catches a grant to a session whose deadline passed", () => {
    // The expiry is reported after the grant it should have preceded.
    const reorder: Corrupt = (index, r) => (index === 7 ? { ...r, events: [...r.events].reverse() } : r);
    // Reported before the expiry that frees "a", the grant overlaps session 1's hold.
    expectCaught(reorder, "lockMutualExclusion", /grants a exclusive to session 2 while held by exclusive@1#1/);
    const grantToDead: Corrupt = (index, r) =>
      index === 7 ? { ...r, events: [...r.events, { type: "granted", sessionId: s(1), clientId: "c1", name: "b", owner: "", mode: "exclusive", token: asFencingToken(9) }] } : r;
    expectCaught(grantToDead, "lockSessionLiveness", /grants b to session 1, which is not open/);
  });

  it("catches a session that expires before its deadline", () => {
    const early: Corrupt = (index, r) =>
      index === 6 ? { ...r, events: [{ type: "sessionExpired", sessionId: s(1), clientId: "c1", lost: [], cancelledWaits: [] }] } : r;
    expectCaught(early, "lockSessionLiveness", /session 1 expires early: deadline 2000/);
  });

  it("catches an expiry that ignores the re-based clock of a new leader", () => {
    // Under term 2 session 2's deadline is 40 + 5000: expiring it at 5039 is early.
    const early: Corrupt = (index, r) =>
      index === 10 ? { ...r, events: [{ type: "released", sessionId: s(2), clientId: "c2", name: "a", owner: "", mode: "shared", token: asFencingToken(3), reason: "expired" }, { type: "sessionExpired", sessionId: s(2), clientId: "c2", lost: [], cancelledWaits: [] }] } : r;
    expectCaught(early, "lockSessionLiveness", /session 2 expires early: deadline 5040/);
  });

  it("catches a waiter granted out of FIFO order and a release of a lock nobody holds", () => {
    expect(check(undefined, TWO_WAITERS)).toBeUndefined();
    const overtake: Corrupt = (index, r) =>
      index === 7 ? { ...r, events: r.events.map((e) => (e.type === "granted" ? { ...e, sessionId: s(3), clientId: "c3" } : e)) } : r;
    const violation = check(overtake, TWO_WAITERS);
    expect(violation?.invariant).toBe("lockHistory");
    expect(violation?.detail).toMatch(/grants a to session 3 ahead of session 2 \(not FIFO\)/);
    const phantom: Corrupt = (index, r) =>
      index === 6 ? { ...r, events: [{ type: "released", sessionId: s(2), clientId: "c2", name: "a", owner: "", mode: "exclusive", token: asFencingToken(1), reason: "released" }] } : r;
    expectCaught(phantom, "lockHistory", /session 2 releases a #1, which it does not hold/);
  });
});
