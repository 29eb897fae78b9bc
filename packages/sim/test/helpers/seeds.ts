// Runs a range of seeds and collects what failed, each with the command that replays it.

import { replayCommand, runSimulation } from "../../src/index.js";
import type { Invariant, Profile, SimOptions, SimResult } from "../../src/index.js";

export const STEPS = 5000;

export type RunOptions = Omit<SimOptions, "seed" | "steps"> & { readonly steps?: number };

/** Every seed in [first, first + count) that ends in a violation, as a readable line. */
export function failures(options: RunOptions, first: number, count: number): string[] {
  const out: string[] = [];
  for (let seed = first; seed < first + count; seed++) {
    const result = runSimulation({ steps: STEPS, ...options, seed });
    if (result.violation !== undefined) out.push(describeFailure(result, options));
  }
  return out;
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

export function describeFailure(result: SimResult, options: RunOptions): string {
  const v = result.violation;
  if (v === undefined) return `seed ${result.seed}: no violation`;
  const profile: Profile = options.profile ?? "mixed";
  return `seed ${result.seed}: ${v.invariant} at step ${v.step}: ${v.detail.split("\n")[0] ?? ""}\n  replay: ${replayCommand(result.seed, result.nodes, options.steps ?? STEPS, profile, options.app)}`;
}
