// Tests how scenarios are repeated and reduced: the interleaving that lets two systems be
// compared on a drifting machine, and that a prepared scenario is always disposed of. Fake
// operations, windows of a few tens of milliseconds; nothing asserts a duration.
import { describe, expect, it } from "vitest";
import { measureInterleaved, measurePrepared, type ScenarioSpec } from "../src/scenario.js";
import type { BenchOptions } from "../src/suite.js";

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const OPTIONS: BenchOptions = { warmupSeconds: 0, measureSeconds: 0.03, repeats: 3, scratchDir: "/nonexistent" };

/** A scenario whose every operation notes its name in `log`. */
function loggingSpec(name: string, log: string[]): ScenarioSpec {
  return {
    scenario: `fake ${name}`,
    system: name,
    concurrency: 2,
    maxOps: 100_000,
    op: async () => {
      log.push(name);
      await nextTurn();
    },
  };
}

/** ["a", "a", "b", "a"] -> ["a", "b", "a"]: which scenario ran, block by block. */
function blocks(log: readonly string[]): string[] {
  return log.filter((name, i) => i === 0 || log[i - 1] !== name);
}

describe("measureInterleaved", () => {
  it("swaps which system goes first on every repeat: a b, b a, a b", async () => {
    const log: string[] = [];
    const [a, b] = await measureInterleaved(OPTIONS, loggingSpec("a", log), loggingSpec("b", log));
    // Repeats a b | b a | a b: the two in the middle run back to back, so 4 blocks, not 6.
    expect(blocks(log)).toEqual(["a", "b", "a", "b"]);
    expect(a.system).toBe("a");
    expect(b.system).toBe("b");
    expect(a.runs).toHaveLength(3);
    expect(b.runs).toHaveLength(3);
  });

  it("reports each system's median over its own repeats", async () => {
    const log: string[] = [];
    const [a, b] = await measureInterleaved(OPTIONS, loggingSpec("a", log), loggingSpec("b", log));
    for (const result of [a, b]) {
      const sorted = (result.runs ?? []).map((r) => r.opsPerSecond).sort((x, y) => x - y);
      expect(result.opsPerSecond).toBe(sorted[1]);
      expect(result.opsPerSecond).toBeGreaterThan(0);
    }
  });
});

describe("measurePrepared", () => {
  it("disposes of the scenario after its repeats", async () => {
    const log: string[] = [];
    let disposed = 0;
    const result = await measurePrepared(OPTIONS, {
      spec: loggingSpec("a", log),
      dispose: async () => {
        disposed += 1;
      },
    });
    expect(result.runs).toHaveLength(3);
    expect(disposed).toBe(1);
  });

  it("disposes of the scenario when a repeat fails, and reports the failure", async () => {
    let disposed = 0;
    const failing: ScenarioSpec = {
      scenario: "fake failing",
      system: "a",
      concurrency: 1,
      maxOps: 1_000,
      op: async () => {
        await nextTurn();
        throw new Error("lock held twice");
      },
    };
    await expect(
      measurePrepared(OPTIONS, {
        spec: failing,
        dispose: async () => {
          disposed += 1;
        },
      }),
    ).rejects.toThrow("lock held twice");
    expect(disposed).toBe(1);
  });
});
