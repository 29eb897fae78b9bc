// The fencing checker: stale tokens accepted by a resource and grants whose tokens do not
// increase, judged by real-time order so that concurrent operations are never blamed.

import { describe, expect, it } from "vitest";
import { checkFencing, historyFromEvents, type History, type HistoryEvent } from "@geolock/jepsen-lite";

function history(script: readonly (readonly [number, HistoryEvent["type"], string, string, unknown])[]): History {
  const events = script.map(([process, type, f, key, value], i) => ({ process, type, f, key, value, time: i }) as HistoryEvent);
  const paired = historyFromEvents(events);
  if (!paired.ok) throw new Error(JSON.stringify(paired.error));
  return paired.value;
}

function kinds(h: History): string[] {
  const report = checkFencing(h);
  if (!report.ok) throw new Error(JSON.stringify(report.error));
  return report.value.anomalies.map((a) => a.kind);
}

describe("checkFencing", () => {
  it("flags a write accepted with a token below one accepted before it began", () => {
    const h = history([
      [0, "invoke", "write", "db", { token: 5 }],
      [0, "ok", "write", "db", null],
      [1, "invoke", "write", "db", { token: 4 }],
      [1, "ok", "write", "db", null],
    ]);
    const report = checkFencing(h);
    expect(report.ok && report.value.anomalies[0]).toMatchObject({ kind: "stale-token-accepted", token: 4, earlierToken: 5, key: "db" });
  });

  it("does not blame concurrent writes, rejected writes, or tokens of another lock", () => {
    const h = history([
      [0, "invoke", "write", "db", { token: 5 }],
      [1, "invoke", "write", "db", { token: 4 }],
      [0, "ok", "write", "db", null],
      [1, "ok", "write", "db", null],
      [1, "invoke", "write", "db", { token: 3 }],
      [1, "fail", "write", "db", null],
      [1, "invoke", "write", "db", { token: 1, lock: "other" }],
      [1, "ok", "write", "db", null],
    ]);
    expect(kinds(h)).toEqual([]);
  });

  it("accepts repeated writes with the same token from one holder", () => {
    const h = history([
      [0, "invoke", "write", "db", { token: 5 }],
      [0, "ok", "write", "db", null],
      [0, "invoke", "write", "db", { token: 5 }],
      [0, "ok", "write", "db", null],
    ]);
    expect(kinds(h)).toEqual([]);
  });

  it("flags a grant whose token is not above an earlier grant, and two concurrent grants with one token", () => {
    const h = history([
      [0, "invoke", "acquire", "a", null],
      [0, "ok", "acquire", "a", { token: 2 }],
      [1, "invoke", "acquire", "a", null],
      [1, "ok", "acquire", "a", { token: 2 }],
      [2, "invoke", "acquire", "b", null],
      [3, "invoke", "acquire", "b", null],
      [2, "ok", "acquire", "b", { token: 7 }],
      [3, "ok", "acquire", "b", { token: 7 }],
    ]);
    expect(kinds(h)).toEqual(["token-not-increasing", "duplicate-token"]);
  });

  it("accepts the holder's grant given back to it (same session, same token), and nothing else like it", () => {
    const regrant = history([
      [0, "invoke", "acquire", "a", null],
      [0, "ok", "acquire", "a", { token: 2, session: "g/c1" }],
      [1, "invoke", "acquire", "a", null],
      [1, "ok", "acquire", "a", { token: 2, session: "g/c1" }],
    ]);
    expect(kinds(regrant)).toEqual([]);
    const other = history([
      [0, "invoke", "acquire", "a", null],
      [0, "ok", "acquire", "a", { token: 2, session: "g/c1" }],
      [1, "invoke", "acquire", "a", null],
      [1, "ok", "acquire", "a", { token: 2, session: "g/c2" }],
      [2, "invoke", "acquire", "a", null],
      [2, "ok", "acquire", "a", { token: 1, session: "g/c1" }],
    ]);
    expect(kinds(other)).toEqual(["token-not-increasing", "token-not-increasing"]);
  });

  it("refuses a write without a token", () => {
    const report = checkFencing(history([[0, "invoke", "write", "db", { tokn: 1 }], [0, "ok", "write", "db", null]]));
    expect(report.ok ? [] : report.error).toEqual([{ line: 1, message: expect.stringMatching(/fenced write/) }]);
  });
});
