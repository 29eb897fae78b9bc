// Decode-validate helpers for untrusted input (commands from the log, snapshots from disk).
// Each helper checks one value and returns it typed, or throws a DecodeError naming the
// path of the bad field; the public boundaries (validateCommand, restore) catch it and turn
// it into a typed answer, so no DecodeError ever escapes the package.

import { textProblem } from "./text.js";

/** Raised by the helpers below; carries the answer code the boundary should report. */
export class DecodeError extends Error {
  override readonly name = "DecodeError";
  constructor(
    readonly code: "INVALID_ARGUMENT" | "INVALID_NAME",
    message: string,
  ) {
    super(message);
  }
}

export type Fields = Readonly<Record<string, unknown>>;

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return value.length > 40 ? "a long string" : JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return typeof value;
}

function fail(path: string, expected: string, value: unknown): never {
  throw new DecodeError("INVALID_ARGUMENT", `${path}: expected ${expected}, got ${describe(value)}`);
}

/**
 * A plain object (not an array, not a class instance) with exactly the given keys: a missing
 * key or an unknown one is an error, so a typo never passes as a default.
 */
export function record(value: unknown, path: string, keys: readonly string[]): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(path, "an object", value);
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) fail(path, "a plain object", value);
  const fields = value as Fields;
  for (const key of keys) {
    if (!Object.hasOwn(fields, key)) throw new DecodeError("INVALID_ARGUMENT", `${path}: missing field "${key}"`);
  }
  const own = Object.keys(fields);
  if (own.length !== keys.length) {
    const extra = own.filter((k) => !keys.includes(k)).slice(0, 3);
    throw new DecodeError("INVALID_ARGUMENT", `${path}: unknown field(s) ${extra.map((k) => describe(k)).join(", ")}`);
  }
  return fields;
}

/** An integer in [min, max]; max must not exceed Number.MAX_SAFE_INTEGER. */
export function integer(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    fail(path, `an integer in [${min}, ${max}]`, value);
  }
  return value;
}

export function oneOf<T extends string>(value: unknown, path: string, options: readonly T[]): T {
  if (typeof value !== "string" || !(options as readonly string[]).includes(value)) {
    fail(path, `one of ${options.join(", ")}`, value);
  }
  return value as T;
}

export function array(value: unknown, path: string, maxLength: number): readonly unknown[] {
  if (!Array.isArray(value)) fail(path, "an array", value);
  if (value.length > maxLength) fail(path, `at most ${maxLength} elements`, `${value.length} elements`);
  return value as readonly unknown[];
}

/** A string of minBytes..maxBytes UTF-8 bytes following the rules in text.ts. */
export function text(
  value: unknown,
  path: string,
  minBytes: number,
  maxBytes: number,
  code: "INVALID_ARGUMENT" | "INVALID_NAME" = "INVALID_ARGUMENT",
): string {
  if (typeof value !== "string") throw new DecodeError(code, `${path}: expected a string, got ${describe(value)}`);
  const problem = textProblem(value, minBytes, maxBytes);
  if (problem !== undefined) throw new DecodeError(code, `${path}: ${problem}`);
  return value;
}

export function nullable<T>(value: unknown, decode: (v: unknown) => T): T | null {
  return value === null ? null : decode(value);
}

export function check(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new DecodeError("INVALID_ARGUMENT", message());
}
