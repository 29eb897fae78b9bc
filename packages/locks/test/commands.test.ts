// validateCommand is the boundary between decoded bytes and typed commands: these tests
// feed it malformed values and check the typed refusal, and check that apply refuses the
// same values without changing any state.

import { describe, expect, it } from "vitest";
import { validateCommand, type LockCommand } from "../src/index.js";
import { Driver, TEST_CONFIG } from "./harness.js";

const acquire = { type: "acquire", nowMs: 5, clientId: "c1", seq: 1, sessionId: 3, name: "us-east:x", mode: "shared", waitMs: 0, owner: "" };

function codeOf(raw: unknown): string {
  const result = validateCommand(raw, TEST_CONFIG);
  return result.ok ? "ok" : result.error.code;
}

describe("validateCommand", () => {
  it("accepts each well-formed command and returns it typed", () => {
    const commands: LockCommand[] = [
      { type: "tick", nowMs: 0 },
      { type: "openSession", nowMs: 1, clientId: "c", seq: 0, ttlMs: 500 },
      { type: "keepAlive", nowMs: 1, clientId: "c", seq: 1, sessionId: 1 as never },
      { type: "closeSession", nowMs: 1, clientId: "c", seq: 2, sessionId: 1 as never },
      { type: "release", nowMs: 1, clientId: "c", seq: 3, sessionId: 1 as never, name: "n" },
    ];
    for (const command of [...commands, acquire]) expect(validateCommand(command, TEST_CONFIG)).toEqual({ ok: true, command });
  });

  it("refuses unknown types, missing and unknown fields, and values that are not plain objects", () => {
    expect(codeOf({ ...acquire, type: "steal" })).toBe("INVALID_ARGUMENT");
    const { owner: _owner, ...withoutOwner } = acquire;
    expect(codeOf(withoutOwner)).toBe("INVALID_ARGUMENT");
    expect(codeOf({ ...acquire, force: true })).toBe("INVALID_ARGUMENT");
    for (const raw of [undefined, null, 42, "acquire", [acquire], new Map(Object.entries(acquire))]) expect(codeOf(raw)).toBe("INVALID_ARGUMENT");
  });

  it("refuses numbers that are not non-negative safe integers in range", () => {
    for (const nowMs of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "5", 2 ** 51]) expect(codeOf({ ...acquire, nowMs })).toBe("INVALID_ARGUMENT");
    for (const waitMs of [-1, 3_600_001]) expect(codeOf({ ...acquire, waitMs })).toBe("INVALID_ARGUMENT");
    for (const sessionId of [0, -3, 2 ** 53]) expect(codeOf({ ...acquire, sessionId })).toBe("INVALID_ARGUMENT");
    expect(codeOf({ ...acquire, mode: "EXCLUSIVE" })).toBe("INVALID_ARGUMENT");
  });

  it("counts a name's length in UTF-8 bytes: 256 pass, 257 are INVALID_NAME", () => {
    expect(codeOf({ ...acquire, name: "a".repeat(256) })).toBe("ok");
    expect(codeOf({ ...acquire, name: "a".repeat(257) })).toBe("INVALID_NAME");
    expect(codeOf({ ...acquire, name: "é".repeat(128) })).toBe("ok");
    expect(codeOf({ ...acquire, name: `${"é".repeat(128)}a` })).toBe("INVALID_NAME");
    expect(codeOf({ ...acquire, name: "😀".repeat(64) })).toBe("ok");
    expect(codeOf({ ...acquire, name: "😀".repeat(65) })).toBe("INVALID_NAME");
  });

  it("refuses empty names, lone surrogates and control characters as INVALID_NAME", () => {
    for (const name of ["", "a\uD800", "\uDC00b", "line\nbreak", "nul\u0000", "c1\u0085", 7]) expect(codeOf({ ...acquire, name })).toBe("INVALID_NAME");
  });

  it("bounds the owner label and the client id", () => {
    expect(codeOf({ ...acquire, owner: "o".repeat(256) })).toBe("ok");
    expect(codeOf({ ...acquire, owner: "o".repeat(257) })).toBe("INVALID_ARGUMENT");
    expect(codeOf({ ...acquire, clientId: "" })).toBe("INVALID_ARGUMENT");
    expect(codeOf({ ...acquire, clientId: "c".repeat(129) })).toBe("INVALID_ARGUMENT");
  });

  it("keeps refusal messages short even for huge inputs", () => {
    const result = validateCommand({ ...acquire, ["x".repeat(100_000)]: 1 }, TEST_CONFIG);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message.length).toBeLessThan(200);
  });
});

describe("apply of a malformed command", () => {
  it("answers the refusal and changes neither locks, sessions, clock, term nor dedup table", () => {
    const d = new Driver();
    const s = d.open("c1");
    d.acquire("c1", s, "x");
    const before = d.machine.snapshot();
    d.newLeader(9_999_999);
    for (const raw of [{ ...acquire, sessionId: s, nowMs: d.nowMs, name: "" }, { type: "tick" }, { type: "tick", nowMs: -1 }, "garbage", undefined]) {
      const result = d.applyRaw(raw);
      expect(result.answer.type).toBe("error");
      expect(result.events).toEqual([]);
    }
    expect({ ...d.machine.snapshot(), appliedIndex: before.appliedIndex }).toEqual(before);
  });
});
