// A fixed set of seeds on 5-node clusters: every safety invariant holds after every event,
// every run recovers once the faults stop, and the seeds did crash, partition and commit. A failure prints the seed and the command
// that replays it alone.

import { describe, it } from "vitest";
import { expectSeedsHold } from "./helpers/seeds.js";

const CHUNK = 50;
const TIMEOUT_MS = 300_000;

describe("5-node clusters", () => {
  for (let first = 1; first <= 1451; first += CHUNK) {
    it(`holds every invariant for seeds ${first}..${first + CHUNK - 1} (mixed profile)`, () => {
      expectSeedsHold({ nodes: 5 }, first, CHUNK);
    }, TIMEOUT_MS);
  }
  for (let first = 10001; first <= 10301; first += CHUNK) {
    it(`holds every invariant for seeds ${first}..${first + CHUNK - 1} (leader churn)`, () => {
      expectSeedsHold({ nodes: 5, profile: "leaderChurn" }, first, CHUNK);
    }, TIMEOUT_MS);
  }
});
