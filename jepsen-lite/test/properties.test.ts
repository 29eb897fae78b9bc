// Properties over generated histories. Each history comes from a real sequential execution
// with random real-time overlap and crashes (src/generate.ts), so it must be accepted; a
// value changed to one no execution could produce must be rejected. fast-check prints the
// generator options (the seed) of any failure.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  casRegisterModel,
  checkFencing,
  checkLinearizability,
  checkMutualExclusion,
  formatHistory,
  generateLockHistory,
  generateRegisterHistory,
  historyFromEvents,
  lockModel,
  parseHistory,
  type GenerateOptions,
  type History,
  type HistoryEvent,
  type JsonValue,
} from "@geolock/jepsen-lite";

const options: fc.Arbitrary<GenerateOptions> = fc.record({
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  operations: fc.integer({ min: 1, max: 150 }),
  processes: fc.integer({ min: 1, max: 6 }),
  keys: fc.integer({ min: 1, max: 3 }),
  crashPercent: fc.integer({ min: 0, max: 10 }),
});

function history(events: readonly HistoryEvent[]): History {
  const paired = historyFromEvents(events);
  if (!paired.ok) throw new Error(`generated history is malformed: ${JSON.stringify(paired.error)}`);
  return paired.value;
}

/** A copy of the events with one completion's value replaced. */
function withValue(events: readonly HistoryEvent[], index: number, value: JsonValue): HistoryEvent[] {
  const copy = events.slice();
  copy[index] = { ...(events[index] as HistoryEvent), value };
  return copy;
}

function completionsOf(events: readonly HistoryEvent[], f: string): number[] {
  return events.flatMap((e, i) => (e.type === "ok" && e.f === f ? [i] : []));
}

describe("generated cas-register histories", () => {
  it("are always linearizable", () => {
    fc.assert(
      fc.property(options, (o) => {
        const report = checkLinearizability(history(generateRegisterHistory(o)), casRegisterModel);
        expect(report.ok && report.value.linearizable).toBe(true);
      }),
    );
  });

  it("are rejected once a read returns a value that was never written", () => {
    fc.assert(
      fc.property(options, fc.nat(), (o, pick) => {
        const events = generateRegisterHistory(o);
        const reads = completionsOf(events, "read");
        fc.pre(reads.length > 0);
        const mutated = withValue(events, reads[pick % reads.length] as number, "never written");
        const report = checkLinearizability(history(mutated), casRegisterModel);
        expect(report.ok && report.value.linearizable).toBe(false);
      }),
    );
  });

  it("read back identically after formatting and parsing", () => {
    fc.assert(
      fc.property(options, (o) => {
        const events = generateRegisterHistory(o);
        const parsed = parseHistory(formatHistory(events));
        expect(parsed.ok && parsed.value.events).toEqual(events);
      }),
      { numRuns: 20 },
    );
  });
});

describe("generated lock histories", () => {
  it("are linearizable, fenced and mutually exclusive", () => {
    fc.assert(
      fc.property(options, (o) => {
        const h = history(generateLockHistory(o));
        const report = checkLinearizability(h, lockModel);
        const fencing = checkFencing(h);
        const exclusion = checkMutualExclusion(h);
        expect(report.ok && report.value.linearizable).toBe(true);
        expect(fencing.ok && fencing.value.anomalies).toEqual([]);
        expect(exclusion.ok && exclusion.value.anomalies).toEqual([]);
      }),
    );
  });

  it("are rejected once a status names a session that never asked for the lock", () => {
    fc.assert(
      fc.property(options, fc.nat(), (o, pick) => {
        const events = generateLockHistory(o);
        const statuses = completionsOf(events, "status");
        fc.pre(statuses.length > 0);
        const mutated = withValue(events, statuses[pick % statuses.length] as number, { holder: "ghost", token: 1 });
        const report = checkLinearizability(history(mutated), lockModel);
        expect(report.ok && report.value.linearizable).toBe(false);
      }),
    );
  });

  it("are rejected once a grant's token goes back below a grant that completed before it began", () => {
    fc.assert(
      fc.property(options, (o) => {
        const events = generateLockHistory(o);
        const h = history(events);
        const grants = h.operations.filter((op) => op.f === "acquire" && op.outcome === "ok");
        const later = grants.find((g) => grants.some((e) => e.key === g.key && (e.completeIndex as number) < g.invokeIndex));
        fc.pre(later !== undefined);
        const mutated = history(withValue(events, later?.completeIndex as number, { token: 0, session: `s${later?.process}` }));
        const report = checkLinearizability(mutated, lockModel);
        const fencing = checkFencing(mutated);
        expect(report.ok && report.value.linearizable).toBe(false);
        expect(fencing.ok && fencing.value.anomalies.map((a) => a.kind)).toContain("token-not-increasing");
      }),
    );
  });
});
