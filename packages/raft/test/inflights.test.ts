// Inflights: the bounded window of unacknowledged appends. Checked against a plain array
// model with random operations, plus the edge cases by name.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Inflights } from "../src/inflights.js";

describe("Inflights", () => {
  it("holds at most its capacity and refuses to add beyond it", () => {
    const w = new Inflights(3);
    w.add(1);
    w.add(2);
    w.add(5);
    expect(w.full()).toBe(true);
    expect(() => w.add(6)).toThrow(/full/);
  });

  it("refuses indexes that do not increase", () => {
    const w = new Inflights(3);
    w.add(4);
    expect(() => w.add(4)).toThrow(/does not exceed/);
  });

  it("frees every message up to an acknowledged index, and one on a heartbeat answer", () => {
    const w = new Inflights(4);
    for (const i of [2, 4, 6, 8]) w.add(i);
    w.freeLE(5);
    expect(w.size).toBe(2);
    w.freeFirstOne();
    expect(w.size).toBe(1);
    w.add(9);
    w.add(10);
    w.add(11);
    expect(w.full()).toBe(true);
  });

  it("behaves like a queue of increasing indexes (property)", () => {
    const op = fc.oneof(fc.record({ add: fc.integer({ min: 1, max: 5 }) }), fc.record({ free: fc.integer({ min: 0, max: 60 }) }), fc.constant({ one: true }));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(op, { maxLength: 80 }), (capacity, ops) => {
        const w = new Inflights(capacity);
        let model: number[] = [];
        let last = 0;
        for (const o of ops) {
          if ("add" in o) {
            if (model.length === capacity) continue;
            last += o.add;
            w.add(last);
            model.push(last);
          } else if ("free" in o) {
            w.freeLE(o.free);
            model = model.filter((i) => i > o.free);
          } else {
            w.freeFirstOne();
            model = model.slice(1);
          }
          expect(w.size).toBe(model.length);
          expect(w.full()).toBe(model.length === capacity);
        }
      }),
    );
  });
});
