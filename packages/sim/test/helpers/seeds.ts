// Runs a range of seeds and collects what failed, each with the command that replays it.

import { expect } from "vitest";
import { replayCommand, runSimulation } from "../../src/index.js";
import type { Invariant, Profile, SimOptions, SimResult } from "../../src/index.js";

export const STEPS = 5000;

export type RunOptions = Omit<SimOptions, "seed" | "steps"> & { readonly steps?: number };

/**
 * Runs every seed in [first, first + count) and checks them: none may end in a violation
 * (each failure is shown as a readable line with its replay command), and together they must
 * have exercised the faults and the progress the checks are about: a scheduler that
 * stopped crashing nodes or a cluster that stopped committing would otherwise pass.
 */
export function expectSeedsHold(options: RunOptions, first: number, count: number): void {
  const out: string[] = [];
  const totals: Record<string, number> = {};
  for (let seed = first; seed < first + count; seed++) {
    const result = runSimulation({ steps: STEPS, ...options, seed });
    if (result.violation !== undefined) out.push(describeFailure(result, options));
    for (const [key, value] of Object.entries(result.stats)) totals[key] = (totals[key] ?? 0) + value;
  }
  expect(out).toEqual([]);
  // About a quarter of what the profiles produce on average, per seed.
  const least: Record<string, number> = { crashes: 4, partitions: 2, leadersElected: 2, lostWrites: 0.5, snapshotsInstalled: 0.1, readsServed: 2, committed: 50, appliedDuringWrite: 0.5 };
  for (const [key, perSeed] of Object.entries(least)) expect(totals[key] ?? 0, `${key} over seeds ${first}..${first + count - 1}`).toBeGreaterThanOrEqual(perSeed * count);
}

/** The first seed in [first, first + count) whose run ends in a violation (of one of `by`, if given). */
export function firstCaught(options: RunOptions, first: number, count: number, by?: readonly Invariant[]): SimResult | undefined {
  for (let seed = first; seed < first + count; seed++) {
    const result = runSimulation({ steps: STEPS, ...options, seed });
    const invariant = result.violation?.invariant;
    if (invariant !== undefined && (by === undefined || by.includes(invariant))) return result;
  }
  return undefined;
}

/** Runs the caught seed again: the same violation at the same step, after the same trace. */
export function expectReplaysExactly(caught: SimResult, options: RunOptions): void {
  const again = runSimulation({ steps: STEPS, ...options, seed: caught.seed });
  expect(again.violation?.invariant).toBe(caught.violation?.invariant);
  expect(again.violation?.step).toBe(caught.violation?.step);
  expect(again.traceHash).toBe(caught.traceHash);
}

export function describeFailure(result: SimResult, options: RunOptions): string {
  const v = result.violation;
  if (v === undefined) return `seed ${result.seed}: no violation`;
  const profile: Profile = options.profile ?? "mixed";
  return `seed ${result.seed}: ${v.invariant} at step ${v.step}: ${v.detail.split("\n")[0] ?? ""}\n  replay: ${replayCommand(result.seed, result.nodes, options.steps ?? STEPS, profile, options.app)}`;
}
