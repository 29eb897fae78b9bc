// The leader puts the lock commands of one turn into one log entry. Applying such a batch
// must answer every command exactly as applying each in an entry of its own would, with the
// same events, tokens and state; openSession (whose session id is its entry's index) is
// refused inside a batch.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LockStateMachine, type ApplyResult, type SessionId } from "../src/index.js";
import { TEST_CONFIG } from "./harness.js";

const CLIENTS = ["a", "b", "c"] as const;
const NAMES = ["x", "y"] as const;

/** Two replicas with the same sessions open: one applies commands singly, one in batches. */
function twoReplicas(): { single: LockStateMachine; batched: LockStateMachine; sessions: SessionId[]; nextIndex: number } {
  const single = new LockStateMachine(TEST_CONFIG);
  const batched = new LockStateMachine(TEST_CONFIG);
  const sessions: SessionId[] = [];
  CLIENTS.forEach((clientId, i) => {
    const open = { type: "openSession", clientId, seq: 1, ttlMs: 60_000, nowMs: 1_000 };
    const answer = single.apply({ index: i + 1, term: 1 }, open).answer;
    batched.apply({ index: i + 1, term: 1 }, open);
    if (answer.type !== "sessionOpened") throw new Error(JSON.stringify(answer));
    sessions.push(answer.sessionId);
  });
  return { single, batched, sessions, nextIndex: CLIENTS.length + 1 };
}

const commandArb = fc.record({
  client: fc.integer({ min: 0, max: CLIENTS.length - 1 }),
  op: fc.constantFrom("acquire", "acquireShared", "wait", "release", "keepAlive", "retry"),
  name: fc.constantFrom(...NAMES),
  advanceMs: fc.integer({ min: 0, max: 3 }),
});

describe("a batch of lock commands in one entry", () => {
  it("answers each command as entries of their own would, with the same events and state", () => {
    fc.assert(
      fc.property(fc.array(commandArb, { minLength: 1, maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 40 }), (ops, cuts) => {
        const { single, batched, sessions, nextIndex } = twoReplicas();
        const seqs = CLIENTS.map(() => 1);
        let nowMs = 1_000;
        const commands = ops.map((op) => {
          const clientId = CLIENTS[op.client] as string;
          nowMs += op.advanceMs;
          // "retry" re-sends the client's last seq: dedup must answer it inside a batch too.
          const seq = op.op === "retry" ? (seqs[op.client] as number) : (seqs[op.client] = (seqs[op.client] as number) + 1);
          const base = { clientId, seq, nowMs, sessionId: sessions[op.client] };
          switch (op.op) {
            case "acquire":
            case "retry":
              return { ...base, type: "acquire", name: op.name, mode: "exclusive", waitMs: 0, owner: clientId };
            case "acquireShared":
              return { ...base, type: "acquire", name: op.name, mode: "shared", waitMs: 0, owner: clientId };
            case "wait":
              return { ...base, type: "acquire", name: op.name, mode: "exclusive", waitMs: 50, owner: clientId };
            case "release":
              return { ...base, type: "release", name: op.name };
            default:
              return { ...base, type: "keepAlive" };
          }
        });
        const singleResults: ApplyResult[] = [];
        commands.forEach((command, i) => singleResults.push(single.apply({ index: nextIndex + i, term: 1 }, command)));
        const batchedResults: ApplyResult[] = [];
        let index = nextIndex;
        for (let from = 0, cut = 0; from < commands.length; cut++) {
          const size = cuts[cut % cuts.length] as number;
          batchedResults.push(...batched.applyBatch({ index, term: 1 }, commands.slice(from, from + size)));
          from += size;
          index += 1;
        }
        expect(batchedResults).toEqual(singleResults);
        for (const name of NAMES) expect(batched.status(name)).toEqual(single.status(name));
        sessions.forEach((id) => expect(batched.sessionInfo(id)).toEqual(single.sessionInfo(id)));
        batched.assertInvariants();
      }),
      { numRuns: 200 },
    );
  });

  it("refuses an openSession inside a batch and applies the rest", () => {
    const { batched, sessions, nextIndex } = twoReplicas();
    const results = batched.applyBatch({ index: nextIndex, term: 1 }, [
      { type: "openSession", clientId: "d", seq: 1, ttlMs: 10_000, nowMs: 1_000 },
      { type: "acquire", clientId: "a", seq: 2, sessionId: sessions[0], name: "x", mode: "exclusive", waitMs: 0, owner: "a", nowMs: 1_000 },
    ]);
    expect(results[0]?.answer).toMatchObject({ type: "error", code: "INVALID_ARGUMENT" });
    expect(results[1]?.answer).toMatchObject({ type: "granted", name: "x" });
    expect(batched.stats().sessions).toBe(CLIENTS.length);
  });

  it("takes the next entry only at a higher index, like a single command", () => {
    const { batched, nextIndex } = twoReplicas();
    batched.applyBatch({ index: nextIndex, term: 1 }, []);
    expect(() => batched.applyBatch({ index: nextIndex, term: 1 }, [])).toThrow(/after applied index/);
  });
});
