// The lock state machine as the simulator's application: entries in, outcomes out for the
// checker, and snapshots that restore into an identical replica.

import { asIndex, asTerm } from "@geolock/raft";
import type { Entry } from "@geolock/raft";
import type { LockCommand } from "@geolock/locks";
import { describe, expect, it } from "vitest";
import { LockApp, encodeLockCommand } from "../src/index.js";

function entry(index: number, term: number, command: LockCommand | Uint8Array): Entry {
  const data = command instanceof Uint8Array ? command : encodeLockCommand(command);
  return { index: asIndex(index), term: asTerm(term), kind: "normal", data };
}

/** A short history: two clients, a grant, a wait, a leader change, a release that grants the waiter. */
function history(): Entry[] {
  const c1 = { clientId: "c1" } as const;
  const c2 = { clientId: "c2" } as const;
  return [
    entry(1, 1, { type: "openSession", ...c1, seq: 1, nowMs: 1000, ttlMs: 2000 }),
    entry(2, 1, { type: "openSession", ...c2, seq: 1, nowMs: 1010, ttlMs: 2000 }),
    entry(3, 1, { type: "acquire", ...c1, seq: 2, nowMs: 1020, sessionId: 1, name: "a", mode: "exclusive", waitMs: 0, owner: "w1" } as LockCommand),
    entry(4, 1, { type: "acquire", ...c2, seq: 2, nowMs: 1030, sessionId: 2, name: "a", mode: "exclusive", waitMs: 5000, owner: "w2" } as LockCommand),
    { index: asIndex(5), term: asTerm(2), kind: "normal", data: new Uint8Array() },
    entry(6, 2, { type: "tick", nowMs: 50 }),
  ];
}

function applyAll(app: LockApp, entries: readonly Entry[]): string[] {
  return entries.map((e) => {
    app.apply(e);
    return JSON.stringify(app.lastOutcome()?.result ?? null);
  });
}

describe("LockApp", () => {
  it("applies lock entries and reports each outcome; no-op and membership entries are not lock commands", () => {
    const app = new LockApp();
    const outcomes = applyAll(app, history());
    expect(JSON.parse(outcomes[0] ?? "")).toEqual({ answer: { type: "sessionOpened", sessionId: 1, ttlMs: 2000 }, events: [] });
    expect(JSON.parse(outcomes[2] ?? "").answer).toMatchObject({ type: "granted", name: "a", token: 1 });
    expect(JSON.parse(outcomes[3] ?? "").answer).toMatchObject({ type: "queued", position: 1 });
    expect(outcomes[4]).toBe("null");
    app.apply({ index: asIndex(7), term: asTerm(2), kind: "confChange", data: new Uint8Array([1, 2, 3]) });
    expect(app.lastOutcome()).toBeUndefined();
    expect(app.state.status("a").holders.map((h) => h.sessionId)).toEqual([1]);
  });

  it("answers an entry that is not JSON with an error and changes nothing but the applied index", () => {
    const app = new LockApp();
    applyAll(app, history());
    const state = (): unknown => ({ ...(JSON.parse(new TextDecoder().decode(app.snapshot())) as object), appliedIndex: "-" });
    const before = state();
    app.apply(entry(7, 2, new TextEncoder().encode("set k v")));
    expect(app.lastOutcome()?.result.answer).toMatchObject({ type: "error", code: "INVALID_ARGUMENT" });
    expect(state()).toEqual(before);
    expect(app.state.stats().appliedIndex).toBe(7);
  });

  it("restores a snapshot into a replica with identical bytes, which then computes identical outcomes", () => {
    const entries = history();
    const original = new LockApp();
    applyAll(original, entries.slice(0, 4));
    const copy = new LockApp();
    copy.restore(original.snapshot());
    expect(copy.snapshot()).toEqual(original.snapshot());
    const release = entry(7, 2, { type: "release", clientId: "c1", seq: 3, nowMs: 60, sessionId: 1, name: "a" } as LockCommand);
    const rest = [...entries.slice(4), release];
    expect(applyAll(copy, rest)).toEqual(applyAll(original, rest));
    expect(copy.snapshot()).toEqual(original.snapshot());
    expect(original.state.status("a").holders.map((h) => ({ sessionId: h.sessionId, token: h.token }))).toEqual([{ sessionId: 2, token: 2 }]);
  });

  it("refuses a snapshot that is not one of its own", () => {
    const app = new LockApp();
    expect(() => app.restore(new TextEncoder().encode(JSON.stringify({ version: 1, digest: 3 })))).toThrow(/snapshot refused/);
  });
});
