// Behaviour of LockStateMachine, rule by rule: sessions and their leases, time and leader
// changes, exclusive/shared locks with FIFO waits, fencing tokens, exactly-once retries,
// bounds, and the reads. Each test drives the machine through the Driver (harness.ts),
// which checks every invariant and token monotonicity after every command.

import { describe, expect, it } from "vitest";
import { LockStateMachine } from "../src/index.js";
import { Driver, eventsOf, expectAnswer, expectError, TEST_CONFIG } from "./harness.js";

describe("sessions", () => {
  it("uses the log index of the openSession command as the session id", () => {
    const d = new Driver();
    d.tick();
    const id = d.open("c1");
    expect(id).toBe(2);
    expect(d.machine.sessionInfo(id)).toMatchObject({ sessionId: 2, clientId: "c1", ttlMs: 10_000, remainingMs: 10_000 });
  });

  it("counts open sessions as they open, close and expire", () => {
    const d = new Driver();
    expect(d.machine.sessionCount()).toBe(0);
    const a = d.open("c1", 1_000);
    d.open("c2", 10_000);
    expect(d.machine.sessionCount()).toBe(2);
    d.client("c1", { type: "closeSession", sessionId: a });
    expect(d.machine.sessionCount()).toBe(1);
    d.tick(20_000);
    expect(d.machine.sessionCount()).toBe(0);
    expect(d.machine.stats().sessions).toBe(0);
  });

  it("refuses a TTL outside the configured bounds and changes nothing", () => {
    const d = new Driver();
    const before = d.machine.snapshot();
    expectError(d.client("c1", { type: "openSession", ttlMs: 499 }), "INVALID_ARGUMENT");
    expectError(d.client("c1", { type: "openSession", ttlMs: 3_600_001 }), "INVALID_ARGUMENT");
    expect({ ...d.machine.snapshot(), appliedIndex: 0 }).toEqual(before);
  });

  it("pushes the deadline to now + ttl on keepAlive", () => {
    const d = new Driver();
    const s = d.open("c1", 1_000);
    d.tick(900);
    expectAnswer(d.keepAlive("c1", s), "keptAlive");
    d.tick(900);
    expect(d.machine.sessionInfo(s)?.remainingMs).toBe(100);
  });

  it("expires a session on the first command at or past its deadline, releasing its locks and cancelling its waits", () => {
    const d = new Driver();
    const a = d.open("a", 1_000);
    const b = d.open("b", 5_000);
    d.acquire("b", b, "y");
    d.acquire("a", a, "x");
    d.acquire("a", a, "y", "exclusive", 10_000);
    const expired = d.tick(1_000);
    expect(eventsOf(expired, "sessionExpired")).toEqual([{ type: "sessionExpired", sessionId: a, clientId: "a", lost: [{ name: "x", mode: "exclusive", token: 2 }], cancelledWaits: ["y"] }]);
    expect(eventsOf(expired, "released")).toMatchObject([{ name: "x", sessionId: a, reason: "expired" }]);
    expect(d.machine.sessionInfo(a)).toBeUndefined();
    expect(d.machine.status("x").holders).toEqual([]);
    expect(d.machine.status("y").waiters).toEqual([]);
  });

  it("answers SESSION_EXPIRED to a keepAlive that arrives after the deadline, even before any tick", () => {
    const d = new Driver();
    const s = d.open("c1", 1_000);
    d.nowMs += 1_000;
    const late = d.keepAlive("c1", s);
    expect(late.answer).toMatchObject({ type: "error", code: "SESSION_EXPIRED" });
    expect(eventsOf(late, "sessionExpired")).toHaveLength(1);
  });

  it("answers SESSION_EXPIRED for a session never opened and UNAUTHORIZED for another client's session", () => {
    const d = new Driver();
    const s = d.open("owner");
    expectError(d.acquire("c1", 99 as typeof s, "x"), "SESSION_EXPIRED");
    expectError(d.acquire("intruder", s, "x"), "UNAUTHORIZED");
  });

  it("releases every lock and grants the next waiter when a session closes", () => {
    const d = new Driver();
    const a = d.open("a");
    const b = d.open("b");
    d.acquire("a", a, "x");
    d.acquire("a", a, "w");
    d.acquire("b", b, "x", "exclusive", 5_000);
    const closed = d.close("a", a);
    expect(expectAnswer(closed, "sessionClosed").released.map((r) => r.name)).toEqual(["w", "x"]);
    expect(eventsOf(closed, "granted")).toMatchObject([{ sessionId: b, name: "x" }]);
    expectError(d.keepAlive("a", a), "SESSION_EXPIRED");
  });
});

describe("time and leader changes", () => {
  it("never expires a session early when the new leader's clock reads far ahead", () => {
    const d = new Driver();
    const s = d.open("c1", 1_000);
    d.acquire("c1", s, "x");
    d.tick(900); // 100 ms left on the old leader's clock
    d.newLeader(50_000_000);
    const first = d.tick();
    expect(first.events).toEqual([]);
    expect(d.machine.sessionInfo(s)?.remainingMs).toBe(1_000);
    d.tick(999);
    expect(d.machine.status("x").holders).toHaveLength(1);
    expect(eventsOf(d.tick(1), "sessionExpired")).toHaveLength(1);
  });

  it("re-bases onto a new leader whose clock reads lower than the old one", () => {
    const d = new Driver();
    d.nowMs = 9_000_000;
    const s = d.open("c1", 2_000);
    d.newLeader(5);
    d.tick();
    d.tick(1_999);
    expect(d.machine.sessionInfo(s)?.remainingMs).toBe(1);
    expect(eventsOf(d.tick(1), "sessionExpired")).toHaveLength(1);
  });

  it("re-bases on the new leader's first command whatever it is, not only on a tick", () => {
    const d = new Driver();
    const s = d.open("c1", 1_000);
    d.tick(999);
    d.newLeader(7_000_000);
    expectAnswer(d.acquire("c1", s, "x"), "granted");
    expect(d.machine.sessionInfo(s)?.remainingMs).toBe(1_000);
  });

  it("keeps a wait's remaining time across a leader change", () => {
    const d = new Driver();
    const a = d.open("a", 60_000);
    const b = d.open("b", 60_000);
    d.acquire("a", a, "x");
    d.acquire("b", b, "x", "exclusive", 5_000);
    d.tick(2_000);
    d.newLeader(123);
    d.tick();
    expect(d.machine.status("x").waiters).toMatchObject([{ sessionId: b, remainingMs: 3_000, waitedForMs: 2_000 }]);
    d.tick(2_999);
    expect(d.machine.status("x").waiters).toHaveLength(1);
    expect(eventsOf(d.tick(1), "waitTimedOut")).toEqual([{ type: "waitTimedOut", sessionId: b, clientId: "b", name: "x", mode: "exclusive" }]);
  });

  it("gives the full TTL at the first leader change after a keep-alive, and only the time left at later ones", () => {
    const d = new Driver();
    const s = d.open("c1", 1_000);
    d.acquire("c1", s, "x");
    d.tick(400);
    d.newLeader(5_000);
    d.tick();
    expect(d.machine.sessionInfo(s)?.remainingMs).toBe(1_000);
    d.tick(300); // 700 ms left
    d.newLeader(90_000);
    d.tick();
    expect(d.machine.sessionInfo(s)?.remainingMs).toBe(700);
    d.keepAlive("c1", s);
    d.tick(600);
    d.newLeader(200);
    d.tick();
    expect(d.machine.sessionInfo(s)?.remainingMs).toBe(1_000);
  });

  it("lets a dead client's session and locks expire under constant leader churn", () => {
    const d = new Driver();
    const dead = d.open("dead", 1_000);
    const live = d.open("live", 1_000);
    d.acquire("dead", dead, "x");
    const waiter = d.acquire("live", live, "x", "exclusive", 60_000);
    expectAnswer(waiter, "queued");
    let expiredAfterChanges = 0;
    for (let change = 1; change <= 20 && expiredAfterChanges === 0; change++) {
      d.newLeader(change * 1_000_000);
      d.tick();
      d.keepAlive("live", live);
      const later = d.tick(250); // each leader lives 250 ms, then the next one takes over
      if (eventsOf(later, "sessionExpired").length > 0) expiredAfterChanges = change;
    }
    // The first change refreshed it to the full 1 s; the next ones only carry what was left.
    expect(expiredAfterChanges).toBe(4);
    expect(d.machine.sessionInfo(dead)).toBeUndefined();
    expect(d.machine.status("x").holders).toMatchObject([{ sessionId: live }]);
  });

  it("applies a stamp older than the state clock at the state clock, never moving time back", () => {
    const d = new Driver();
    const s = d.open("c1", 1_000);
    d.tick(800);
    d.nowMs -= 500; // a command stamped before the tick that was appended first
    d.keepAlive("c1", s);
    expect(d.machine.stats().clockMs).toBe(1_800);
    expect(d.machine.sessionInfo(s)?.remainingMs).toBe(1_000);
  });

  it("refuses to apply an entry whose index does not advance or whose term goes back", () => {
    const d = new Driver();
    d.tick();
    expect(() => d.machine.apply({ index: 1, term: 1 }, { type: "tick", nowMs: 1 })).toThrow(/index 1 after applied index 1/);
    d.newLeader(5);
    d.tick();
    expect(() => d.machine.apply({ index: 10, term: 1 }, { type: "tick", nowMs: 1 })).toThrow(/term 1 at index 10 below applied term 2/);
  });
});

describe("locks", () => {
  it("grants a free lock at once with a fencing token", () => {
    const d = new Driver();
    const s = d.open("c1");
    expect(d.acquire("c1", s, "us-east:order:1").answer).toEqual({ type: "granted", name: "us-east:order:1", mode: "exclusive", token: 1 });
    expect(d.machine.checkToken("us-east:order:1", 1)).toBe(true);
  });

  it("lets shared holders in together and keeps exclusive out", () => {
    const d = new Driver();
    const [a, b, c] = [d.open("a"), d.open("b"), d.open("c")];
    expectAnswer(d.acquire("a", a, "x", "shared"), "granted");
    expectAnswer(d.acquire("b", b, "x", "shared"), "granted");
    const refused = expectAnswer(d.acquire("c", c, "x", "exclusive"), "held");
    expect(refused).toMatchObject({ mode: "shared", holderCount: 2, waiterCount: 0, holders: [{ sessionId: a, owner: "a" }, { sessionId: b, owner: "b" }] });
  });

  it("refuses a try-lock on a held lock with the holders, and changes nothing", () => {
    const d = new Driver();
    const [a, b] = [d.open("a"), d.open("b")];
    d.acquire("a", a, "x", "exclusive", 0, "worker-7");
    const before = d.machine.snapshot();
    expect(d.acquire("b", b, "x", "shared").answer).toEqual({ type: "held", name: "x", mode: "exclusive", holders: [{ sessionId: a, owner: "worker-7", mode: "exclusive", token: 1 }], holderCount: 1, waiterCount: 0 });
    expect(d.machine.snapshot().locks).toEqual(before.locks);
  });

  it("queues FIFO: a shared request behind a queued exclusive one waits even while the lock is shared", () => {
    const d = new Driver();
    const [a, b, c] = [d.open("a"), d.open("b"), d.open("c")];
    d.acquire("a", a, "x", "shared");
    expect(expectAnswer(d.acquire("b", b, "x", "exclusive", 5_000), "queued").position).toBe(1);
    expect(expectAnswer(d.acquire("c", c, "x", "shared", 5_000), "queued").position).toBe(2);
    expectAnswer(d.acquire("c", c, "y", "shared", 0), "granted");
    const released = d.release("a", a, "x");
    expect(eventsOf(released, "granted")).toMatchObject([{ sessionId: b, mode: "exclusive" }]);
    expect(d.machine.status("x").waiters.map((w) => w.sessionId)).toEqual([c]);
  });

  it("grants every shared waiter at the head together and stops at the next exclusive one", () => {
    const d = new Driver();
    const [a, b, c, e] = [d.open("a"), d.open("b"), d.open("c"), d.open("e")];
    d.acquire("a", a, "x");
    d.acquire("b", b, "x", "shared", 5_000);
    d.acquire("c", c, "x", "shared", 5_000);
    d.acquire("e", e, "x", "exclusive", 5_000);
    const granted = eventsOf(d.release("a", a, "x"), "granted");
    expect(granted.map((g) => [g.sessionId, g.mode, g.token])).toEqual([[b, "shared", 2], [c, "shared", 3]]);
    expect(d.machine.status("x")).toMatchObject({ mode: "shared", token: 3, waiters: [{ sessionId: e }] });
  });

  it("times a wait out at its deadline and lets the waiter behind it through", () => {
    const d = new Driver();
    const [a, b, c] = [d.open("a", 60_000), d.open("b", 60_000), d.open("c", 60_000)];
    d.acquire("a", a, "x", "shared");
    d.acquire("b", b, "x", "exclusive", 1_000);
    d.acquire("c", c, "x", "shared", 5_000);
    const timedOut = d.tick(1_000);
    expect(eventsOf(timedOut, "waitTimedOut")).toMatchObject([{ sessionId: b, name: "x" }]);
    expect(eventsOf(timedOut, "granted")).toMatchObject([{ sessionId: c, name: "x", mode: "shared" }]);
  });

  it("never grants a lock to a waiter whose session died (etcd #11456)", () => {
    const d = new Driver();
    const holder = d.open("holder", 2_000);
    const waiter = d.open("waiter", 1_000);
    const next = d.open("next", 60_000);
    d.acquire("holder", holder, "x");
    d.acquire("waiter", waiter, "x", "exclusive", 60_000);
    d.acquire("next", next, "x", "exclusive", 60_000);
    d.nowMs += 2_000; // both the holder and the waiter are past their deadlines
    const result = d.keepAlive("next", next);
    expect(eventsOf(result, "sessionExpired").map((e) => e.sessionId)).toEqual([holder, waiter]);
    expect(eventsOf(result, "granted")).toMatchObject([{ sessionId: next, name: "x" }]);
    expect(d.machine.status("x").holders.map((h) => h.sessionId)).toEqual([next]);
  });

  it("does not grant a waiter whose session expired before the holder released", () => {
    const d = new Driver();
    const holder = d.open("holder", 60_000);
    const waiter = d.open("waiter", 1_000);
    d.acquire("holder", holder, "x");
    d.acquire("waiter", waiter, "x", "exclusive", 60_000);
    d.nowMs += 1_500; // no tick in between: the release is the first command to see the deadline
    const released = d.release("holder", holder, "x");
    expect(eventsOf(released, "granted")).toEqual([]);
    expect(eventsOf(released, "sessionExpired")).toMatchObject([{ sessionId: waiter, cancelledWaits: ["x"] }]);
    expect(d.machine.status("x").holders).toEqual([]);
  });

  it("returns the existing grant to a session re-acquiring in the same mode and refuses the other mode", () => {
    const d = new Driver();
    const [a, b] = [d.open("a"), d.open("b")];
    d.acquire("a", a, "x", "shared");
    expect(expectAnswer(d.acquire("a", a, "x", "shared"), "granted").token).toBe(1);
    expectError(d.acquire("a", a, "x", "exclusive", 1_000), "INVALID_ARGUMENT");
    d.acquire("b", b, "y", "exclusive");
    d.acquire("a", a, "y", "shared", 1_000);
    expect(expectAnswer(d.acquire("a", a, "y", "shared", 9_000), "queued").position).toBe(1);
    expectError(d.acquire("a", a, "y", "exclusive", 1_000), "INVALID_ARGUMENT");
    expectAnswer(d.release("a", a, "x"), "released");
    expect(d.machine.status("x").holders).toEqual([]);
  });

  it("answers NOT_HOLDER to a release by a session that neither holds nor waits", () => {
    const d = new Driver();
    const [a, b] = [d.open("a"), d.open("b")];
    d.acquire("a", a, "x");
    expectError(d.release("b", b, "x"), "NOT_HOLDER");
    expectError(d.release("b", b, "never-used"), "NOT_HOLDER");
    expect(d.machine.status("x").holders.map((h) => h.sessionId)).toEqual([a]);
  });

  it("withdraws a wait when the waiter releases the name", () => {
    const d = new Driver();
    const [a, b] = [d.open("a"), d.open("b")];
    d.acquire("a", a, "x");
    d.acquire("b", b, "x", "exclusive", 5_000);
    expect(d.release("b", b, "x").answer).toEqual({ type: "waitCancelled", name: "x" });
    expect(eventsOf(d.release("a", a, "x"), "granted")).toEqual([]);
  });

  it("issues strictly larger tokens per name across release, deletion of the entry, and restart from a snapshot", () => {
    const d = new Driver();
    const s = d.open("c1");
    const t1 = expectAnswer(d.acquire("c1", s, "x"), "granted").token;
    d.release("c1", s, "x");
    expect(d.machine.status("x")).toMatchObject({ holders: [], token: null });
    const t2 = expectAnswer(d.acquire("c1", s, "x"), "granted").token;
    d.release("c1", s, "x");
    d.restart();
    const t3 = expectAnswer(d.acquire("c1", s, "x"), "granted").token;
    expect(t1 < t2 && t2 < t3).toBe(true);
    expect(d.machine.checkToken("x", t2)).toBe(false);
    expect(d.machine.checkToken("x", t3)).toBe(true);
  });

  it("reports holders, waiters in queue order and the session's view", () => {
    const d = new Driver();
    const [a, b, c] = [d.open("a"), d.open("b"), d.open("c")];
    d.acquire("a", a, "x", "exclusive", 0, "job-1");
    d.tick(100);
    d.acquire("c", c, "x", "shared", 4_000, "job-3");
    d.acquire("b", b, "x", "exclusive", 2_000, "job-2");
    d.tick(50);
    expect(d.machine.status("x")).toEqual({
      name: "x",
      mode: "exclusive",
      token: 1,
      holders: [{ sessionId: a, clientId: "a", owner: "job-1", mode: "exclusive", token: 1, heldForMs: 150 }],
      waiters: [
        { sessionId: c, clientId: "c", owner: "job-3", mode: "shared", waitedForMs: 50, remainingMs: 3_950 },
        { sessionId: b, clientId: "b", owner: "job-2", mode: "exclusive", waitedForMs: 50, remainingMs: 1_950 },
      ],
    });
    expect(d.machine.sessionInfo(c)).toEqual({ sessionId: c, clientId: "c", ttlMs: 10_000, remainingMs: 9_850, held: [], waiting: [{ name: "x", mode: "shared" }] });
    expect(d.machine.status("free")).toEqual({ name: "free", mode: null, token: null, holders: [], waiters: [] });
  });
});

describe("bounds", () => {
  it("answers OVERLOADED beyond sessionsMax, locksMax and waitersPerLockMax, and changes nothing", () => {
    const d = new Driver({ ...TEST_CONFIG, sessionsMax: 3, locksMax: 2, waitersPerLockMax: 1 });
    const [a, b, c] = [d.open("a"), d.open("b"), d.open("c")];
    expectError(d.client("e", { type: "openSession", ttlMs: 1_000 }), "OVERLOADED");
    d.acquire("a", a, "x");
    d.acquire("a", a, "y");
    expectError(d.acquire("a", a, "z"), "OVERLOADED");
    d.acquire("b", b, "x", "exclusive", 1_000);
    expectError(d.acquire("c", c, "x", "exclusive", 1_000), "OVERLOADED");
    expect(d.machine.stats()).toMatchObject({ sessions: 3, locks: 2, holders: 2, waiters: 1 });
  });
});

describe("restore", () => {
  it("rebuilds sessions, queues, the token counter and the dedup table from a JSON round trip", () => {
    const d = new Driver();
    const [a, b] = [d.open("a"), d.open("b")];
    d.acquire("a", a, "x", "shared");
    d.acquire("b", b, "x", "exclusive", 5_000);
    const seq = d.nextSeq("a");
    const first = d.client("a", { type: "acquire", sessionId: a, name: "y", mode: "exclusive", waitMs: 0, owner: "o" }, seq);
    d.restart();
    expect(d.client("a", { type: "acquire", sessionId: a, name: "y", mode: "exclusive", waitMs: 0, owner: "o" }, seq).answer).toEqual(first.answer);
    expect(eventsOf(d.release("a", a, "x"), "granted")).toMatchObject([{ sessionId: b, token: 3 }]);
  });

  it("carries the used failover grace through a snapshot, and reads version 1 snapshots as unused", () => {
    const d = new Driver();
    const s = d.open("a", 1_000);
    d.tick(400);
    d.newLeader(10);
    d.tick();
    d.tick(300); // the grace is used: 700 ms left
    const snap = d.machine.snapshot();
    expect(snap.sessions).toMatchObject([{ id: s, failoverGraceUsed: true }]);
    const restored = LockStateMachine.restore(JSON.parse(JSON.stringify(snap)), TEST_CONFIG);
    if (!restored.ok) throw new Error(restored.error);
    restored.machine.apply({ index: 100, term: 99 }, { type: "tick", nowMs: 5 });
    expect(restored.machine.sessionInfo(s)?.remainingMs).toBe(700);

    const v1 = JSON.parse(JSON.stringify(snap));
    v1.version = 1;
    delete v1.sessions[0].failoverGraceUsed;
    const old = LockStateMachine.restore(v1, TEST_CONFIG);
    if (!old.ok) throw new Error(old.error);
    old.machine.apply({ index: 100, term: 99 }, { type: "tick", nowMs: 5 });
    expect(old.machine.sessionInfo(s)?.remainingMs).toBe(1_000);
  });

  it("refuses a snapshot it cannot trust, saying why", () => {
    const good = new Driver();
    const s = good.open("a");
    good.acquire("a", s, "x");
    const snap = good.machine.snapshot();
    const bad = (mutate: (o: any) => void): string => {
      const copy = JSON.parse(JSON.stringify(snap));
      mutate(copy);
      const result = LockStateMachine.restore(copy, TEST_CONFIG);
      expect(result.ok).toBe(false);
      return result.ok ? "" : result.error;
    };
    expect(bad((o) => (o.version = 3))).toMatch(/version/);
    expect(bad((o) => (o.sessions[0].failoverGraceUsed = "no"))).toMatch(/failoverGraceUsed/);
    expect(bad((o) => delete o.sessions[0].failoverGraceUsed)).toMatch(/failoverGraceUsed/);
    expect(bad((o) => (o.locks[0].holders[0].token = o.nextToken))).toMatch(/token/);
    expect(bad((o) => o.locks[0].holders.push({ ...o.locks[0].holders[0], token: 1 }))).toMatch(/twice|exclusive/);
    expect(bad((o) => (o.locks[0].holders[0].sessionId = 42))).toMatch(/session 42/);
    expect(bad((o) => (o.sessions[0].deadlineMs = o.clockMs))).toMatch(/deadlineMs/);
    expect(bad((o) => (o.clients = []))).toMatch(/no record for client a/);
    expect(bad((o) => (o.clients[0].answers[0].answer.type = "bogus"))).toMatch(/type/);
    expect(bad((o) => (o.locks[0].name = ""))).toMatch(/name/);
    expect(bad((o) => (o.extra = 1))).toMatch(/unknown field/);
    expect(bad((o) => o.locks.push({ name: "y", holders: [], waiters: [] }))).toMatch(/no holder and no waiter/);
    expect(LockStateMachine.restore(null).ok).toBe(false);
  });
});
