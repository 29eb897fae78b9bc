// Tests the log-bucket latency histogram: bucket arithmetic (every value lands in a bucket
// that contains it, within 1/64 relative width), quantiles on known distributions, merge.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bucketLowMicros, bucketOf, Histogram, HISTOGRAM_MAX_MICROS } from "../src/histogram.js";

describe("bucket arithmetic", () => {
  it("keeps every value below 128 µs in its own bucket", () => {
    for (let v = 0; v < 128; v++) {
      expect(bucketOf(v)).toBe(v);
      expect(bucketLowMicros(v)).toBe(v);
    }
  });

  it("puts every value in a bucket that contains it and is at most 1/64 of it wide", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: HISTOGRAM_MAX_MICROS }), (v) => {
        const b = bucketOf(v);
        const low = bucketLowMicros(b);
        const next = bucketLowMicros(b + 1);
        expect(low).toBeLessThanOrEqual(v);
        expect(next).toBeGreaterThan(v);
        expect(next - low).toBeLessThanOrEqual(Math.max(1, v / 64));
      }),
    );
  });

  it("orders buckets like the values", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: HISTOGRAM_MAX_MICROS }), fc.integer({ min: 0, max: HISTOGRAM_MAX_MICROS }), (a, b) => {
        if (a <= b) expect(bucketOf(a)).toBeLessThanOrEqual(bucketOf(b));
      }),
    );
  });
});

describe("Histogram", () => {
  it("reports quantiles of 1..1000 ms within the bucket precision", () => {
    const h = new Histogram();
    for (let ms = 1; ms <= 1000; ms++) h.recordMs(ms);
    expect(h.count).toBe(1000);
    expect(h.quantileMs(0.5)).toBeCloseTo(500, -1);
    expect(Math.abs(h.quantileMs(0.5) - 500) / 500).toBeLessThan(1 / 64);
    expect(Math.abs(h.quantileMs(0.99) - 990) / 990).toBeLessThan(1 / 64);
    expect(h.quantileMs(1)).toBe(1000);
    expect(h.maxMs).toBe(1000);
    expect(h.minMs).toBe(1);
    expect(h.meanMs).toBeCloseTo(500.5, 6);
  });

  it("reports the exact value when all values are equal", () => {
    const h = new Histogram();
    for (let i = 0; i < 10; i++) h.recordMs(12.345);
    expect(h.quantileMs(0.5)).toBe(12.345);
    expect(h.quantileMs(0.999)).toBe(12.345);
  });

  it("clamps negative and huge values instead of failing", () => {
    const h = new Histogram();
    h.recordMicros(-5);
    h.recordMicros(Number.MAX_SAFE_INTEGER);
    expect(h.minMs).toBe(0);
    expect(h.maxMs).toBe(HISTOGRAM_MAX_MICROS / 1000);
  });

  it("answers 0 when empty and rejects quantiles outside (0, 1]", () => {
    const h = new Histogram();
    expect(h.quantileMs(0.5)).toBe(0);
    expect(() => h.quantileMs(0)).toThrow(/quantile/);
    expect(() => h.quantileMs(1.5)).toThrow(/quantile/);
  });

  it("merges to the same summary as recording everything in one", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 10_000_000 }), { maxLength: 200 }), fc.array(fc.integer({ min: 0, max: 10_000_000 }), { minLength: 1, maxLength: 200 }), (xs, ys) => {
        const a = new Histogram();
        const b = new Histogram();
        const all = new Histogram();
        for (const x of xs) { a.recordMicros(x); all.recordMicros(x); }
        for (const y of ys) { b.recordMicros(y); all.recordMicros(y); }
        a.merge(b);
        expect(a.count).toBe(all.count);
        for (const q of [0.5, 0.9, 0.99, 1]) expect(a.quantileMs(q)).toBe(all.quantileMs(q));
        expect(a.minMs).toBe(all.minMs);
      }),
    );
  });

  it("forgets everything on reset", () => {
    const h = new Histogram();
    h.recordMs(3);
    h.reset();
    expect(h.count).toBe(0);
    expect(h.maxMs).toBe(0);
    h.recordMs(1);
    expect(h.quantileMs(1)).toBe(1);
  });
});
