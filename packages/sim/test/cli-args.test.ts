// The simulator's command line: defaults, every option, and refusals of what it cannot run.

import { describe, expect, it } from "vitest";
import { parseArgs } from "../src/cli-args.js";

describe("parseArgs", () => {
  it("has defaults", () => {
    expect(parseArgs([])).toEqual({ nodes: 3, seeds: 100, start: 1, steps: 5000, profile: "mixed", verbose: false });
  });

  it("reads every option", () => {
    const args = parseArgs(["--nodes", "5", "--seeds", "1000", "--start", "7000", "--steps", "2000", "--profile", "leaderChurn", "--verbose"]);
    expect(args).toEqual({ nodes: 5, seeds: 1000, start: 7000, steps: 2000, profile: "leaderChurn", verbose: true });
  });

  it("refuses unknown options, bad numbers, unknown profiles and cluster sizes it cannot run", () => {
    expect(() => parseArgs(["--seed", "1"])).toThrow(/bad argument --seed 1/);
    expect(() => parseArgs(["--steps", "-3"])).toThrow(/bad argument --steps -3/);
    expect(() => parseArgs(["--start", "1.5"])).toThrow(/bad argument/);
    expect(() => parseArgs(["--profile", "chaos"])).toThrow(/--profile chaos/);
    expect(() => parseArgs(["--nodes", "12"])).toThrow(/--nodes must be 1..9/);
  });
});
