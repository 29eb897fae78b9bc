// The simulated network: seeded loss, duplication and delay, and partitions (isolate, split,
// bridge) that cut links both ways, including for messages already in flight.

import { describe, expect, it } from "vitest";
import { SeededRng, asNodeId } from "@geolock/raft";
import type { NodeId } from "@geolock/raft";
import { SimNetwork } from "../src/index.js";
import type { NetworkConfig } from "../src/index.js";

const CLEAN: NetworkConfig = {
  dropProbability: 0,
  duplicateProbability: 0,
  delayMsMin: 1,
  delayMsMax: 5,
  longTailProbability: 0,
  longTailMsMax: 100,
  inFlightMessagesMax: 1000,
};
const [n1, n2, n3, n4, n5] = [1, 2, 3, 4, 5].map(asNodeId) as [NodeId, NodeId, NodeId, NodeId, NodeId];
const ALL = [n1, n2, n3, n4, n5];

function links(network: SimNetwork): string[] {
  const out: string[] = [];
  for (const a of ALL) for (const b of ALL) if (a !== b && network.connected(a, b)) out.push(`${a}${b}`);
  return out;
}

describe("SimNetwork partitions", () => {
  it("isolates one node from all others, in both directions", () => {
    const network = new SimNetwork(CLEAN, new SeededRng(1));
    network.applyPartition({ kind: "isolate", left: [n1], right: [n2, n3, n4, n5] });
    expect(links(network).filter((l) => l.includes("1"))).toEqual([]);
    expect(network.connected(n2, n5)).toBe(true);
  });

  it("splits a minority from a majority", () => {
    const network = new SimNetwork(CLEAN, new SeededRng(1));
    network.applyPartition({ kind: "split", left: [n1, n2], right: [n3, n4, n5] });
    expect(links(network)).toEqual(["12", "21", "34", "35", "43", "45", "53", "54"]);
  });

  it("bridges: the bridge node sees both sides, the sides do not see each other", () => {
    const network = new SimNetwork(CLEAN, new SeededRng(1));
    network.applyPartition({ kind: "bridge", left: [n2], right: [n3], bridge: n1 });
    expect(network.connected(n1, n2) && network.connected(n2, n1)).toBe(true);
    expect(network.connected(n1, n3) && network.connected(n3, n1)).toBe(true);
    expect(network.connected(n2, n3) || network.connected(n3, n2)).toBe(false);
  });

  it("heals every link, and a new partition replaces the previous one", () => {
    const network = new SimNetwork(CLEAN, new SeededRng(1));
    network.applyPartition({ kind: "isolate", left: [n1], right: [n2, n3, n4, n5] });
    network.applyPartition({ kind: "isolate", left: [n2], right: [n1, n3, n4, n5] });
    expect(network.connected(n1, n3)).toBe(true);
    expect(network.connected(n2, n3)).toBe(false);
    network.heal();
    expect(links(network)).toHaveLength(20);
    expect(network.currentPartition()).toBeUndefined();
  });

  it("drops at send time across a cut, and swallows a message already in flight when the link is cut", () => {
    const network = new SimNetwork(CLEAN, new SeededRng(1));
    const inFlight = network.send(n1, n2);
    expect(inFlight.sent).toBe(true);
    network.applyPartition({ kind: "isolate", left: [n1], right: [n2, n3, n4, n5] });
    expect(network.send(n1, n2)).toEqual({ sent: false, reason: "partitioned" });
    expect(network.arrive(n1, n2)).toBe(false);
  });

  it("rejects a node on both sides", () => {
    const network = new SimNetwork(CLEAN, new SeededRng(1));
    expect(() => network.applyPartition({ kind: "split", left: [n1, n2], right: [n2, n3] })).toThrow(/both sides/);
  });
});

describe("SimNetwork faults", () => {
  it("keeps delays within bounds and draws them from its seed", () => {
    const draw = (seed: number): number[] => {
      const network = new SimNetwork({ ...CLEAN, longTailProbability: 0.1 }, new SeededRng(seed));
      return Array.from({ length: 200 }, () => {
        const outcome = network.send(n1, n2);
        if (!outcome.sent) throw new Error("a clean network lost a message");
        return outcome.delaysUs[0] as number;
      });
    };
    const delays = draw(7);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(100_000);
    expect(delays.some((d) => d > 5000)).toBe(true);
    expect(draw(7)).toEqual(delays);
    expect(draw(8)).not.toEqual(delays);
  });

  it("loses and duplicates messages at about the configured rates", () => {
    const network = new SimNetwork({ ...CLEAN, dropProbability: 0.2, duplicateProbability: 0.3 }, new SeededRng(3));
    let lost = 0;
    let duplicated = 0;
    for (let i = 0; i < 2000; i++) {
      const outcome = network.send(n1, n2);
      if (!outcome.sent) lost += 1;
      else {
        if (outcome.delaysUs.length === 2) duplicated += 1;
        for (let k = 0; k < outcome.delaysUs.length; k++) network.arrive(n1, n2);
      }
    }
    expect(lost).toBeGreaterThan(300);
    expect(lost).toBeLessThan(500);
    expect(duplicated).toBeGreaterThan(350);
    expect(duplicated).toBeLessThan(600);
  });

  it("drops what would exceed its in-flight bound", () => {
    const network = new SimNetwork({ ...CLEAN, inFlightMessagesMax: 2 }, new SeededRng(1));
    network.send(n1, n2);
    network.send(n1, n2);
    expect(network.send(n1, n2)).toEqual({ sent: false, reason: "overflow" });
    network.arrive(n1, n2);
    expect(network.send(n1, n2).sent).toBe(true);
  });
});
