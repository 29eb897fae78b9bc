// Scenarios of the seeded simulation (simulation.ts): a calm network decides without
// NO_QUORUM; a region cut off from the majority refuses global locks with NO_QUORUM while the
// majority keeps granting; and three deliberately broken variants (broken.ts) are caught by
// the safety checks within the seed budget, proving the checks can fail.

import { describe, expect, it } from "vitest";
import { asRegionId } from "../../src/index.js";
import { BROKEN } from "./broken.js";
import { NO_FAULTS } from "./network.js";
import { SafetyViolation } from "./oracle.js";
import { DEFAULT_SIM, LivenessFailure, Simulation, simulate, THREE_REGIONS } from "./simulation.js";

const BROKEN_SEEDS_MAX = 40;

describe("paxos simulation scenarios", () => {
  it("decides in a calm network without a single NO_QUORUM", () => {
    for (const seed of [201, 202, 203]) {
      const report = simulate(seed, THREE_REGIONS, { faults: NO_FAULTS, crashRate: 0, partitionRate: 0 });
      expect(report.noQuorum).toBe(0);
      expect(report.grants).toBeGreaterThan(5);
      expect(report.chosen).toBeGreaterThan(30);
    }
  });

  it("lets a region that keeps using a key decide each command in one round trip to its nearest peer", () => {
    const usEast = asRegionId("us-east");
    const sim = new Simulation({ ...DEFAULT_SIM, seed: 401, regions: THREE_REGIONS, faults: NO_FAULTS, crashRate: 0, partitionRate: 0, keyCount: 1, clientsPerRegion: 1, clientRegions: [usEast] });
    sim.run();
    const [client] = sim.clients;
    const latencies = client?.latencyTicks.map((l) => l.ticks) ?? [];
    expect(latencies.length).toBeGreaterThan(10);
    // Only the very first command needed phase 1; every later one, phase 2 only: at least the
    // us-east <-> us-west round trip (2 x 30 ticks), at most that with jitter and local commits.
    const [first, ...rest] = latencies;
    expect(first).toBeGreaterThan(120);
    for (const ticks of rest) {
      expect(ticks).toBeGreaterThanOrEqual(60);
      expect(ticks).toBeLessThanOrEqual(100);
    }
    expect(sim.regions.get(usEast)?.proposerStats()).toMatchObject({ phase1Started: 1 });
    for (const region of sim.regions.values()) if (region.id !== usEast) expect(region.proposerStats()?.instancesDecided).toBe(0);
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
