// Runs a range of seeds with the lock application and sums the lock counters, so that a
// seed-set test can show both that nothing failed and that the runs did the things the
// checks are about (waits granted, sessions expiring while holding, leader changes).

import { runSimulation } from "../../src/index.js";
import { STEPS, describeFailure } from "./seeds.js";
import type { RunOptions } from "./seeds.js";

export interface LockSeedsReport {
  readonly failures: readonly string[];
  readonly totals: Readonly<Record<string, number>>;
}

export function runLockSeeds(options: RunOptions, first: number, count: number): LockSeedsReport {
  const failures: string[] = [];
  const totals: Record<string, number> = {};
  for (let seed = first; seed < first + count; seed++) {
    const result = runSimulation({ steps: STEPS, ...options, app: "locks", seed });
    if (result.violation !== undefined) failures.push(describeFailure(result, { ...options, app: "locks" }));
    for (const [key, value] of Object.entries(result.stats)) if (key.startsWith("lock.")) totals[key] = (totals[key] ?? 0) + value;
  }
  return { failures, totals };
}
