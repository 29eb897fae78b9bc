// The history parser: decode, validate, pair. Every malformed input is refused with the
// line it is on; well-formed input pairs each invoke with its process's completion.

import { describe, expect, it } from "vitest";
import { formatEvent, formatHistory, historyFromEvents, parseHistory, type HistoryEvent } from "@geolock/jepsen-lite";

const line = (fields: Record<string, unknown>): string => JSON.stringify({ process: 0, type: "invoke", f: "read", key: "x", value: null, time: 1, ...fields });

function errorsOf(text: string): { line: number; message: string }[] {
  const parsed = parseHistory(text);
  if (parsed.ok) throw new Error("expected the history to be refused");
  return parsed.error;
}

describe("parseHistory", () => {
  it("pairs invokes with completions and keeps values, errors and line numbers", () => {
    const text = [
      line({ process: 0, f: "write", value: 1, time: 10 }),
      line({ process: 1, time: 11 }),
      "",
      line({ process: 1, type: "ok", value: 1, time: 12 }),
      line({ process: 0, type: "fail", f: "write", value: null, time: 13, error: "NO_QUORUM" }),
    ].join("\n");
    const parsed = parseHistory(text);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
    const [write, read] = parsed.value.operations;
    expect(write).toMatchObject({ id: 0, process: 0, f: "write", invokeValue: 1, outcome: "fail", error: "NO_QUORUM", invokeLine: 1, completeLine: 5 });
    expect(read).toMatchObject({ id: 1, process: 1, outcome: "ok", resultValue: 1, invokeIndex: 1, completeIndex: 2, invokeLine: 2, completeLine: 4 });
  });

  it("counts an operation still open at the end as info", () => {
    const parsed = parseHistory(line({}));
    expect(parsed.ok && parsed.value.operations[0]).toMatchObject({ outcome: "info", completeIndex: null, completeLine: null });
  });

  it.each([
    ["text that is not JSON", "{oops", /not JSON/],
    ["a missing field", JSON.stringify({ process: 0, type: "invoke", f: "read", key: "x", value: null }), /time must be/],
    ["an unknown field", line({ tokn: 1 }), /unknown field "tokn"/],
    ["an unknown type", line({ type: "done" }), /type must be one of/],
    ["a negative process", line({ process: -1 }), /process must be/],
    ["a fractional time", line({ time: 1.5 }), /time must be/],
    ["an error on an invoke", line({ error: "TIMEOUT" }), /only on a completion/],
    ["an empty f", line({ f: "" }), /f must be/],
  ])("refuses %s", (_what, text, message) => {
    const [error] = errorsOf(text);
    expect(error?.line).toBe(1);
    expect(error?.message).toMatch(message);
  });

  it("refuses time going backwards", () => {
    const [error] = errorsOf([line({ time: 5 }), line({ process: 1, time: 4 })].join("\n"));
    expect(error).toEqual({ line: 2, message: expect.stringMatching(/real-time order/) });
  });

  it("refuses a second invoke while a process's operation is open", () => {
    const [error] = errorsOf([line({}), line({ time: 2 })].join("\n"));
    expect(error).toEqual({ line: 2, message: expect.stringMatching(/still open/) });
  });

  it("refuses a completion with no open operation", () => {
    const [error] = errorsOf(line({ type: "ok" }));
    expect(error?.message).toMatch(/no open operation/);
  });

  it("refuses a completion whose f or key differs from its invoke", () => {
    const [error] = errorsOf([line({}), line({ type: "ok", key: "y", time: 2 })].join("\n"));
    expect(error).toEqual({ line: 2, message: expect.stringMatching(/does not match the invoke/) });
  });

  it("refuses a process reused after an info completion", () => {
    const [error] = errorsOf([line({}), line({ type: "info", time: 2 }), line({ time: 3 })].join("\n"));
    expect(error).toEqual({ line: 3, message: expect.stringMatching(/reused after its info completion on line 2/) });
  });

  it("stops after a bounded number of errors", () => {
    const text = Array.from({ length: 100 }, () => "nonsense").join("\n");
    expect(errorsOf(text)).toHaveLength(20);
  });
});

describe("formatHistory", () => {
  it("writes one line per event that parses back to the same events", () => {
    const events: HistoryEvent[] = [
      { process: 2, type: "invoke", f: "cas", key: "k", value: [1, { a: [true] }], time: 0 },
      { process: 2, type: "info", f: "cas", key: "k", value: null, time: 7, error: "TIMEOUT" },
    ];
    const text = formatHistory(events);
    expect(text.split("\n")).toHaveLength(3);
    const parsed = parseHistory(text);
    expect(parsed.ok && parsed.value.events).toEqual(events);
  });

  it("refuses to write an invalid event", () => {
    expect(() => formatEvent({ process: 1.5, type: "invoke", f: "read", key: "x", value: null, time: 0 })).toThrow(/process must be/);
  });

  it("validates events handed over directly as strictly as text", () => {
    const result = historyFromEvents([{ process: 0, type: "ok", f: "read", key: "x", value: 1, time: 0 }]);
    expect(result.ok ? [] : result.error).toEqual([{ line: 1, message: expect.stringMatching(/no open operation/) }]);
  });
});
