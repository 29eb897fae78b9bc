// Safety under faults, as seeded simulation runs (simulation.ts). Every run checks safety
// after every event (oracle.ts: one value per instance, learned = chosen, promises never go
// down, every region's table applies the same answers and states, tokens never go back, no
// two clients ever believe they hold a key at once) and liveness at the end (every request
// completed, every region converged). A failure names its seed; `simulate(seed, regions,
// mix(seed))` replays it. Seeds run in chunks so that each test stays short.

import { describe, expect, it } from "vitest";
import { FIVE_REGIONS, simulate, THREE_REGIONS, type SimOptions, type SimReport } from "./simulation.js";

const CHUNKS_3 = 4;
const SEEDS_PER_CHUNK_3 = 10;
const SEEDS_5 = 12;

/** Seeds vary the fault mix: light, medium and heavy loss; more keys every fourth seed. */
export function mix(seed: number): Partial<SimOptions> {
  const dropRate = [0.02, 0.05, 0.15][seed % 3] ?? 0.05;
  return { faults: { dropRate, duplicateRate: seed % 2 === 0 ? 0.05 : 0.01, jitterFraction: 0.5 }, keyCount: seed % 4 === 0 ? 4 : 2 };
}

function runSeeds(count: number, first: number, run: (seed: number) => SimReport): SimReport[] {
  const reports: SimReport[] = [];
  for (let seed = first; seed < first + count; seed++) {
    try {
      reports.push(run(seed));
    } catch (e) {
      throw new Error(`seed ${seed} failed (replay: simulate(${seed}, regions, mix(${seed}))): ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return reports;
}

const total = (reports: readonly SimReport[], f: (r: SimReport) => number): number => reports.reduce((n, r) => n + f(r), 0);

describe("paxos simulation under faults", () => {
  for (let chunk = 0; chunk < CHUNKS_3; chunk++) {
    const first = 1 + chunk * SEEDS_PER_CHUNK_3;
    it(`stays safe and converges with 3 regions under drops, duplicates, reordering, crashes and partitions (seeds ${first}..${first + SEEDS_PER_CHUNK_3 - 1})`, () => {
      const reports = runSeeds(SEEDS_PER_CHUNK_3, first, (seed) => simulate(seed, THREE_REGIONS, mix(seed)));
      // The runs did real work: values chosen, locks granted, regions crashed.
      expect(total(reports, (r) => r.chosen)).toBeGreaterThan(SEEDS_PER_CHUNK_3 * 20);
      expect(total(reports, (r) => r.grants)).toBeGreaterThan(SEEDS_PER_CHUNK_3 * 4);
      expect(total(reports, (r) => r.crashes)).toBeGreaterThan(SEEDS_PER_CHUNK_3);
      expect(total(reports, (r) => r.snapshotRestores)).toBeGreaterThan(0);
    });
  }

  it(`stays safe and converges with 5 regions, minorities of one or two cut off (${SEEDS_5} seeds)`, () => {
    const reports = runSeeds(SEEDS_5, 101, (seed) => simulate(seed, FIVE_REGIONS, mix(seed)));
    expect(total(reports, (r) => r.grants)).toBeGreaterThan(SEEDS_5 * 3);
    expect(total(reports, (r) => r.noQuorum)).toBeGreaterThan(0);
  });
});
