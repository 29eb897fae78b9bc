// The seeded simulation (simulation.ts) as tests. Every run checks safety after every event
// (oracle.ts: one value per instance, learned = chosen, promises never go down, every
// region's table applies the same answers and states, tokens never go back, no two clients
// ever believe they hold a key at once) and liveness at the end (every request completed,
// every region converged). A failure names its seed; `simulate(seed, regions)` replays it.
// Three deliberately broken variants (broken.ts) must each be caught within the budget.

import { describe, expect, it } from "vitest";
import { NO_FAULTS } from "./network.js";
import { SafetyViolation } from "./oracle.js";
import { BROKEN } from "./broken.js";
import { asRegionId } from "../../src/index.js";
import { FIVE_REGIONS, LivenessFailure, simulate, THREE_REGIONS, type SimReport } from "./simulation.js";

const SEEDS_3 = 24;
const SEEDS_5 = 8;
const BROKEN_SEEDS_MAX = 40;

function runSeeds(count: number, first: number, run: (seed: number) => SimReport): SimReport[] {
  const reports: SimReport[] = [];
  for (let seed = first; seed < first + count; seed++) {
    try {
      reports.push(run(seed));
    } catch (e) {
      throw new Error(`seed ${seed} failed (replay: simulate(${seed}, ...)): ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return reports;
}

describe("paxos simulation", () => {
  it(`stays safe and converges with 3 regions under drops, duplicates, reordering, crashes and partitions (${SEEDS_3} seeds)`, () => {
    const reports = runSeeds(SEEDS_3, 1, (seed) => simulate(seed, THREE_REGIONS));
    const total = (f: (r: SimReport) => number): number => reports.reduce((n, r) => n + f(r), 0);
    // The runs did real work: values chosen, locks granted, regions crashed, NO_QUORUM seen.
    expect(total((r) => r.chosen)).toBeGreaterThan(SEEDS_3 * 20);
    expect(total((r) => r.grants)).toBeGreaterThan(SEEDS_3 * 4);
    expect(total((r) => r.crashes)).toBeGreaterThan(SEEDS_3);
    expect(total((r) => r.noQuorum)).toBeGreaterThan(0);
  });

  it(`stays safe and converges with 5 regions, minorities of one or two cut off (${SEEDS_5} seeds)`, () => {
    const reports = runSeeds(SEEDS_5, 101, (seed) => simulate(seed, FIVE_REGIONS));
    expect(reports.reduce((n, r) => n + r.grants, 0)).toBeGreaterThan(SEEDS_5 * 3);
  });

  it("decides in a calm network without a single NO_QUORUM", () => {
    for (const report of runSeeds(3, 201, (seed) => simulate(seed, THREE_REGIONS, { faults: NO_FAULTS, crashRate: 0, partitionRate: 0 }))) {
      expect(report.noQuorum).toBe(0);
      expect(report.grants).toBeGreaterThan(5);
      expect(report.chosen).toBeGreaterThan(30);
    }
  });

  it("refuses global locks with NO_QUORUM in a cut-off region while the majority keeps granting", () => {
    const cut = { fromTick: 1_000, toTick: 7_000 };
    const eu = asRegionId("eu-west");
    for (const seed of [301, 302, 303]) {
      const report = simulate(seed, THREE_REGIONS, {
        faults: NO_FAULTS,
        crashRate: 0,
        partitionRate: 0,
        clientsPerRegion: 3,
        scriptedPartition: { region: eu, ...cut },
      });
      // Answers after the partition began (plus the longest one-way delay) and before it healed.
      const during = (ticks: readonly number[]): number => ticks.filter((t) => t >= cut.fromTick + 100 && t < cut.toTick).length;
      const cutOff = report.clients.filter((c) => c.region === eu);
      const majority = report.clients.filter((c) => c.region !== eu);
      expect(cutOff.reduce((n, c) => n + during(c.grantedAt), 0), `seed ${seed}`).toBe(0);
      expect(cutOff.reduce((n, c) => n + during(c.noQuorumAt), 0), `seed ${seed}`).toBeGreaterThan(0);
      expect(majority.reduce((n, c) => n + during(c.grantedAt), 0), `seed ${seed}`).toBeGreaterThan(0);
    }
  });

  for (const [name, parts] of Object.entries(BROKEN)) {
    it(`catches ${name} within ${BROKEN_SEEDS_MAX} seeds`, () => {
      let caught: SafetyViolation | undefined;
      for (let seed = 1; seed <= BROKEN_SEEDS_MAX && caught === undefined; seed++) {
        try {
          simulate(seed, THREE_REGIONS, { parts, settleTicks: 4_000 });
        } catch (e) {
          if (e instanceof LivenessFailure) continue; // a broken variant may also stall; only safety counts
          if (!(e instanceof SafetyViolation)) throw e;
          caught = e;
        }
      }
      expect(caught, `${name} was not caught`).toBeInstanceOf(SafetyViolation);
      console.log(`${name}: ${caught?.message.slice(0, 200)}`);
    });
  }
});
