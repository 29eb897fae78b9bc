// Proof that the simulator can fail. Each deliberately broken variant (test/helpers/
// broken.ts) must be caught within a small, fixed budget of seeds, by the invariant that
// its bug breaks. The seed that catches it replays exactly.

import { describe, expect, it } from "vitest";
import type { Invariant } from "../src/index.js";
import { commitsEarlierTerms, sendsBeforePersisting, votesForAnyLog } from "./helpers/broken.js";
import { STEPS, describeFailure, expectReplaysExactly, firstCaught } from "./helpers/seeds.js";
import type { RunOptions } from "./helpers/seeds.js";

// Measured catch rates (per seed) range from 15% (Figure 8 on 5 nodes) to 88%: with 80 seeds
// the chance that one goes uncaught by bad luck after the core changes is well below 1%.
const SEED_BUDGET = 80;
const TIMEOUT_MS = 300_000;
const SAFETY: readonly Invariant[] = ["electionSafety", "logMatching", "leaderCompleteness", "stateMachineSafety"];

function expectCaught(options: RunOptions, by: readonly Invariant[]): void {
  const caught = firstCaught(options, 1, SEED_BUDGET);
  expect(caught, `not caught by any of seeds 1..${SEED_BUDGET}`).toBeDefined();
  if (caught === undefined) return;
  console.log(`${options.nodes} nodes: ${describeFailure(caught, options)}`);
  expectReplaysExactly(caught, options);
  expect(by).toContain(caught.violation?.invariant);
}

describe("a leader that counts replicas of earlier terms' entries (Figure 8)", () => {
  // The rarest catch: it takes a chain of leader changes with divergent tails, so these
  // seeds run three times longer than the others.
  for (const nodes of [3, 5]) {
    it(`is caught on ${nodes} nodes`, () => {
      const options: RunOptions = { nodes, steps: 3 * STEPS, profile: "leaderChurn", createRaft: commitsEarlierTerms };
      expectCaught(options, ["leaderCompleteness", "stateMachineSafety"]);
    }, TIMEOUT_MS);
  }
});

describe("voters that grant votes without the up-to-date log check", () => {
  for (const nodes of [3, 5]) {
    it(`is caught on ${nodes} nodes`, () => {
      expectCaught({ nodes, createRaft: votesForAnyLog }, SAFETY);
    }, TIMEOUT_MS);
  }
});

describe("a driver that sends a Ready's messages before its writes are durable", () => {
  for (const nodes of [3, 5]) {
    // A lost acknowledgement often trips the core's own guard first ("commit beyond last
    // index: was the log lost?"); that is a caught failure too.
    it(`is caught on ${nodes} nodes`, () => {
      expectCaught({ nodes, createNode: sendsBeforePersisting }, [...SAFETY, "exception"]);
    }, TIMEOUT_MS);
  }

  it("is caught by a Raft safety invariant too, when the core's guard does not trip first", () => {
    const options: RunOptions = { nodes: 3, createNode: sendsBeforePersisting };
    const caught = firstCaught(options, 1, SEED_BUDGET, SAFETY);
    expect(caught, `no seed in 1..${SEED_BUDGET} broke a safety invariant`).toBeDefined();
    if (caught !== undefined) console.log(`3 nodes, safety only: ${describeFailure(caught, options)}`);
  }, TIMEOUT_MS);
});
