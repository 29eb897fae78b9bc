// Rules for the strings the state machine stores and echoes: lock names, owner labels and
// client ids. They are counted in UTF-8 bytes (what crosses the wire and sits in the
// snapshot), must be well-formed Unicode (a lone surrogate has no UTF-8 encoding, so two
// different strings could encode to the same bytes), and may not contain control
// characters (they end up in logs, the dashboard and terminal output).

/** Lock names: 1..256 UTF-8 bytes. Prefix routing (`<region>:`, `global:`) is the server's job. */
export const NAME_BYTES_MAX = 256;
/** Owner labels: a client-chosen description of the holder, 0..256 UTF-8 bytes. */
export const OWNER_BYTES_MAX = 256;
/** Client ids: 1..128 UTF-8 bytes. */
export const CLIENT_ID_BYTES_MAX = 128;

/**
 * The UTF-8 length of `s`, or undefined if `s` holds a lone surrogate or a control
 * character. Stops early (returning maxBytes + 1) once the length exceeds maxBytes, so the
 * cost is bounded by the limit, not by the input.
 */
export function utf8Bytes(s: string, maxBytes: number): number | undefined {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    if (bytes > maxBytes) return maxBytes + 1;
    const c = s.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return undefined;
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return undefined;
      bytes += 4;
      i += 1;
    } else if (c >= 0xdc00 && c <= 0xdfff) return undefined;
    else bytes += 3;
  }
  return bytes;
}

/** Why `s` is not acceptable as a text of minBytes..maxBytes UTF-8 bytes, or undefined if it is. */
export function textProblem(s: string, minBytes: number, maxBytes: number): string | undefined {
  const bytes = utf8Bytes(s, maxBytes);
  if (bytes === undefined) return "must be well-formed Unicode without control characters";
  if (bytes < minBytes || bytes > maxBytes) return `must be ${minBytes}..${maxBytes} UTF-8 bytes`;
  return undefined;
}

/** Total order on names by UTF-16 code units: the same on every replica, unlike localeCompare. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sortedNames(names: Iterable<string>): string[] {
  return [...names].sort(compareNames);
}
