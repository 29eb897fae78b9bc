// Model-based property test: random sequences of persist (appends at random valid
// positions, so also suffix replacements, hard state changes, installed snapshots),
// saveSnapshot, compact and close+reopen run against both implementations and against a
// plain model (an array of entries, a hard state, a snapshot). After every step the view,
// and after a reopen the recovered view, must equal the model. Steps are abstract choices
// resolved against the model, so every generated sequence is a valid Raft history.

import { asIndex, asNodeId, asTerm } from "@geolock/raft";
import type { ConfState, Entry, HardState, Snapshot } from "@geolock/raft";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DurableLog, MemoryDisk, MemoryDurableLog } from "../src/index.js";
import type { LogUpdate, NodeLog } from "../src/index.js";
import { bytes, IDENTITY, withTempDir } from "./helpers.js";

interface Model {
  offset: number;
  offsetTerm: number;
  entries: Entry[];
  hardState: HardState;
  snapshot: Snapshot;
}

type Step =
  | { kind: "append"; at: number; count: number; termBump: number; commitPick: number; seed: number }
  | { kind: "install"; ahead: number; agree: boolean; follow: number; seed: number }
  | { kind: "save"; pick: number; seed: number }
  | { kind: "compact"; pick: number; keepTail: number }
  | { kind: "reopen" };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("append" as const), at: fc.nat(1000), count: fc.integer({ min: 0, max: 4 }), termBump: fc.integer({ min: 0, max: 2 }), commitPick: fc.nat(1000), seed: fc.nat(1000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("install" as const), ahead: fc.integer({ min: 1, max: 4 }), agree: fc.boolean(), follow: fc.integer({ min: 0, max: 3 }), seed: fc.nat(1000) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("save" as const), pick: fc.nat(1000), seed: fc.nat(1000) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("compact" as const), pick: fc.nat(1000), keepTail: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 })) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "reopen" as const }) },
);

const CHUNK_BYTES = 16;

function lastIndex(model: Model): number {
  return model.offset + model.entries.length;
}

function termAt(model: Model, index: number): number {
  if (index === model.offset) return model.offsetTerm;
  const found = model.entries[index - model.offset - 1];
  if (found === undefined) throw new Error(`model: no entry at ${index}`);
  return found.term;
}

function confFor(seed: number): ConfState {
  const voters = [1, 2, 3].slice(0, 1 + (seed % 3)).map(asNodeId);
  return { voters, learners: seed % 2 === 0 ? [asNodeId(4)] : [] };
}

function newEntries(from: number, count: number, term: number, seed: number): Entry[] {
  const out: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const index = from + i;
    out.push({ index: asIndex(index), term: asTerm(term), kind: (seed + i) % 5 === 0 ? "confChange" : "normal", data: bytes((seed + i) % 23, seed + index) });
  }
  return out;
}

function appendToModel(model: Model, added: readonly Entry[]): void {
  const first = added[0];
  if (first === undefined) return;
  model.entries = model.entries.filter((e) => e.index < first.index).concat(added);
}

/** An append at a random position after the commit index, with a possible term and commit change. */
function planAppend(model: Model, step: Extract<Step, { kind: "append" }>): LogUpdate {
  const lo = Math.max(model.hardState.commit + 1, model.offset + 1);
  const hi = lastIndex(model) + 1;
  const start = lo + (step.at % (hi - lo + 1));
  const term = model.hardState.term + step.termBump || 1;
  const added = newEntries(start, step.count, term, step.seed);
  const newLast = step.count > 0 ? start + step.count - 1 : lastIndex(model);
  // Commit advances on half the appends only, so later appends still find a suffix to replace.
  const advance = step.commitPick % 2 === 0 ? 0 : step.commitPick % (newLast - model.hardState.commit + 1);
  const commit = model.hardState.commit + advance;
  const vote = term === model.hardState.term ? model.hardState.vote : asNodeId(step.seed % 4);
  const changed = term !== model.hardState.term || commit !== model.hardState.commit;
  const hardState = changed ? { term: asTerm(term), vote, commit: asIndex(commit) } : undefined;
  appendToModel(model, added);
  if (hardState !== undefined) model.hardState = hardState;
  return { entries: added, hardState };
}

/** A snapshot from the leader, either agreeing with the log at its index or not, with entries after it. */
function planInstall(model: Model, step: Extract<Step, { kind: "install" }>): LogUpdate {
  const lo = Math.max(model.snapshot.metadata.index, model.hardState.commit) + 1;
  const last = lastIndex(model);
  let index: number;
  let term: number;
  if (step.agree && lo <= last) {
    index = lo + (step.ahead % (last - lo + 1));
    term = termAt(model, index);
  } else {
    index = step.agree ? last + step.ahead : lo + step.ahead - 1;
    term = model.hardState.term + (step.agree ? 0 : 1) || 1;
  }
  const snapshot: Snapshot = { metadata: { index: asIndex(index), term: asTerm(term), confState: confFor(step.seed) }, data: bytes(step.seed % 50, step.seed) };
  const hsTerm = Math.max(model.hardState.term, term);
  const hardState: HardState = { term: asTerm(hsTerm), vote: hsTerm === model.hardState.term ? model.hardState.vote : asNodeId(0), commit: asIndex(index) };
  const agrees = index < last && index >= model.offset && termAt(model, index) === term;
  model.entries = agrees ? model.entries.filter((e) => e.index > index) : [];
  model.offset = index;
  model.offsetTerm = term;
  model.snapshot = snapshot;
  const follow = newEntries(index + 1, step.follow, hsTerm, step.seed);
  appendToModel(model, follow);
  model.hardState = hardState;
  return { snapshot, entries: follow, hardState };
}

async function runStep(log: NodeLog, model: Model, step: Step, reopen: () => Promise<NodeLog>): Promise<NodeLog> {
  switch (step.kind) {
    case "append":
      await log.persist(planAppend(model, step));
      return log;
    case "install":
      await log.persist(planInstall(model, step));
      return log;
    case "save": {
      const base = model.snapshot.metadata.index;
      const commit = model.hardState.commit;
      if (commit <= base) return log;
      const index = base + 1 + (step.pick % (commit - base));
      const snapshot: Snapshot = { metadata: { index: asIndex(index), term: asTerm(termAt(model, index)), confState: confFor(step.seed) }, data: bytes(step.seed % 60, step.seed) };
      await log.saveSnapshot(snapshot);
      model.snapshot = snapshot;
      return log;
    }
    case "compact": {
      // Mostly at or just below the snapshot index, where compaction actually moves the log start.
      const snapshotIndex = model.snapshot.metadata.index;
      const index = step.pick % 2 === 0 ? snapshotIndex : snapshotIndex - (step.pick % (snapshotIndex - model.offset + 1));
      await log.compact(asIndex(index), step.keepTail);
      const target = index - step.keepTail;
      if (target > model.offset) {
        model.offsetTerm = termAt(model, target);
        model.entries = model.entries.filter((e) => e.index > target);
        model.offset = target;
      }
      return log;
    }
    case "reopen":
      await log.close();
      return reopen();
  }
}

function expectMatches(log: NodeLog, model: Model): void {
  const view = log.view;
  expect(view.firstIndex()).toBe(model.offset + 1);
  expect(view.lastIndex()).toBe(lastIndex(model));
  expect(view.term(asIndex(model.offset))).toBe(model.offsetTerm);
  if (model.entries.length > 0) {
    expect(view.entries(view.firstIndex(), asIndex(view.lastIndex() + 1), Number.MAX_SAFE_INTEGER)).toEqual(model.entries);
  }
  expect(view.hardState()).toEqual(model.hardState);
  expect(view.snapshot().metadata).toEqual(model.snapshot.metadata);
  expect(view.snapshot().data).toEqual(model.snapshot.data);
  expect(view.initialState().confState).toEqual(model.snapshot.metadata.confState);
}

function freshModel(): Model {
  return {
    offset: 0,
    offsetTerm: 0,
    entries: [],
    hardState: { term: asTerm(0), vote: asNodeId(0), commit: asIndex(0) },
    snapshot: { metadata: { index: asIndex(0), term: asTerm(0), confState: confFor(2) }, data: new Uint8Array(0) },
  };
}

async function checkSequence(steps: readonly Step[], open: () => Promise<NodeLog>): Promise<void> {
  const model = freshModel();
  let log = await open();
  try {
    expectMatches(log, model);
    for (const step of steps) {
      log = await runStep(log, model, step, open);
      expectMatches(log, model);
    }
    await log.close();
    log = await open();
    expectMatches(log, model);
  } finally {
    await log.close();
  }
}

const options = { initialConfState: confFor(2), snapshotChunkBytes: CHUNK_BYTES };

describe("durable log against a model", () => {
  it("the in-memory twin's view and its recovery always equal the model", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 40, size: "large" }), async (steps) => {
        const disk = new MemoryDisk();
        await checkSequence(steps, () => MemoryDurableLog.open(disk, IDENTITY, options));
      }),
      { numRuns: 200 },
    );
  });

  it("the LevelDB log's view and its recovery always equal the model", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 25, size: "large" }), async (steps) => {
        await withTempDir((dir) => checkSequence(steps, () => DurableLog.open(dir, IDENTITY, options)));
      }),
      { numRuns: 25 },
    );
  }, 120_000);
});
