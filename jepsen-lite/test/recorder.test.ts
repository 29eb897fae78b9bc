// The harness's history recorder: how lease ends and late writes are written down, so that
// a paused client's late write lands outside its critical section (and is judged by
// fencing) while a client that never learns of its lease (the naive one) keeps its section.

import { describe, expect, it } from "vitest";
import { checkFencing, checkLinearizability, checkMutualExclusion, GuardedResource, historyFromEvents, HistoryRecorder, lockModel, type History } from "@geolock/jepsen-lite";
import { tmpdir } from "node:os";
import { join } from "node:path";

const MS = 1_000_000;

function historyOf(recorder: HistoryRecorder): History {
  const parsed = historyFromEvents(recorder.sorted());
  if (!parsed.ok) throw new Error(parsed.error.map((e) => `${e.line}: ${e.message}`).join("; "));
  return parsed.value;
}

/** Worker 0 holds k (token 1, lease known good until `validUntil`), gets paused; worker 1 takes k over at 3000 ms. */
function pausedHolder(validUntil: number | null, fenced: boolean): { recorder: HistoryRecorder; late: boolean; accepted: boolean } {
  const r = new HistoryRecorder(1000);
  const resource = new GuardedResource(fenced, join(tmpdir(), `jepsen-lite-recorder-test-${process.pid}.jsonl`));
  const write = (index: number, token: number, time: number, decided: number | null) => {
    const decision = resource.write("k", token);
    return { ...r.write(index, { t: "write", id: time, lock: "k", token, validUntil: decided }, time, decision.accepted), accepted: decision.accepted };
  };
  r.invoke(0, { t: "invoke", f: "acquire", key: "k", value: null, time: 0, validUntil: null });
  r.complete(0, { t: "complete", type: "ok", f: "acquire", key: "k", value: { token: 1, session: "s1" }, error: null, time: 10 * MS });
  write(0, 1, 100 * MS, validUntil);
  // Paused from 150 ms to 4000 ms; its next write was decided at 140 ms, in flight meanwhile.
  r.invoke(1, { t: "invoke", f: "acquire", key: "k", value: null, time: 2900 * MS, validUntil: null });
  r.complete(1, { t: "complete", type: "ok", f: "acquire", key: "k", value: { token: 2, session: "s2" }, error: null, time: 3000 * MS });
  write(1, 2, 3100 * MS, validUntil === null ? null : 4900 * MS);
  const late = write(0, 1, 4000 * MS, validUntil);
  if (validUntil !== null) r.lost(0, { t: "lost", lock: "k", session: "s1", token: 1, validUntil, time: 4001 * MS });
  r.invoke(1, { t: "invoke", f: "release", key: "k", value: { token: 2, session: "s2" }, time: 4100 * MS, validUntil: 4900 * MS });
  r.complete(1, { t: "complete", type: "ok", f: "release", key: "k", value: null, error: null, time: 4110 * MS });
  return { recorder: r, late: late.late, accepted: late.accepted };
}

describe("history recorder", () => {
  it("ends a lease at the client's deadline and keeps a late write out of the critical section", () => {
    const { recorder, late, accepted } = pausedHolder(1990 * MS, true);
    expect(late).toBe(true);
    expect(accepted).toBe(false);
    const history = historyOf(recorder);
    const leaseEnd = history.operations.find((op) => op.f === "release" && op.outcome === "info");
    expect(leaseEnd?.invokeTime).toBe(1990 * MS);
    expect(leaseEnd?.invokeValue).toEqual({ session: "s1", token: 1 });
    const lateWrite = history.operations.find((op) => op.f === "write" && op.outcome === "fail");
    expect(lateWrite).toBeDefined();
    expect(leaseEnd).toBeDefined();
    expect(lateWrite?.process).not.toBe(leaseEnd?.process);
    expect(lateWrite?.invokeTime).toBeGreaterThan(leaseEnd?.invokeTime as number);
    expect(checkMutualExclusion(history)).toMatchObject({ ok: true, value: { valid: true } });
    expect(checkFencing(history)).toMatchObject({ ok: true, value: { valid: true } });
    expect(checkLinearizability(history, lockModel)).toMatchObject({ ok: true, value: { linearizable: true } });
  });

  it("keeps the section of a client that cannot know its lease, so the overlap and the stale write show", () => {
    const { recorder, late, accepted } = pausedHolder(null, false);
    expect(late).toBe(false);
    expect(accepted).toBe(true);
    const history = historyOf(recorder);
    const exclusion = checkMutualExclusion(history);
    expect(exclusion.ok && exclusion.value.anomalies.length).toBe(1);
    const fencing = checkFencing(history);
    expect(fencing.ok && fencing.value.anomalies.map((a) => a.kind)).toEqual(["stale-token-accepted"]);
  });

  it("retires a process after an info completion and names an unknown acquire's possible release", () => {
    const r = new HistoryRecorder(1000);
    r.invoke(0, { t: "invoke", f: "acquire", key: "k", value: { waitMs: 0 }, time: 1, validUntil: null });
    r.complete(0, { t: "complete", type: "info", f: "acquire", key: "k", value: null, error: "TIMEOUT", time: 2 });
    r.maybeHeld({ t: "maybe-held", lock: "k", session: "r/c1", time: 3 });
    r.invoke(0, { t: "invoke", f: "status", key: "k", value: null, time: 4, validUntil: null });
    r.complete(0, { t: "complete", type: "ok", f: "status", key: "k", value: { holder: null, token: null }, error: null, time: 5 });
    const history = historyOf(r);
    expect(new Set(history.operations.map((op) => op.process)).size).toBe(3);
    expect(checkLinearizability(history, lockModel)).toMatchObject({ ok: true, value: { linearizable: true } });
  });

  it("lets the model place a grant that a replaced session held within a granted acquire (seed 211)", () => {
    const record = (ghost: boolean): HistoryRecorder => {
      const r = new HistoryRecorder(1000);
      r.invoke(0, { t: "invoke", f: "acquire", key: "k", value: { waitMs: 300 }, time: 1, validUntil: null });
      // The first session is granted token 5 and ends; a reader sees it hold meanwhile.
      r.invoke(1, { t: "invoke", f: "status", key: "k", value: null, time: 3, validUntil: null });
      r.complete(1, { t: "complete", type: "ok", f: "status", key: "k", value: { holder: "r/c1", token: 5 }, error: null, time: 4 });
      r.invoke(1, { t: "invoke", f: "status", key: "k", value: null, time: 5, validUntil: null });
      r.complete(1, { t: "complete", type: "ok", f: "status", key: "k", value: { holder: null, token: null }, error: null, time: 6 });
      r.complete(0, { t: "complete", type: "ok", f: "acquire", key: "k", value: { token: 6, session: "r/c1" }, error: null, time: 10 });
      if (ghost) r.maybeGranted({ t: "maybe-granted", lock: "k", session: "r/c1", time: 1 });
      return r;
    };
    expect(checkLinearizability(historyOf(record(false)), lockModel)).toMatchObject({ ok: true, value: { linearizable: false } });
    const history = historyOf(record(true));
    expect(new Set(history.operations.map((op) => op.process)).size).toBe(4);
    expect(checkLinearizability(history, lockModel)).toMatchObject({ ok: true, value: { linearizable: true } });
  });

  it("refuses a worker that invokes with an operation open", () => {
    const r = new HistoryRecorder(1000);
    r.invoke(0, { t: "invoke", f: "status", key: "k", value: null, time: 1, validUntil: null });
    expect(() => r.invoke(0, { t: "invoke", f: "status", key: "k", value: null, time: 2, validUntil: null })).toThrow(/is open/);
  });
});
