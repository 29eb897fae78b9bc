// Progress: the leader's view of one follower in probe, replicate and snapshot states.

import { describe, expect, it } from "vitest";
import { Progress } from "../src/progress.js";
import { asIndex, asTerm } from "../src/types.js";

const i = asIndex;

describe("Progress", () => {
  it("in probe state sends one append until an answer arrives", () => {
    const pr = new Progress(i(5), 4);
    expect(pr.isPaused()).toBe(false);
    pr.sentAppend(i(6));
    expect(pr.isPaused()).toBe(true);
    expect(pr.next).toBe(5);
    expect(pr.maybeUpdate(i(6))).toBe(true);
    expect(pr.isPaused()).toBe(false);
  });

  it("in replicate state moves next optimistically and pauses when the window is full", () => {
    const pr = new Progress(i(1), 2);
    pr.becomeReplicate();
    pr.sentAppend(i(3));
    expect(pr.next).toBe(4);
    pr.sentAppend(i(5));
    expect(pr.isPaused()).toBe(true);
    pr.maybeUpdate(i(3));
    pr.inflights.freeLE(3);
    expect(pr.isPaused()).toBe(false);
  });

  it("backtracks in probe state to the hint, never below match + 1, and ignores stale rejections", () => {
    const pr = new Progress(i(10), 4, i(2));
    expect(pr.maybeDecrTo(i(7), i(3))).toBe(false); // rejects an append we did not just send
    expect(pr.maybeDecrTo(i(9), i(5))).toBe(true);
    expect(pr.next).toBe(6);
    expect(pr.maybeDecrTo(i(5), i(0))).toBe(true);
    expect(pr.next).toBe(3);
  });

  it("in replicate state a rejection above match falls back to match + 1", () => {
    const pr = new Progress(i(1), 4);
    pr.maybeUpdate(i(4));
    pr.becomeReplicate();
    pr.sentAppend(i(9));
    expect(pr.maybeDecrTo(i(3), i(0))).toBe(false);
    expect(pr.maybeDecrTo(i(6), i(0))).toBe(true);
    expect(pr.next).toBe(5);
  });

  it("after a snapshot resumes probing right after the snapshot index", () => {
    const pr = new Progress(i(3), 4, i(1));
    pr.becomeSnapshot({ metadata: { index: i(20), term: asTerm(2), confState: { voters: [], learners: [] } }, data: new Uint8Array(100) });
    expect(pr.isPaused()).toBe(true);
    pr.becomeProbe();
    expect(pr.next).toBe(21);
    expect(pr.state).toBe("probe");
  });

  it("throws when match would not be below next", () => {
    expect(() => new Progress(i(3), 4, i(3))).toThrow(/0 <= match < next/);
  });
});
