// One seed is one run: the same seed gives the same trace hash, event for event, and a
// different seed a different one.

import { describe, expect, it } from "vitest";
import { runSimulation } from "../src/index.js";

describe("determinism", () => {
  it("replays a seed exactly, and different seeds differ", () => {
    const first = runSimulation({ seed: 4242, nodes: 3, steps: 1500 });
    const again = runSimulation({ seed: 4242, nodes: 3, steps: 1500 });
    const other = runSimulation({ seed: 4243, nodes: 3, steps: 1500 });
    expect(first.violation).toBeUndefined();
    expect(again.traceHash).toBe(first.traceHash);
    expect(again.steps).toBe(first.steps);
    expect(again.stats).toEqual(first.stats);
    expect(other.traceHash).not.toBe(first.traceHash);
  });

  it("replays a five-node run with the leader-churn profile exactly", () => {
    const lines: string[] = [];
    const first = runSimulation({ seed: 99, nodes: 5, steps: 1500, profile: "leaderChurn", traceSink: (line) => lines.push(line) });
    const again = runSimulation({ seed: 99, nodes: 5, steps: 1500, profile: "leaderChurn" });
    expect(again.traceHash).toBe(first.traceHash);
    expect(lines.length).toBeGreaterThan(1500);
    expect(first.recentTrace.at(-1)).toBe(lines.at(-1));
  });

  it("replays a run of the lock application exactly", () => {
    const first = runSimulation({ seed: 4242, nodes: 3, steps: 1500, app: "locks" });
    const again = runSimulation({ seed: 4242, nodes: 3, steps: 1500, app: "locks" });
    const kv = runSimulation({ seed: 4242, nodes: 3, steps: 1500 });
    expect(first.violation).toBeUndefined();
    expect(again.traceHash).toBe(first.traceHash);
    expect(again.stats).toEqual(first.stats);
    expect(first.traceHash).not.toBe(kv.traceHash);
    expect(first.stats["lock.grantedAtOnce"]).toBeGreaterThan(0);
  });
});
