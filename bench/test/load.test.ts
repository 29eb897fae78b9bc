// Tests the closed-loop load generator with fake operations: what it counts, how it bounds a
// run (op count, errors, hung operations), and the fairness arithmetic. No test asserts how
// long anything took; windows are short and every run is bounded by maxOps or drainMs.
import { describe, expect, it } from "vitest";
import { fairnessOf, runClosedLoop } from "../src/load.js";

/** Resolves on the next turn of the event loop, like a very fast network reply. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("runClosedLoop", () => {
  it("counts every measured operation once, per worker and in the latency histogram", async () => {
    const calls = [0, 0, 0, 0];
    const r = await runClosedLoop({
      concurrency: 4,
      warmupMs: 10,
      measureMs: 60,
      maxOps: 1_000_000,
      op: async (w) => {
        calls[w] = (calls[w] ?? 0) + 1;
        await nextTurn();
      },
    });
    expect(r.ops).toBeGreaterThan(0);
    expect(r.perWorker.reduce((a, b) => a + b, 0)).toBe(r.ops);
    expect(r.latency.count).toBe(r.ops);
    expect(r.elapsedMs).toBe(60);
    expect(r.opsPerSecond).toBeCloseTo((r.ops * 1000) / 60, 6);
    // Warm-up operations ran too but are not counted.
    expect(calls.reduce((a, b) => a + b, 0)).toBeGreaterThan(r.ops);
    expect(r.errors).toBe(0);
    expect(r.unfinishedWorkers).toBe(0);
    expect(r.partLatency).toBeUndefined();
  });

  it("ends the window after maxOps measured operations, long before its deadline", async () => {
    const r = await runClosedLoop({ concurrency: 3, warmupMs: 0, measureMs: 600_000, maxOps: 50, op: nextTurn });
    expect(r.ops).toBe(50);
    expect(r.perWorker.reduce((a, b) => a + b, 0)).toBe(50);
  });

  it("ends warm-up after maxOps warm-up operations", async () => {
    const r = await runClosedLoop({ concurrency: 2, warmupMs: 600_000, measureMs: 600_000, maxOps: 20, op: nextTurn });
    expect(r.ops).toBe(20);
  });

  it("summarises the part latency an operation returns", async () => {
    const r = await runClosedLoop({
      concurrency: 2,
      warmupMs: 0,
      measureMs: 600_000,
      maxOps: 100,
      op: async () => {
        await nextTurn();
        return 5;
      },
    });
    expect(r.partLatency?.count).toBe(100);
    expect(r.partLatency?.p50Ms).toBe(5);
    expect(r.partLatency?.maxMs).toBe(5);
  });

  it("counts failed operations apart and keeps going below maxErrors", async () => {
    let n = 0;
    const r = await runClosedLoop({
      concurrency: 1,
      warmupMs: 0,
      measureMs: 600_000,
      maxOps: 30,
      maxErrors: 1_000,
      op: async () => {
        await nextTurn();
        if (++n % 3 === 0) throw new Error("every third fails");
      },
    });
    expect(r.ops).toBe(30);
    expect(r.errors).toBe(14);
    expect(r.latency.count).toBe(30);
  });

  it("aborts with the first error once maxErrors is exceeded", async () => {
    let n = 0;
    const run = runClosedLoop({
      concurrency: 2,
      warmupMs: 0,
      measureMs: 600_000,
      maxOps: 1_000,
      maxErrors: 5,
      op: async () => {
        await nextTurn();
        throw new Error(`boom ${++n}`);
      },
    });
    await expect(run).rejects.toThrow(/after 6 failed operations; first: boom 1/);
  });

  it("returns after drainMs even if an operation never resolves", async () => {
    const r = await runClosedLoop({
      concurrency: 2,
      warmupMs: 0,
      measureMs: 30,
      maxOps: 1_000_000,
      drainMs: 20,
      op: (w) => (w === 0 ? new Promise<void>(() => {}) : nextTurn()),
    });
    expect(r.unfinishedWorkers).toBe(1);
    expect(r.perWorker[0]).toBe(0);
    expect(r.perWorker[1]).toBe(r.ops);
    expect(r.fairness.min).toBe(0);
  });

  it("rejects options that cannot describe a run", async () => {
    const op = nextTurn;
    await expect(runClosedLoop({ concurrency: 0, warmupMs: 0, measureMs: 1, maxOps: 1, op })).rejects.toThrow(/concurrency=0/);
    await expect(runClosedLoop({ concurrency: 1, warmupMs: 0, measureMs: 0, maxOps: 1, op })).rejects.toThrow(/measureMs=0/);
    await expect(runClosedLoop({ concurrency: 1, warmupMs: 0, measureMs: 1, maxOps: 0.5, op })).rejects.toThrow(/maxOps=0.5/);
  });
});

describe("fairnessOf", () => {
  it("is 1 for equal shares and 1/n when one worker did everything", () => {
    expect(fairnessOf([7, 7, 7, 7])).toEqual({ jain: 1, min: 7, max: 7 });
    expect(fairnessOf([12, 0, 0, 0])).toEqual({ jain: 0.25, min: 0, max: 12 });
  });

  it("matches Jain's formula on an uneven split", () => {
    // (1 + 2 + 3)^2 / (3 * (1 + 4 + 9)) = 36 / 42
    expect(fairnessOf([1, 2, 3]).jain).toBeCloseTo(36 / 42, 12);
  });

  it("treats an all-idle run as fair and refuses zero workers", () => {
    expect(fairnessOf([0, 0]).jain).toBe(1);
    expect(() => fairnessOf([])).toThrow(/zero workers/);
  });
});
