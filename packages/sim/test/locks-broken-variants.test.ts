// Proof that the lock checks can fail. Each deliberately broken lock application
// (test/helpers/broken-locks.ts) must be caught within a fixed budget of seeds, by the lock
// invariant its bug breaks, and the seed that catches it replays exactly.

import { describe, expect, it } from "vitest";
import type { Invariant } from "../src/index.js";
import { grantsOverHolders, grantsToExpiredWaiter, reusesTokens } from "./helpers/broken-locks.js";
import { describeFailure, expectReplaysExactly, firstCaught } from "./helpers/seeds.js";
import type { RunOptions } from "./helpers/seeds.js";

const SEED_BUDGET = 60;
const TIMEOUT_MS = 120_000;

function expectCaught(options: RunOptions, by: Invariant): void {
  const caught = firstCaught(options, 1, SEED_BUDGET, [by]);
  expect(caught, `not caught as ${by} by any of seeds 1..${SEED_BUDGET}`).toBeDefined();
  if (caught === undefined) return;
  console.log(`${options.nodes} nodes: ${describeFailure(caught, options)}`);
  expectReplaysExactly(caught, options);
}

describe("a lock application that grants a try-lock over the current holders", () => {
  for (const nodes of [3, 5]) {
    it(`is caught as a mutual exclusion violation on ${nodes} nodes`, () => {
      expectCaught({ nodes, app: "locks", createApp: grantsOverHolders }, "lockMutualExclusion");
    }, TIMEOUT_MS);
  }
});

describe("a lock application whose fencing tokens do not advance", () => {
  for (const nodes of [3, 5]) {
    it(`is caught as a fencing violation on ${nodes} nodes`, () => {
      expectCaught({ nodes, app: "locks", createApp: reusesTokens }, "lockFencing");
    }, TIMEOUT_MS);
  }
});

describe("a lock application that grants a wait to a session that has just expired", () => {
  for (const nodes of [3, 5]) {
    it(`is caught as a session liveness violation on ${nodes} nodes`, () => {
      expectCaught({ nodes, app: "locks", createApp: grantsToExpiredWaiter }, "lockSessionLiveness");
    }, TIMEOUT_MS);
  }
});
