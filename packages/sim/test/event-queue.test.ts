// The event queue orders by virtual time and breaks ties by insertion order, which is what
// makes two runs of one seed execute the same events in the same order.

import { describe, expect, it } from "vitest";
import { SeededRng } from "@geolock/raft";
import { EventQueue, VirtualClock } from "../src/index.js";

describe("EventQueue", () => {
  it("pops events in order of virtual time", () => {
    const queue = new EventQueue<string>(10);
    queue.push(30, "c");
    queue.push(10, "a");
    queue.push(20, "b");
    expect([queue.pop()?.event, queue.pop()?.event, queue.pop()?.event, queue.pop()]).toEqual(["a", "b", "c", undefined]);
  });

  it("runs events due at the same time in the order they were scheduled", () => {
    const queue = new EventQueue<number>(100);
    for (let i = 0; i < 50; i++) queue.push(5, i);
    const order: number[] = [];
    for (let item = queue.pop(); item !== undefined; item = queue.pop()) order.push(item.event);
    expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it("agrees with a stable sort on (time, sequence) for random schedules", () => {
    const rng = new SeededRng(42);
    const queue = new EventQueue<number>(1000);
    const pushed: { at: number; id: number }[] = [];
    for (let id = 0; id < 500; id++) {
      const at = rng.nextInt(40);
      queue.push(at, id);
      pushed.push({ at, id });
    }
    const expected = [...pushed].sort((a, b) => a.at - b.at || a.id - b.id).map((p) => p.id);
    const popped: number[] = [];
    for (let item = queue.pop(); item !== undefined; item = queue.pop()) popped.push(item.event);
    expect(popped).toEqual(expected);
  });

  it("refuses more events than its bound", () => {
    const queue = new EventQueue<number>(2);
    queue.push(1, 1);
    queue.push(1, 2);
    expect(() => queue.push(1, 3)).toThrow(/more than 2 pending events/);
  });

  it("refuses a negative or fractional time", () => {
    const queue = new EventQueue<number>(2);
    expect(() => queue.push(-1, 1)).toThrow(/bad time/);
    expect(() => queue.push(1.5, 1)).toThrow(/bad time/);
  });
});

describe("VirtualClock", () => {
  it("only moves forward", () => {
    const clock = new VirtualClock();
    clock.advanceTo(10);
    clock.advanceTo(10);
    expect(clock.nowUs()).toBe(10);
    expect(() => clock.advanceTo(9)).toThrow(/cannot go back from 10us to 9us/);
  });
});
