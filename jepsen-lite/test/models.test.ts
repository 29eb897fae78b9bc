// The sequential specifications, step by step: what each operation may do to each state.

import { describe, expect, it } from "vitest";
import { casRegisterModel, lockModel, parseHistory, type LockState, type Operation } from "@geolock/jepsen-lite";

/** Builds one operation from an invoke value and a completion. */
function op(f: string, invokeValue: unknown, type: "ok" | "fail" | "info", resultValue: unknown = null): Operation {
  const text = [
    JSON.stringify({ process: 0, type: "invoke", f, key: "k", value: invokeValue, time: 0 }),
    JSON.stringify({ process: 0, type, f, key: "k", value: resultValue, time: 1 }),
  ].join("\n");
  const parsed = parseHistory(text);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
  return parsed.value.operations[0] as Operation;
}

function decoded<I>(model: { decode(o: Operation): { ok: true; value: { role: string; input: I } } | { ok: false; error: string } }, o: Operation): { role: string; input: I } {
  const d = model.decode(o);
  if (!d.ok) throw new Error(d.error);
  return d.value;
}

describe("cas-register model", () => {
  const step = (state: string | null, o: Operation): string | null | undefined => casRegisterModel.step(state, decoded(casRegisterModel, o).input);

  it("reads what was last written, unset as null", () => {
    expect(step(null, op("read", null, "ok", null))).toBe(null);
    expect(step("1", op("read", null, "ok", 1))).toBe("1");
    expect(step("1", op("read", null, "ok", 2))).toBeUndefined();
  });

  it("compares values as canonical JSON, whatever the key order", () => {
    const state = step(null, op("write", { a: 1, b: 2 }, "ok"));
    expect(step(state as string, op("read", null, "ok", { b: 2, a: 1 }))).toBe(state);
  });

  it("swaps on an ok cas only from the expected value; a failed cas saw another value", () => {
    expect(step("1", op("cas", [1, 2], "ok"))).toBe("2");
    expect(step("3", op("cas", [1, 2], "ok"))).toBeUndefined();
    expect(step("3", op("cas", [1, 2], "fail"))).toBe("3");
    expect(step("1", op("cas", [1, 2], "fail"))).toBeUndefined();
  });

  it("lets an unknown cas swap where it matches and change nothing elsewhere", () => {
    expect(step("1", op("cas", [1, 2], "info"))).toBe("2");
    expect(step("3", op("cas", [1, 2], "info"))).toBe("3");
  });

  it("places ok operations, may place info ones, and skips failed writes and lost reads", () => {
    expect(decoded(casRegisterModel, op("write", 1, "ok")).role).toBe("required");
    expect(decoded(casRegisterModel, op("write", 1, "info")).role).toBe("optional");
    expect(decoded(casRegisterModel, op("write", 1, "fail")).role).toBe("skip");
    expect(decoded(casRegisterModel, op("read", null, "info")).role).toBe("skip");
    expect(decoded(casRegisterModel, op("cas", [1, 2], "fail")).role).toBe("required");
  });

  it.each([
    ["a write of null", op("write", null, "ok")],
    ["a cas without a pair", op("cas", 1, "ok")],
    ["a read invoked with a value", op("read", 1, "ok", 1)],
    ["an unknown function", op("increment", 1, "ok")],
  ])("refuses %s", (_what, o) => {
    expect(casRegisterModel.decode(o).ok).toBe(false);
  });
});

describe("lock model", () => {
  const free: LockState = { holder: null, floor: 0 };
  const step = (state: LockState | undefined, o: Operation): LockState | undefined =>
    state === undefined ? undefined : lockModel.step(state, decoded(lockModel, o).input);
  const grant = (token: number, session = "s1"): Operation => op("acquire", { session }, "ok", { token, session });

  it("grants a free lock with a token at or above the floor, and raises the floor past it", () => {
    expect(step(free, grant(4))).toEqual({ holder: { session: "s1", token: 4, minToken: 4 }, floor: 5 });
  });

  it("refuses a second grant while held, and a token that goes back", () => {
    const held = step(free, grant(4));
    expect(step(held, grant(5, "s2"))).toBeUndefined();
    const released = step(held, op("release", { session: "s1", token: 4 }, "ok"));
    expect(released).toEqual({ holder: null, floor: 5 });
    expect(step(released, grant(4, "s2"))).toBeUndefined();
    expect(step(released, grant(9, "s2"))?.holder?.token).toBe(9);
  });

  it("lets the holder ask again and get its grant back, the same token, and nobody else", () => {
    const held = step(free, grant(4));
    expect(step(held, grant(4))).toEqual(held);
    expect(step(held, grant(4, "s2"))).toBeUndefined();
    expect(step(held, grant(5))).toBeUndefined();
    // An unknown grant to s1 that a second answer to s1 reveals.
    const unknown = step(free, op("acquire", { session: "s1" }, "info"));
    expect(step(unknown, grant(6))).toEqual({ holder: { session: "s1", token: 6, minToken: 6 }, floor: 7 });
  });

  it("refuses a release of a grant that is not the holder's", () => {
    const held = step(free, grant(4));
    expect(step(held, op("release", { token: 3 }, "ok"))).toBeUndefined();
    expect(step(held, op("release", { session: "s2" }, "ok"))).toBeUndefined();
    expect(step(free, op("release", { token: 3 }, "ok"))).toBeUndefined();
  });

  it("reports the holder and token in status, or null when free", () => {
    const held = step(free, grant(4));
    expect(step(held, op("status", null, "ok", { holder: "s1", token: 4 }))).toEqual(held);
    expect(step(held, op("status", null, "ok", { holder: null, token: null }))).toBeUndefined();
    expect(step(held, op("status", null, "ok", { holder: "s1", token: 3 }))).toBeUndefined();
    expect(step(free, op("status", null, "ok", { holder: null, token: null }))).toEqual(free);
  });

  it("lets an unknown acquire hold the lock with an unknown token that a status can reveal", () => {
    const unknown = step(free, op("acquire", { session: "s1" }, "info"));
    expect(unknown).toEqual({ holder: { session: "s1", token: null, minToken: 0 }, floor: 0 });
    const revealed = step(unknown, op("status", null, "ok", { holder: "s1", token: 7 }));
    expect(revealed).toEqual({ holder: { session: "s1", token: 7, minToken: 7 }, floor: 8 });
    expect(step(revealed, grant(7, "s2"))).toBeUndefined();
  });

  it("lets an unknown acquire of a held lock change nothing", () => {
    const held = step(free, grant(4));
    expect(step(held, op("acquire", { session: "s2" }, "info"))).toEqual(held);
  });

  it("hashes different states differently", () => {
    const states = [free, step(free, grant(4)), step(free, op("acquire", { session: "s1" }, "info")), { holder: null, floor: 5 }];
    const hashes = new Set(states.map((s) => lockModel.hash(s as LockState)));
    expect(hashes.size).toBe(states.length);
  });

  it.each([
    ["shared mode", op("acquire", { session: "s1", mode: "shared" }, "ok", { token: 1 })],
    ["a grant without a token", op("acquire", null, "ok", { session: "s1" })],
    ["a grant to another session", op("acquire", { session: "s1" }, "ok", { token: 1, session: "s2" })],
    ["a release naming nothing", op("release", {}, "ok")],
    ["a negative token", op("release", { token: -1 }, "ok")],
    ["a status without holder", op("status", null, "ok", { token: 1 })],
    ["an unknown function", op("renew", null, "ok")],
  ])("refuses %s", (_what, o) => {
    expect(lockModel.decode(o).ok).toBe(false);
  });
});
