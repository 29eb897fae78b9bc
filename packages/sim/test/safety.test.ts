// Each safety check fails when its property is broken: the checker is fed hand-made
// observations (a second leader in a term, a commit index going back, a vote rewritten
// within a term, different entries applied at one index, a stale read, a leader missing a
// committed entry) and must throw an InvariantViolation naming the property and the state.

import { describe, expect, it } from "vitest";
import { asIndex, asNodeId, asTerm } from "@geolock/raft";
import type { HardState } from "@geolock/raft";
import { SafetyChecker } from "../src/index.js";
import { entry, harness } from "./helpers/node-harness.js";

function setup(): { checker: SafetyChecker; a: ReturnType<typeof harness>["node"]; b: ReturnType<typeof harness>["node"] } {
  const checker = new SafetyChecker({ entriesMax: 1000, pendingReadsMax: 4 });
  const a = harness(1, checker).node;
  const b = harness(2, checker).node;
  checker.started(a);
  checker.started(b);
  return { checker, a, b };
}

const hard = (term: number, vote: number, commit: number): HardState => ({ term: asTerm(term), vote: asNodeId(vote), commit: asIndex(commit) });

describe("SafetyChecker", () => {
  it("allows one leader per term and catches a second", () => {
    const { checker, a, b } = setup();
    checker.afterEvent(a, { term: 3, commit: 0, role: "leader" });
    checker.afterEvent(a, { term: 3, commit: 0, role: "leader" });
    checker.afterEvent(b, { term: 4, commit: 0, role: "leader" });
    expect(() => checker.afterEvent(b, { term: 3, commit: 0, role: "leader" })).toThrow(/electionSafety: term 3 has two leaders: node\/lifetime 1\/0 and 2\/0/);
  });

  it("catches a commit index that goes back within a lifetime", () => {
    const { checker, a } = setup();
    checker.chains.append(a.id, [entry(1, 1), entry(2, 1)]);
    checker.afterEvent(a, { term: 1, commit: 2, role: "follower" });
    expect(() => checker.afterEvent(a, { term: 1, commit: 1, role: "follower" })).toThrow(/commitMonotonic: node 1 commit goes back from 2 to 1/);
  });

  it("catches durable state going back: term, vote within a term, commit", () => {
    const { checker, a } = setup();
    const write = (h: HardState) => ({ hardState: h, entries: [] });
    expect(() => checker.beforeDurable(a, write(hard(2, 1, 0)), hard(3, 1, 0))).toThrow(/durableStateMonotonic: term goes back/);
    expect(() => checker.beforeDurable(a, write(hard(3, 2, 0)), hard(3, 1, 0))).toThrow(/vote changes within a term: node 1 durable hard state t3\/v1\/c0 -> t3\/v2\/c0/);
    expect(() => checker.beforeDurable(a, write(hard(3, 1, 4)), hard(3, 1, 5))).toThrow(/commit goes back/);
    checker.beforeDurable(a, write(hard(3, 1, 5)), hard(3, 0, 5));
    checker.beforeDurable(a, write(hard(4, 2, 5)), hard(3, 1, 5));
  });

  it("catches two nodes applying different entries at one index", () => {
    const { checker, a, b } = setup();
    checker.applied(a, entry(1, 1, "x"));
    checker.applied(b, entry(1, 1, "x"));
    expect(() => checker.applied(b, entry(1, 2, "y"))).toThrow(/stateMachineSafety: node 2 applies 1@2/);
  });

  it("catches snapshots of one index that differ", () => {
    const { checker, a, b } = setup();
    checker.snapshotTaken(a, asIndex(5), new Uint8Array([1, 2]));
    expect(() => checker.snapshotTaken(b, asIndex(5), new Uint8Array([1, 3]))).toThrow(/stateMachineSafety: node 2 takes a snapshot at 5/);
  });

  it("catches a read served below what was committed when it began", () => {
    const { checker, a } = setup();
    checker.chains.append(a.id, [entry(1, 1), entry(2, 1)]);
    checker.afterEvent(a, { term: 1, commit: 2, role: "follower" });
    const context = new Uint8Array([7]);
    checker.readBegun(context);
    expect(() => checker.readState(a, { index: asIndex(1), context })).toThrow(/readIndexSafety: node 1 serves read 07 at index 1, but 2 was committed/);
  });

  it("catches a leader of a later term without an entry committed before it", () => {
    const { checker, a, b } = setup();
    checker.chains.append(a.id, [entry(1, 1), entry(2, 1)]);
    checker.afterEvent(a, { term: 1, commit: 2, role: "leader" });
    checker.chains.append(b.id, [entry(1, 1)]);
    expect(() => checker.afterEvent(b, { term: 2, commit: 0, role: "leader" })).toThrow(
      /leaderCompleteness: node 2 leads term 2 without committed entry 2@1: its log ends at 1/,
    );
  });

  it("does not require a leader to hold what was committed only in its own term or later", () => {
    const { checker, a, b } = setup();
    checker.chains.append(a.id, [entry(1, 1), entry(2, 3)]);
    checker.afterEvent(a, { term: 3, commit: 2, role: "leader" });
    checker.chains.append(b.id, [entry(1, 1)]);
    // A stale vote grant may still make b leader of term 2 after term 3 committed entry 2.
    checker.afterEvent(b, { term: 2, commit: 0, role: "leader" });
  });
});
