// Ballots: the total order (round, region, epoch) that lets a later proposer supersede an
// earlier one, and the epoch that keeps two incarnations of one region's proposer apart.

import { describe, expect, it } from "vitest";
import { ballot, ballotEquals, ballotGreater, compareBallots, maxBallot, ZERO_BALLOT } from "../src/index.js";

describe("ballots", () => {
  it("order by round first, whatever the region", () => {
    expect(ballotGreater(ballot(2, "a", 0), ballot(1, "z", 9))).toBe(true);
    expect(ballotGreater(ballot(1, "z", 9), ballot(2, "a", 0))).toBe(false);
  });

  it("break a tie of rounds by region, then by epoch", () => {
    expect(compareBallots(ballot(3, "eu-west", 1), ballot(3, "us-east", 1))).toBeLessThan(0);
    expect(compareBallots(ballot(3, "us-east", 2), ballot(3, "us-east", 1))).toBeGreaterThan(0);
  });

  it("give two incarnations of one region's proposer different ballots for the same round", () => {
    expect(ballotEquals(ballot(1, "us-east", 4), ballot(1, "us-east", 5))).toBe(false);
  });

  it("put ZERO_BALLOT below every real ballot", () => {
    for (const b of [ballot(1, "a", 0), ballot(1, "us-east", 0), ballot(7, "b", 3)]) {
      expect(ballotGreater(b, ZERO_BALLOT)).toBe(true);
      expect(maxBallot(ZERO_BALLOT, b)).toBe(b);
    }
  });

  it("refuse a round below 1 or an empty region", () => {
    expect(() => ballot(0, "a", 0)).toThrow(/round/);
    expect(() => ballot(1, "", 0)).toThrow(/region/);
  });
});
