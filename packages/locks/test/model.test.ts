// Model-based property tests. fast-check generates random histories (several clients and
// sessions, a few names, clock steps, ticks, leader changes with unrelated clock readings,
// stale stamps, retries of earlier (clientId, seq), malformed commands) and applies each to
// LockStateMachine and to the naive ReferenceModel; every answer, every event and every
// read must agree, and the machine's invariants must hold after every step. A second
// property restores a snapshot at a random point and checks that nothing later changes.

import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LockStateMachine, type ApplyResult, type LockConfig, type LockMode } from "../src/index.js";
import { ReferenceModel, type ModelCommand } from "./reference-model.js";

const CONFIG: LockConfig = {
  sessionTtlMsMin: 500,
  sessionTtlMsMax: 60_000,
  waitMsMax: 60_000,
  sessionsMax: 5,
  locksMax: 2,
  waitersPerLockMax: 2,
  dedupClientsMax: 5,
  dedupSeqsPerClientMax: 3,
  dedupRetainMs: 2_000,
};
const CLIENTS = ["a", "b", "c", "d", "e", "f"];
const NAMES = ["x", "y", "é"];
const MODES: LockMode[] = ["exclusive", "shared"];

/** An abstract step; session ids are picked at run time among the ids opened so far. */
type Step =
  | { kind: "open"; client: number; ttlMs: number }
  | { kind: "keepAlive" | "close"; client: number; pick: number }
  | { kind: "acquire"; client: number; pick: number; name: number; mode: number; waitMs: number }
  /** With `held`, releases one of the locks the session holds, if any (most releases do). */
  | { kind: "release"; client: number; pick: number; name: number; held: boolean }
  | { kind: "tick" }
  | { kind: "leaderChange"; nowMs: number }
  | { kind: "retry"; pick: number }
  | { kind: "garbage"; which: number };

interface Timed {
  readonly step: Step;
  readonly advanceMs: number;
  /** Stamp this command this far in the past (a command stamped before one appended earlier). */
  readonly staleMs: number;
}

const client = fc.nat(CLIENTS.length - 1);
/** Contention needs several sessions on one name: "x" is the busiest. */
const name = fc.constantFrom(0, 0, 0, 1, 1, 2);
/** 0..17: one of the four most recent sessions, as its owner (0..15) or as another client; 18, 19: an id never opened. */
const pick = fc.nat(19);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("open" as const), client, ttlMs: fc.constantFrom(500, 2_000, 10_000, 60_000) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom("keepAlive" as const, "close" as const), client, pick }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant("acquire" as const), client, pick, name, mode: fc.nat(1), waitMs: fc.constantFrom(0, 300, 1_000, 4_000) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("release" as const), client, pick, name, held: fc.constantFrom(true, true, true, false) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("tick" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("leaderChange" as const), nowMs: fc.nat(10_000_000) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("retry" as const), pick: fc.nat(1_000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("garbage" as const), which: fc.nat(3) }) },
);
const timedArb: fc.Arbitrary<Timed> = fc.record({
  step: stepArb,
  advanceMs: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 8, arbitrary: fc.nat(200) }, { weight: 1, arbitrary: fc.nat(5_000) }),
  staleMs: fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(300) }),
});
const openArb: fc.Arbitrary<Timed> = fc.record({
  step: fc.record({ kind: fc.constant("open" as const), client, ttlMs: fc.constantFrom(2_000, 10_000, 60_000) }),
  advanceMs: fc.constant(0),
  staleMs: fc.constant(0),
});
/** A few sessions first, so that most histories are about locks rather than about nothing. */
const historyArb = fc.tuple(fc.array(openArb, { minLength: 2, maxLength: 5 }), fc.array(timedArb, { minLength: 10, maxLength: 60, size: "max" })).map(([opens, rest]) => [...opens, ...rest]);

/** Turns abstract steps into concrete commands the way a server would: indexes, terms, stamps, seqs. */
class Scenario {
  /** `heldBy` tells which names a session holds, so that releases can aim at them. */
  constructor(private readonly heldBy: (sessionId: number) => readonly string[]) {}

  index = 0;
  term = 1;
  nowMs = 1_000;
  private readonly seqs = new Map<string, number>();
  private readonly sent: ModelCommand[] = [];
  readonly sessionIds: number[] = [];
  private readonly owners = new Map<number, string>();

  next(t: Timed): { index: number; term: number; command: unknown; valid: boolean } {
    this.index += 1;
    if (t.step.kind === "leaderChange") {
      this.term += 1;
      this.nowMs = t.step.nowMs;
    }
    this.nowMs += t.advanceMs;
    const nowMs = Math.max(0, this.nowMs - t.staleMs);
    const { command, valid } = this.build(t.step, nowMs);
    return { index: this.index, term: this.term, command, valid };
  }

  /** Records the session id if the answer opened one (the machine and the model agree on it). */
  observe(result: ApplyResult, command: unknown): void {
    if (result.answer.type !== "sessionOpened" || this.sessionIds.includes(result.answer.sessionId)) return;
    this.sessionIds.push(result.answer.sessionId);
    this.owners.set(result.answer.sessionId, (command as { clientId: string }).clientId);
  }

  private build(step: Step, nowMs: number): { command: unknown; valid: boolean } {
    switch (step.kind) {
      case "tick":
      case "leaderChange":
        return { command: { type: "tick", nowMs }, valid: true };
      case "retry": {
        const earlier = this.sent[step.pick % Math.max(1, this.sent.length)];
        return earlier === undefined ? { command: { type: "tick", nowMs }, valid: true } : { command: { ...earlier, nowMs }, valid: true };
      }
      case "garbage":
        return { command: [{ type: "tick" }, { type: "openSession", nowMs, clientId: "a", seq: 1, ttlMs: 1 }, { type: "acquire", nowMs }, { type: "release", nowMs, clientId: "a", seq: 1, sessionId: 1, name: "" }][step.which], valid: false };
      default:
        return { command: this.clientCommand(step, nowMs), valid: true };
    }
  }

  private clientCommand(step: Exclude<Step, { kind: "tick" | "leaderChange" | "retry" | "garbage" }>, nowMs: number): ModelCommand {
    const command = step.kind === "open" ? this.open(step, nowMs) : this.onSession(step, nowMs);
    this.sent.push(command);
    return command;
  }

  private stamp(clientId: string, nowMs: number): { nowMs: number; clientId: string; seq: number } {
    const seq = (this.seqs.get(clientId) ?? 0) + 1;
    this.seqs.set(clientId, seq);
    return { nowMs, clientId, seq };
  }

  private open(step: Extract<Step, { kind: "open" }>, nowMs: number): ModelCommand {
    return { type: "openSession", ...this.stamp(CLIENTS[step.client] ?? "a", nowMs), ttlMs: step.ttlMs };
  }

  private onSession(step: Extract<Step, { kind: "keepAlive" | "close" | "acquire" | "release" }>, nowMs: number): ModelCommand {
    const recent = this.sessionIds.slice(-4);
    const sessionId = step.pick >= 18 || recent.length === 0 ? 1_000_000 + step.pick : (recent[step.pick % recent.length] ?? 1);
    const owner = this.owners.get(sessionId);
    const base = { ...this.stamp(owner !== undefined && step.pick < 16 ? owner : (CLIENTS[step.client] ?? "a"), nowMs), sessionId };
    switch (step.kind) {
      case "keepAlive":
        return { type: "keepAlive", ...base };
      case "close":
        return { type: "closeSession", ...base };
      case "release": {
        const held = step.held ? this.heldBy(sessionId) : [];
        return { type: "release", ...base, name: held[step.name % Math.max(1, held.length)] ?? NAMES[step.name] ?? "x" };
      }
      case "acquire":
        return { type: "acquire", ...base, name: NAMES[step.name] ?? "x", mode: MODES[step.mode] ?? "shared", waitMs: step.waitMs, owner: `${base.clientId}-${base.seq}` };
    }
  }
}

function heldBy(machine: LockStateMachine): (sessionId: number) => readonly string[] {
  return (sessionId) => machine.sessionInfo(sessionId)?.held.map((h) => h.name) ?? [];
}

/** toEqual's diff on a mismatch, without paying for it on the thousands of matches. */
function expectSame(actual: unknown, expected: unknown): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual).toEqual(expected);
}

/** Error messages are the machine's prose; the model only knows codes. */
function withoutMessages(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (key, v: unknown) => (key === "message" ? undefined : v)));
}

/** Checks that every new grant's token is above every earlier grant's token for that name. */
function tokenChecker(): (result: ApplyResult) => void {
  const last = new Map<string, number>();
  const seen = new Set<string>();
  return (result) => {
    const grants: { name: string; token: number }[] = result.events.flatMap((e) => (e.type === "granted" ? [e] : []));
    if (result.answer.type === "granted") grants.push(result.answer);
    for (const g of grants) {
      if (seen.has(`${g.name}#${g.token}`)) continue;
      expect(g.token, `token for ${g.name}`).toBeGreaterThan(last.get(g.name) ?? 0);
      last.set(g.name, g.token);
      seen.add(`${g.name}#${g.token}`);
    }
  };
}

describe("LockStateMachine against the reference model", () => {
  it("gives the same answers, events and reads as the model on every random history", () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const machine = new LockStateMachine(CONFIG);
        const model = new ReferenceModel(CONFIG);
        const scenario = new Scenario(heldBy(machine));
        const checkTokens = tokenChecker();
        for (const t of history) {
          const { index, term, command, valid } = scenario.next(t);
          const before = valid ? undefined : JSON.stringify(machine.snapshot().locks);
          const result = machine.apply({ index, term }, command);
          machine.assertInvariants();
          checkTokens(result);
          if (!valid) {
            expect(result.answer.type).toBe("error");
            expect(result.events).toEqual([]);
            expect(JSON.stringify(machine.snapshot().locks)).toBe(before);
            continue;
          }
          const expected = model.apply(index, term, command as ModelCommand);
          expectSame(withoutMessages(result), expected);
          scenario.observe(result, command);
          for (const name of NAMES) expectSame(machine.status(name), model.status(name));
          for (const id of scenario.sessionIds) expectSame(machine.sessionInfo(id), model.sessionInfo(id));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("never lets a waiter's deadline or a session's deadline pass without expiring it", () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const machine = new LockStateMachine(CONFIG);
        const scenario = new Scenario(heldBy(machine));
        for (const t of history) {
          const { index, term, command } = scenario.next(t);
          scenario.observe(machine.apply({ index, term }, command), command);
          const clockMs = machine.stats().clockMs;
          for (const id of scenario.sessionIds) {
            const info = machine.sessionInfo(id);
            if (info !== undefined) expect(info.remainingMs).toBeGreaterThan(0);
          }
          for (const name of NAMES) for (const w of machine.status(name).waiters) expect(w.remainingMs, `clock ${clockMs}`).toBeGreaterThan(0);
        }
      }),
      { numRuns: 100 },
    );
  });

  it("answers every later command the same after a snapshot and restore at a random point", () => {
    fc.assert(
      fc.property(historyArb, fc.nat(80), (history, cut) => {
        const original = new LockStateMachine(CONFIG);
        const scenario = new Scenario(heldBy(original));
        const at = cut % history.length;
        let restored: LockStateMachine | undefined;
        history.forEach((t, i) => {
          if (i === at) {
            const bytesLike: unknown = JSON.parse(JSON.stringify(original.snapshot()));
            const result = LockStateMachine.restore(bytesLike, CONFIG);
            if (!result.ok) throw new Error(result.error);
            restored = result.machine;
          }
          const { index, term, command } = scenario.next(t);
          const a = original.apply({ index, term }, command);
          scenario.observe(a, command);
          if (restored !== undefined) {
            expectSame(restored.apply({ index, term }, command), a);
            restored.assertInvariants();
          }
        });
        expect(restored?.snapshot()).toEqual(original.snapshot());
      }),
      { numRuns: 200 },
    );
  });
});
