// The mutual exclusion checker: critical sections run from a granted acquire's completion
// to the same process's next release invoke, and exclusive ones must not overlap.

import { describe, expect, it } from "vitest";
import { checkMutualExclusion, criticalSections, historyFromEvents, type History, type HistoryEvent } from "@geolock/jepsen-lite";

function history(script: readonly (readonly [number, HistoryEvent["type"], string, string, unknown])[]): History {
  const events = script.map(([process, type, f, key, value], i) => ({ process, type, f, key, value, time: i }) as HistoryEvent);
  const paired = historyFromEvents(events);
  if (!paired.ok) throw new Error(JSON.stringify(paired.error));
  return paired.value;
}

function overlaps(h: History): number {
  const report = checkMutualExclusion(h);
  if (!report.ok) throw new Error(JSON.stringify(report.error));
  return report.value.anomalies.length;
}

describe("checkMutualExclusion", () => {
  it("flags two exclusive holders at once", () => {
    const h = history([
      [0, "invoke", "acquire", "a", null],
      [0, "ok", "acquire", "a", { token: 1 }],
      [1, "invoke", "acquire", "a", null],
      [1, "ok", "acquire", "a", { token: 2 }],
      [0, "invoke", "release", "a", { token: 1 }],
      [0, "ok", "release", "a", null],
    ]);
    const report = checkMutualExclusion(h);
    expect(report.ok && report.value.anomalies[0]).toMatchObject({ key: "a", first: { process: 0, end: "release" }, second: { process: 1, end: "end-of-history" } });
  });

  it("does not blame a grant that overlaps only the previous holder's release in flight", () => {
    const h = history([
      [0, "invoke", "acquire", "a", null],
      [0, "ok", "acquire", "a", { token: 1 }],
      [1, "invoke", "acquire", "a", null],
      [0, "invoke", "release", "a", { token: 1 }],
      [1, "ok", "acquire", "a", { token: 2 }],
      [0, "ok", "release", "a", null],
    ]);
    expect(overlaps(h)).toBe(0);
  });

  it("lets shared holders overlap each other but not an exclusive holder", () => {
    const shared = { mode: "shared" };
    const h = history([
      [0, "invoke", "acquire", "a", shared],
      [0, "ok", "acquire", "a", { token: 1 }],
      [1, "invoke", "acquire", "a", shared],
      [1, "ok", "acquire", "a", { token: 2 }],
      [2, "invoke", "acquire", "a", null],
      [2, "ok", "acquire", "a", { token: 3 }],
    ]);
    const report = checkMutualExclusion(h);
    expect(report.ok && report.value.anomalies.map((a) => [a.first.process, a.second.process])).toEqual([
      [0, 2],
      [1, 2],
    ]);
  });

  it("ends a crashed holder's section at the invoke of its last, unknown operation", () => {
    const h = history([
      [0, "invoke", "acquire", "a", null],
      [0, "ok", "acquire", "a", { token: 1 }],
      [0, "invoke", "write", "a", { token: 1 }],
      [0, "info", "write", "a", null],
      [1, "invoke", "acquire", "a", null],
      [1, "ok", "acquire", "a", { token: 2 }],
    ]);
    const sections = criticalSections(h);
    expect(sections.ok && sections.value.map((s) => [s.process, s.end, s.endIndex])).toEqual([
      [0, "crash", 2],
      [1, "end-of-history", 6],
    ]);
    expect(overlaps(h)).toBe(0);
  });
});
