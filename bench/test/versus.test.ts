// The paired ratio of the versus suite: repeat i of geolock against repeat i of etcd, so a
// machine that slows down during a pair does not pit one system's fast phase against the
// other's slow one, as a ratio of two medians can.
import { describe, expect, it } from "vitest";
import { pairedRatio } from "../src/suites/versus.js";

const ops = (run: { readonly opsPerSecond: number }): number => run.opsPerSecond;
const runs = (...values: number[]): { opsPerSecond: number }[] => values.map((opsPerSecond) => ({ opsPerSecond }));

describe("pairedRatio", () => {
  it("takes the median of the repeat-by-repeat ratios, not the ratio of the medians", () => {
    // The machine halves its speed after the first two repeats, for both systems alike.
    const geolock = runs(10_000, 10_000, 5_000, 5_000, 5_000);
    const etcd = runs(1_000, 1_000, 500, 500, 500);
    expect(pairedRatio(geolock, etcd, ops)).toBe(10);
    // Drift inside each pair moves the medians apart: 8,000 / 600 is not what any pair saw.
    const drifting = runs(8_000, 9_000, 8_000, 4_000, 3_000);
    const beside = runs(900, 600, 1_000, 500, 300);
    expect(pairedRatio(drifting, beside, ops)).toBe(8.89);
  });

  it("averages the two middle ratios of an even count, and pairs only the repeats both have", () => {
    expect(pairedRatio(runs(4, 6, 10, 12), runs(1, 1, 1, 1), ops)).toBe(8);
    expect(pairedRatio(runs(4, 6, 10), runs(2, 2), ops)).toBe(2.5);
    expect(pairedRatio(runs(), runs(1), ops)).toBeUndefined();
  });

  it("leaves out a pair whose baseline repeat completed nothing, rather than reporting Infinity", () => {
    expect(pairedRatio(runs(10, 20, 30), runs(0, 2, 3), ops)).toBe(10);
    expect(pairedRatio(runs(10), runs(0), ops)).toBeUndefined();
  });
});
