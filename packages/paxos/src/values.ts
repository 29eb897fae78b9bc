// Structural equality of plain data (chosen values, key states). Values cross the wire, so
// identity means nothing; two decodings of the same value must compare equal.

import type { PaxosValue } from "./commands.js";

export function sameValue(a: PaxosValue, b: PaxosValue): boolean {
  return samePlain(a, b, 0);
}

/** Deep equality of JSON-like data; depth-bounded because our values are shallow. */
export function samePlain(a: unknown, b: unknown, depth: number): boolean {
  if (a === b) return true;
  if (depth > 16 || typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  return ka.every((k) => Object.hasOwn(rb, k) && samePlain(ra[k], rb[k], depth + 1));
}
