// The composed simulation of issue #5 (src/global/): 3 regions x 3 Raft nodes, Paxos
// between the regions, WAN delays, region partitions, node crashes/restarts/isolation and
// concurrent clients; every invariant is checked as it happens, then liveness after healing.
// The seed set is sized to about 20 CPU seconds.

import { describe, expect, it } from "vitest";
import { runGlobalSimulation } from "../src/global/global-sim.js";
import type { GlobalSimOptions, GlobalSimResult } from "../src/global/global-sim.js";

const SEEDS = Array.from({ length: 30 }, (_, i) => 1 + i);

function options(seed: number, extra: Partial<GlobalSimOptions> = {}): GlobalSimOptions {
  return { seed, faultMs: 15_000, livenessMs: 20_000, clientsPerRegion: seed % 3 === 0 ? 3 : 2, stepsMax: 2_000_000, ...extra };
}

function describeRun(r: GlobalSimResult): string {
  return `seed ${r.seed}: ${r.violation ?? "ok"} ${JSON.stringify(r.stats)}`;
}

describe("global simulation: 3 regions x 3 Raft nodes under Paxos", () => {
  const totals: Record<string, number> = {};

  it.each(SEEDS)("seed %i keeps every invariant and completes a fresh acquire after healing", (seed) => {
    const result = runGlobalSimulation(options(seed));
    expect(result.violation, describeRun(result)).toBeUndefined();
    expect(result.probeGranted).toBe(true);
    for (const [k, v] of Object.entries(result.stats)) totals[k] = (totals[k] ?? 0) + v;
  });

  it("exercised what it claims to: choices, grants, contention, crashes, partitions, snapshots", () => {
    for (const name of ["chosen", "grants", "client_held", "client_renewed", "client_released", "crashes", "restarts", "regionPartitions", "nodeIsolations", "snapshotsRestored", "learned", "expired", "installKeyApplied"]) {
      expect(totals[name] ?? 0, name).toBeGreaterThan(0);
    }
    // Leadership changed inside regions (3 proposers at start, one per region).
    expect(totals["proposers"] ?? 0).toBeGreaterThan(3 * SEEDS.length);
    console.log(`global sim totals over ${SEEDS.length} seeds: ${JSON.stringify(totals)}`);
  });

  it("replays a seed exactly", () => {
    const a = runGlobalSimulation(options(7, { faultMs: 3_000 }));
    const b = runGlobalSimulation(options(7, { faultMs: 3_000 }));
    const c = runGlobalSimulation(options(8, { faultMs: 3_000 }));
    expect(b.traceHash).toBe(a.traceHash);
    expect(b.stats).toEqual(a.stats);
    expect(c.traceHash).not.toBe(a.traceHash);
  });

  it("catches a lease clock that expires a vanished holder too early", () => {
    let caught = 0;
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const result = runGlobalSimulation(options(seed, { broken: "expireEarly" }));
      if (result.violation !== undefined) {
        expect(result.violation).toMatch(/believes it holds/);
        caught++;
      }
    }
    expect(caught).toBeGreaterThan(0);
  });

  it("catches a driver that sends a promise before the region committed the prepare", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const result = runGlobalSimulation(options(seed, { broken: "promiseBeforeCommit" }));
      expect(result.violation, `seed ${seed}`).toMatch(/promise went back|two values chosen|learns/);
    }
  });
});
