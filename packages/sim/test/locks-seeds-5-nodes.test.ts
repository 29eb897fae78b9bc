// A fixed set of seeds on 5-node clusters running the lock state machine: after every
// applied entry, on every replica, mutual exclusion, fencing, session liveness under the
// leader's clock, replica agreement and the machine's own invariants hold, together with
// every Raft check; after healing, a fresh acquire of a free name is granted. The runs
// must also have exercised what those checks are about.

import { describe, expect, it } from "vitest";
import { runLockSeeds } from "./helpers/lock-seeds.js";

const CHUNK = 30;
const SEEDS = 120;
const TIMEOUT_MS = 120_000;

describe("5-node clusters running the lock application", () => {
  const totals: Record<string, number> = {};
  for (let first = 1; first <= SEEDS; first += CHUNK) {
    it(`holds every lock and Raft invariant for seeds ${first}..${first + CHUNK - 1}`, () => {
      const report = runLockSeeds({ nodes: 5 }, first, CHUNK);
      expect(report.failures).toEqual([]);
      for (const [key, value] of Object.entries(report.totals)) totals[key] = (totals[key] ?? 0) + value;
    }, TIMEOUT_MS);
  }

  it("exercised grants after waits, wait timeouts, expiries of holders, closes and leader changes", () => {
    console.log(`5 nodes, ${SEEDS} seeds: ${JSON.stringify(totals)}`);
    for (const key of ["grantedAtOnce", "grantedAfterWait", "refusedHeld", "waitsTimedOut", "expiredHolding", "sessionsClosed"]) {
      expect(totals[`lock.${key}`] ?? 0, key).toBeGreaterThan(SEEDS / 5);
    }
    expect(totals["lock.rebases"] ?? 0).toBeGreaterThan(SEEDS * 2);
  });
});
