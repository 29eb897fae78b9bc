// The watch stream checker: each epoch of a watch (a status, then changes) must follow the
// history's grants in order, never invent one, never tell one before it was asked for, and
// never skip one between two it told. A new epoch may legitimately skip what happened while
// the watch was down.

import { describe, expect, it } from "vitest";
import { checkWatchStreams, historyFromEvents, type History, type HistoryEvent, type WatchRecord } from "@geolock/jepsen-lite";

const KEY = "us-east:k0";

/** Grants of KEY with these tokens, one process each, invoked at times 10, 20, 30, ... and answered 5 later. */
function grantsHistory(tokens: readonly number[], extra: readonly HistoryEvent[] = []): History {
  const events: HistoryEvent[] = [];
  tokens.forEach((token, i) => {
    events.push({ process: i, type: "invoke", f: "acquire", key: KEY, value: null, time: 10 * (i + 1) });
    events.push({ process: i, type: "ok", f: "acquire", key: KEY, value: { token }, time: 10 * (i + 1) + 5 });
  });
  events.push(...extra);
  events.sort((a, b) => a.time - b.time);
  const paired = historyFromEvents(events);
  if (!paired.ok) throw new Error(JSON.stringify(paired.error));
  return paired.value;
}

const status = (index: number, holderToken: number | null, time = 0, watcher = 0): WatchRecord => ({ watcher, key: KEY, time, type: "status", index, holderToken, floor: holderToken });
const acquired = (index: number, token: number, time = 1_000, watcher = 0): WatchRecord => ({ watcher, key: KEY, time, type: "acquired", index, token });
const released = (index: number, token: number, time = 1_000, watcher = 0): WatchRecord => ({ watcher, key: KEY, time, type: "released", index, token });

function kinds(history: History, records: readonly WatchRecord[]): string[] {
  return checkWatchStreams(history, records).anomalies.map((a) => a.kind);
}

describe("checkWatchStreams", () => {
  it("accepts a faithful stream, and a restart that skips what happened while the watch was down", () => {
    const history = grantsHistory([3, 7, 9, 12]);
    const records = [status(1, null), acquired(2, 3), released(4, 3), acquired(5, 7), status(10, 9), released(11, 9), acquired(12, 12), released(13, 12)];
    const report = checkWatchStreams(history, records);
    expect(report).toMatchObject({ valid: true, watchers: 1, epochs: 2, changes: 6, anomalies: [] });
  });

  it("flags a grant skipped between two grants of one epoch", () => {
    const history = grantsHistory([3, 7, 9]);
    const report = checkWatchStreams(history, [status(1, null), acquired(2, 3), released(3, 3), acquired(6, 9)]);
    expect(report.valid).toBe(false);
    expect(report.anomalies).toEqual([expect.objectContaining({ kind: "missed-grant", token: 7, key: KEY })]);
  });

  it("flags a grant told before any acquire of the lock that did not fail was invoked", () => {
    const failed: HistoryEvent[] = [
      { process: 8, type: "invoke", f: "acquire", key: KEY, value: { waitMs: 0 }, time: 1 },
      { process: 8, type: "fail", f: "acquire", key: KEY, value: null, time: 2, error: "HELD" },
    ];
    const history = grantsHistory([3], failed);
    expect(kinds(history, [status(1, null, 0), acquired(2, 5, 5)])).toEqual(["phantom-grant"]);
  });

  it("accepts a grant of a token no answer carried, once an acquire that did not fail was invoked", () => {
    // An acquire of unknown outcome, or an answered one whose client replaced a session it
    // believed lost (the old session's wait granted, then freed, before the answer's grant).
    const withUnknown = grantsHistory([3], [{ process: 9, type: "invoke", f: "acquire", key: KEY, value: null, time: 100 }, { process: 9, type: "info", f: "acquire", key: KEY, value: null, time: 200, error: "TIMEOUT" }]);
    expect(kinds(withUnknown, [status(1, null), acquired(2, 5, 150)])).toEqual([]);
    expect(kinds(grantsHistory([6]), [status(1, null), acquired(2, 5, 12), released(3, 5, 13), acquired(4, 6, 16)])).toEqual([]);
  });

  it("flags a grant told before its acquire was invoked", () => {
    const history = grantsHistory([3]);
    expect(kinds(history, [status(1, null, 0), acquired(2, 3, 9)])).toEqual(["grant-before-invoke"]);
    expect(kinds(history, [status(1, null, 0), acquired(2, 3, 10)])).toEqual([]);
  });

  it("flags a second holder, a release of a non-holder and a token that does not rise", () => {
    const history = grantsHistory([3, 7, 9]);
    expect(kinds(history, [status(1, null), acquired(2, 3), acquired(3, 7)])).toEqual(["acquired-while-held"]);
    expect(kinds(history, [status(1, null), acquired(2, 7), released(3, 3)])).toEqual(["released-non-holder"]);
    expect(kinds(history, [status(1, 7), released(2, 7), acquired(3, 3)])).toEqual(["token-not-increasing"]);
  });

  it("flags indexes that go back within an epoch, and a change before any status", () => {
    const history = grantsHistory([3, 7]);
    expect(kinds(history, [status(5, null), acquired(5, 3)])).toEqual(["out-of-order"]);
    expect(kinds(history, [status(1, null), acquired(4, 3), released(3, 3)])).toEqual(["out-of-order"]);
    expect(kinds(history, [acquired(2, 3)])).toEqual(["out-of-order"]);
  });

  it("lets changes of one log entry share its index: a release and the grant it hands on", () => {
    const history = grantsHistory([3, 7]);
    expect(kinds(history, [status(1, null), acquired(2, 3), released(4, 3), acquired(4, 7)])).toEqual([]);
  });

  it("keeps watchers apart: one watcher's epoch does not excuse or blame another's", () => {
    const history = grantsHistory([3, 7, 9]);
    const records = [status(1, null, 0, 0), status(1, null, 0, 1), acquired(2, 3, 1_000, 0), acquired(2, 3, 1_000, 1), released(3, 3, 1_000, 1), acquired(5, 7, 1_000, 1), released(4, 3, 1_000, 0), released(6, 7, 1_000, 1), acquired(7, 9, 1_000, 0)];
    const report = checkWatchStreams(history, records);
    expect(report.watchers).toBe(2);
    expect(report.anomalies).toEqual([expect.objectContaining({ kind: "missed-grant", watcher: 0, token: 7 })]);
  });
});
