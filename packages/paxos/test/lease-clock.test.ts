// When a region may propose expire: only after ttl x (1 + driftBound) + margin (+ stagger)
// since it learned the lease period, again from scratch after a renew, never for a free key,
// afresh from a new leader's clock, and again after retryMs if the last attempt failed.

import { describe, expect, it } from "vitest";
import { asFencingToken, LeaseClock, type HolderLease, type LeaseClockConfig, type RegionId } from "../src/index.js";
import { EU_WEST, KEY, REGIONS3, US_EAST, US_WEST } from "./harness.js";

const CONFIG: LeaseClockConfig = { driftBound: 0.1, marginMs: 50, retryMs: 500, staggerMs: 200 };

function lease(leaseVersion: number, region: RegionId = US_EAST, ttlMs = 1_000): HolderLease {
  return { holder: { region, clientId: "c", owner: "" }, token: asFencingToken(3), leaseVersion, ttlMs };
}

describe("lease clock", () => {
  it("proposes expire only once ttl x (1 + driftBound) + margin have passed since learning", () => {
    const clock = new LeaseClock(US_EAST, REGIONS3, CONFIG);
    clock.observe(KEY, lease(1), 10_000);
    expect(clock.due(10_000 + 1_149, 10)).toEqual([]);
    expect(clock.due(10_000 + 1_150, 10)).toEqual([{ key: KEY, command: { type: "expire", token: 3, leaseVersion: 1 } }]);
  });

  it("restarts the count when a renew raised the lease version, and proposes the new version", () => {
    const clock = new LeaseClock(US_EAST, REGIONS3, CONFIG);
    clock.observe(KEY, lease(1), 0);
    clock.observe(KEY, lease(1), 900); // re-observing the same period changes nothing
    clock.observe(KEY, lease(2), 1_000);
    expect(clock.due(1_150, 10)).toEqual([]);
    expect(clock.due(2_150, 10)).toMatchObject([{ command: { leaseVersion: 2 } }]);
  });

  it("forgets a key once it is free", () => {
    const clock = new LeaseClock(US_EAST, REGIONS3, CONFIG);
    clock.observe(KEY, lease(1), 0);
    clock.observe(KEY, null, 10);
    expect(clock.due(100_000, 10)).toEqual([]);
    expect(clock.size).toBe(0);
  });

  it("lets the holder's region go first and the others later, by distance in the region list", () => {
    const at = (self: RegionId): number | undefined => {
      const clock = new LeaseClock(self, REGIONS3, CONFIG);
      clock.observe(KEY, lease(1, US_WEST), 0);
      return clock.expireAtMs(KEY);
    };
    expect([at(US_WEST), at(EU_WEST), at(US_EAST)]).toEqual([1_150, 1_350, 1_550]);
  });

  it("starts every lease afresh from a new leader's clock", () => {
    const clock = new LeaseClock(US_EAST, REGIONS3, CONFIG);
    clock.observe(KEY, lease(1), 0);
    clock.reset([{ key: KEY, lease: lease(1) }], 5_000);
    expect(clock.due(5_000 + 1_149, 10)).toEqual([]);
    expect(clock.due(5_000 + 1_150, 10)).toHaveLength(1);
  });

  it("offers the same expire again only after retryMs", () => {
    const clock = new LeaseClock(US_EAST, REGIONS3, CONFIG);
    clock.observe(KEY, lease(1), 0);
    expect(clock.due(1_150, 10)).toHaveLength(1);
    expect(clock.due(1_649, 10)).toHaveLength(0);
    expect(clock.due(1_650, 10)).toHaveLength(1);
  });
});
