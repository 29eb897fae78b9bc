// The simulated disk: a write becomes durable only when its fsync completes; a crash before
// that loses it, and the durable storage keeps exactly what was completed before.

import { describe, expect, it } from "vitest";
import { SeededRng, asIndex, asNodeId, asTerm } from "@geolock/raft";
import type { Entry } from "@geolock/raft";
import { SimDisk } from "../src/index.js";
import type { DiskConfig } from "../src/index.js";

const DISK: DiskConfig = { fsyncMsMin: 0.1, fsyncMsMax: 2, slowFsyncProbability: 0.1, slowFsyncMsMax: 50 };
const CONF = { voters: [asNodeId(1), asNodeId(2), asNodeId(3)], learners: [] };

function entry(index: number, term: number, text = ""): Entry {
  return { index: asIndex(index), term: asTerm(term), kind: "normal", data: new TextEncoder().encode(text) };
}

describe("SimDisk", () => {
  it("makes a write durable only when it completes", () => {
    const disk = new SimDisk(CONF, DISK, new SeededRng(1));
    disk.begin({ hardState: { term: asTerm(2), vote: asNodeId(1), commit: asIndex(0) }, entries: [entry(1, 2)] });
    expect(disk.storage.lastIndex()).toBe(0);
    expect(disk.storage.hardState().term).toBe(0);
    disk.complete();
    expect(disk.storage.lastIndex()).toBe(1);
    expect(disk.storage.hardState()).toEqual({ term: 2, vote: 1, commit: 0 });
  });

  it("loses an unsynced write on a crash and keeps what was synced", () => {
    const disk = new SimDisk(CONF, DISK, new SeededRng(1));
    disk.begin({ hardState: { term: asTerm(1), vote: asNodeId(2), commit: asIndex(0) }, entries: [entry(1, 1, "a")] });
    disk.complete();
    disk.begin({ hardState: { term: asTerm(2), vote: asNodeId(3), commit: asIndex(1) }, entries: [entry(2, 2, "b")] });
    expect(disk.crash()).toBe(true);
    expect(disk.hasPending()).toBe(false);
    expect(disk.storage.hardState()).toEqual({ term: 1, vote: 2, commit: 0 });
    expect(disk.storage.lastIndex()).toBe(1);
    expect(disk.counters()).toEqual({ writes: 1, lostWrites: 1 });
  });

  it("allows one write in flight at a time", () => {
    const disk = new SimDisk(CONF, DISK, new SeededRng(1));
    disk.begin({ entries: [entry(1, 1)] });
    expect(() => disk.begin({ entries: [entry(2, 1)] })).toThrow(/already pending \(entries 1\.\.1\)/);
  });

  it("draws fsync latencies within bounds, with a slow tail, from its seed", () => {
    const draw = (seed: number): number[] => {
      const disk = new SimDisk(CONF, DISK, new SeededRng(seed));
      return Array.from({ length: 300 }, () => disk.sampleFsyncUs());
    };
    const latencies = draw(5);
    expect(Math.min(...latencies)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...latencies)).toBeLessThanOrEqual(50_000);
    expect(latencies.some((l) => l > 2000)).toBe(true);
    expect(draw(5)).toEqual(latencies);
  });
});
