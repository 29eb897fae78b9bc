// A compare-and-set register: read, write, cas. Values are compared as canonical JSON.

import type { Operation } from "../history.js";
import { canonicalJson, type JsonValue, type Result } from "../json.js";
import type { Model, ModelOp } from "../model.js";

/** The register's value as canonical JSON, or null while it was never written. */
export type RegisterState = string | null;

export type RegisterInput =
  | { readonly kind: "read"; readonly value: string | null }
  | { readonly kind: "write"; readonly value: string }
  /** swapped: true for ok, false for fail (the register did not hold `from`), null for info. */
  | { readonly kind: "cas"; readonly from: string | null; readonly to: string; readonly swapped: boolean | null };

function decode(op: Operation): Result<ModelOp<RegisterInput>, string> {
  switch (op.f) {
    case "read":
      return decodeRead(op);
    case "write":
      return decodeWrite(op);
    case "cas":
      return decodeCas(op);
    default:
      return { ok: false, error: `cas-register has no operation ${JSON.stringify(op.f)} (read, write, cas)` };
  }
}

function decodeRead(op: Operation): Result<ModelOp<RegisterInput>, string> {
  if (op.invokeValue !== null) return { ok: false, error: "a read is invoked with value null" };
  const value = op.resultValue === null ? null : canonicalJson(op.resultValue);
  // A read that failed or whose answer was lost observed nothing.
  return { ok: true, value: { role: op.outcome === "ok" ? "required" : "skip", input: { kind: "read", value } } };
}

function decodeWrite(op: Operation): Result<ModelOp<RegisterInput>, string> {
  if (op.invokeValue === null) return { ok: false, error: "a write needs a value (null means unset and cannot be written)" };
  const value = canonicalJson(op.invokeValue);
  if (op.outcome === "ok" && op.resultValue !== null && canonicalJson(op.resultValue) !== value) {
    return { ok: false, error: `a write's completion echoes ${canonicalJson(op.resultValue)}, not the written ${value}` };
  }
  return { ok: true, value: { role: roleOf(op.outcome), input: { kind: "write", value } } };
}

function decodeCas(op: Operation): Result<ModelOp<RegisterInput>, string> {
  const pair = op.invokeValue;
  if (!Array.isArray(pair) || pair.length !== 2 || pair[1] === null) {
    return { ok: false, error: `a cas is invoked with [from, to] and a non-null to, got ${canonicalJson(pair)}` };
  }
  const items: readonly JsonValue[] = pair as readonly JsonValue[];
  const from = items[0] ?? null;
  const to = items[1] ?? null;
  const swapped = op.outcome === "ok" ? true : op.outcome === "fail" ? false : null;
  // A failed cas still observed that the register did not hold `from`: it must be placed.
  const role = op.outcome === "info" ? "optional" : "required";
  return { ok: true, value: { role, input: { kind: "cas", from: from === null ? null : canonicalJson(from), to: canonicalJson(to), swapped } } };
}

function roleOf(outcome: Operation["outcome"]): "required" | "optional" | "skip" {
  return outcome === "ok" ? "required" : outcome === "info" ? "optional" : "skip";
}

function step(state: RegisterState, input: RegisterInput): RegisterState | undefined {
  switch (input.kind) {
    case "read":
      return state === input.value ? state : undefined;
    case "write":
      return input.value;
    case "cas":
      if (input.swapped === true) return state === input.from ? input.to : undefined;
      if (input.swapped === false) return state !== input.from ? state : undefined;
      // Unknown outcome: where it takes effect, cas is deterministic.
      return state === input.from ? input.to : state;
  }
}

export const casRegisterModel: Model<RegisterState, RegisterInput> = {
  name: "cas-register",
  init: () => null,
  decode,
  step,
  hash: (state) => (state === null ? "" : `=${state}`),
  describeState: (state) => (state === null ? "unset" : state),
};
