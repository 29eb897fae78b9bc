// The nodes' monotonic clocks that stamp lock commands: each runs at its node's rate, and
// a restart starts a new reading near the base, as a new server process would.

import { SeededRng } from "@geolock/raft";
import { describe, expect, it } from "vitest";
import { NodeClocks } from "../src/index.js";

describe("NodeClocks", () => {
  it("runs each node's clock at its own rate from its start", () => {
    const clocks = new NodeClocks([1, 1.02], new SeededRng(7));
    clocks.restart(1, 0);
    clocks.restart(2, 0);
    const base1 = clocks.nowMs(1, 0);
    const base2 = clocks.nowMs(2, 0);
    expect(clocks.nowMs(1, 10_000_000) - base1).toBe(10_000);
    expect(clocks.nowMs(2, 10_000_000) - base2).toBe(10_200);
  });

  it("starts a restarted node's clock over, so that it may read lower than before", () => {
    const clocks = new NodeClocks([1], new SeededRng(7));
    clocks.restart(1, 0);
    const before = clocks.nowMs(1, 60_000_000);
    clocks.restart(1, 60_000_000);
    const after = clocks.nowMs(1, 60_000_000);
    expect(after).toBeLessThan(before - 50_000);
    expect(clocks.nowMs(1, 60_500_000) - after).toBe(500);
  });
});
