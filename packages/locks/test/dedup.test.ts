// Exactly-once application: a retried (clientId, seq) gets its first answer back and
// changes nothing; the per-client window and the client table are bounded; records are
// kept for dedupRetainMs after a client's last session ends, then forgotten.

import { describe, expect, it } from "vitest";
import { Driver, eventsOf, expectAnswer, expectError, TEST_CONFIG } from "./harness.js";

describe("exactly-once application", () => {
  it("answers a retried acquire with its first answer and changes nothing, even after the lock was released", () => {
    const d = new Driver();
    const s = d.open("c1");
    const seq = d.nextSeq("c1");
    const command = { type: "acquire", sessionId: s, name: "x", mode: "exclusive", waitMs: 0, owner: "o" };
    const first = d.client("c1", command, seq);
    d.release("c1", s, "x");
    const before = d.machine.snapshot();
    d.nowMs += 5_000;
    const retry = d.client("c1", command, seq);
    expect(retry).toEqual({ answer: first.answer, events: [] });
    expect({ ...d.machine.snapshot(), appliedIndex: before.appliedIndex }).toEqual(before);
    expect(d.machine.status("x").holders).toEqual([]);
  });

  it("does not open a second session for a retried openSession", () => {
    const d = new Driver();
    const first = d.client("c1", { type: "openSession", ttlMs: 1_000 }, 7);
    const retry = d.client("c1", { type: "openSession", ttlMs: 1_000 }, 7);
    expect(retry.answer).toEqual(first.answer);
    expect(d.machine.stats().sessions).toBe(1);
  });

  it("remembers error answers too: a retry of a refused command stays refused", () => {
    const d = new Driver();
    const [a, b] = [d.open("a"), d.open("b")];
    d.acquire("a", a, "x");
    const seq = d.nextSeq("b");
    const command = { type: "acquire", sessionId: b, name: "x", mode: "exclusive", waitMs: 0, owner: "" };
    expectAnswer(d.client("b", command, seq), "held");
    d.release("a", a, "x");
    expectAnswer(d.client("b", command, seq), "held");
    expectAnswer(d.client("b", command), "granted");
  });

  it("answers STALE_SEQUENCE to a seq that fell below the client's window, never re-applying it", () => {
    const d = new Driver(); // dedupSeqsPerClientMax: 4
    const s = d.open("c1"); // seq 1
    const release = { type: "release", sessionId: s, name: "x" };
    d.acquire("c1", s, "x"); // seq 2
    for (let i = 0; i < 4; i++) d.keepAlive("c1", s); // seqs 3..6 push seqs 1 and 2 out
    expect(d.client("c1", { type: "acquire", sessionId: s, name: "x", mode: "exclusive", waitMs: 0, owner: "" }, 2).answer).toMatchObject({ type: "error", code: "STALE_SEQUENCE" });
    expectError(d.client("c1", release, 1), "STALE_SEQUENCE");
    expect(d.machine.status("x").holders).toHaveLength(1);
    expectAnswer(d.client("c1", release, 3), "keptAlive");
    expectAnswer(d.client("c1", release), "released");
  });

  it("keeps an idle client's record for dedupRetainMs so a late retried close still gets its answer, then forgets it", () => {
    const d = new Driver(); // dedupRetainMs: 10_000
    const s = d.open("c1");
    const seq = d.nextSeq("c1");
    const first = d.client("c1", { type: "closeSession", sessionId: s }, seq);
    d.tick(9_999);
    expect(d.client("c1", { type: "closeSession", sessionId: s }, seq).answer).toEqual(first.answer);
    d.tick(1);
    expect(d.machine.stats().dedupClients).toBe(0);
    expectError(d.client("c1", { type: "closeSession", sessionId: s }, seq), "SESSION_EXPIRED");
  });

  it("keeps a client's record while any of its sessions is open", () => {
    const d = new Driver();
    const [s1, s2] = [d.open("c1", 60_000), d.open("c1", 60_000)];
    d.close("c1", s1);
    d.tick(59_999); // far beyond dedupRetainMs after the first close
    d.keepAlive("c1", s2);
    expect(d.machine.stats().dedupClients).toBe(1);
    expect(eventsOf(d.tick(60_000), "sessionExpired")).toHaveLength(1);
    expect(d.machine.stats().dedupClients).toBe(1);
  });

  it("evicts the idle record due to be forgotten first when the client table is full", () => {
    const d = new Driver({ ...TEST_CONFIG, sessionsMax: 2, dedupClientsMax: 3 });
    const a = d.open("a");
    const b = d.open("b");
    d.close("a", a);
    d.tick(100);
    d.close("b", b);
    d.open("c");
    d.open("e"); // the table holds a and b (idle) and c: a is due to be forgotten first
    // a's retry is applied afresh (its record is gone), b's still gets its first answer.
    expect(d.machine.stats().dedupClients).toBe(3);
    expectError(d.client("a", { type: "closeSession", sessionId: a }, 2), "SESSION_EXPIRED");
    expect(d.client("b", { type: "closeSession", sessionId: b }, 2).answer.type).toBe("sessionClosed");
  });
});
