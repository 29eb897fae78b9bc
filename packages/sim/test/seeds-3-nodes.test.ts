// A fixed set of seeds on 3-node clusters: every safety invariant holds after every event,
// and every run recovers once the faults stop. A failure prints the seed and the command
// that replays it alone.

import { describe, expect, it } from "vitest";
import { failures } from "./helpers/seeds.js";

const CHUNK = 50;
const TIMEOUT_MS = 300_000;

describe("3-node clusters", () => {
  for (let first = 1; first <= 2001; first += CHUNK) {
    it(`holds every invariant for seeds ${first}..${first + CHUNK - 1} (mixed profile)`, () => {
      expect(failures({ nodes: 3 }, first, CHUNK)).toEqual([]);
    }, TIMEOUT_MS);
  }
  for (let first = 10001; first <= 10351; first += CHUNK) {
    it(`holds every invariant for seeds ${first}..${first + CHUNK - 1} (leader churn)`, () => {
      expect(failures({ nodes: 3, profile: "leaderChurn" }, first, CHUNK)).toEqual([]);
    }, TIMEOUT_MS);
  }
});
