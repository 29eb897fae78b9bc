// The simulator's command line: its arguments, and what it prints: every failing seed with
// the command that replays it, and exactly one closing line "seeds: N, violations: V".

import { describe, expect, it } from "vitest";
import { parseArgs, runCli } from "../src/index.js";
import { votesForAnyLog } from "./helpers/broken.js";

function run(argv: string[], broken = false): { status: number; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const status = runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) }, broken ? votesForAnyLog : undefined);
  return { status, out, err };
}

describe("parseArgs", () => {
  it("has defaults", () => {
    expect(parseArgs([])).toEqual({ nodes: 3, seeds: 100, start: 1, steps: 5000, profile: "mixed", app: "kv", verbose: false });
  });

  it("reads every option", () => {
    const args = parseArgs(["--nodes", "5", "--seeds", "1000", "--start", "7000", "--steps", "2000", "--profile", "leaderChurn", "--app", "locks", "--verbose"]);
    expect(args).toEqual({ nodes: 5, seeds: 1000, start: 7000, steps: 2000, profile: "leaderChurn", app: "locks", verbose: true });
  });

  it("refuses unknown options, bad numbers, unknown profiles and cluster sizes it cannot run", () => {
    expect(() => parseArgs(["--seed", "1"])).toThrow(/bad argument --seed 1/);
    expect(() => parseArgs(["--steps", "-3"])).toThrow(/bad argument --steps -3/);
    expect(() => parseArgs(["--start", "1.5"])).toThrow(/bad argument/);
    expect(() => parseArgs(["--profile", "chaos"])).toThrow(/--profile chaos/);
    expect(() => parseArgs(["--app", "paxos"])).toThrow(/--app paxos/);
    expect(() => parseArgs(["--nodes", "12"])).toThrow(/--nodes must be 1..9/);
  });
});

describe("runCli", () => {
  it("ends with one summary line and exits 0 when every seed holds", () => {
    const { status, out } = run(["--nodes", "3", "--seeds", "2", "--start", "40", "--steps", "500"]);
    expect(status).toBe(0);
    expect(out).toEqual(["seeds: 2, violations: 0"]);
  });

  it("prints a failing seed, its violation and the command that replays it, and exits 1", () => {
    const { status, out } = run(["--nodes", "3", "--seeds", "3", "--start", "1", "--steps", "5000"], true);
    expect(status).toBe(1);
    const last = out.at(-1) ?? "";
    expect(last).toMatch(/^seeds: 3, violations: [1-3]$/);
    expect(out.filter((l) => l.startsWith("seeds:"))).toHaveLength(1);
    expect(out.some((l) => /^seed \d+ FAILED: leaderCompleteness at step \d+/.test(l))).toBe(true);
    expect(out.some((l) => /replay: npm run sim -- --nodes 3 --seeds 1 --start \d+ --steps 5000 --verbose$/.test(l))).toBe(true);
  });

  it("runs the lock application with --app locks", () => {
    const { status, out } = run(["--app", "locks", "--nodes", "3", "--seeds", "2", "--start", "40", "--steps", "500"]);
    expect(status).toBe(0);
    expect(out).toEqual(["seeds: 2, violations: 0"]);
  });

  it("exits 2 on bad arguments, with the usage", () => {
    const { status, out, err } = run(["--nodes"]);
    expect(status).toBe(2);
    expect(out).toEqual([]);
    expect(err.join("\n")).toMatch(/usage: sim/);
  });
});
