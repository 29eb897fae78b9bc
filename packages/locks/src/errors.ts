// Error vocabulary of the lock state machine. Expected conditions (a bad argument, an
// expired session, a full table) are returned as typed answers; only a violated internal
// invariant throws, and its message carries the state that proves it.

/**
 * Codes the state machine answers with; they are part of the wire protocol (DESIGN.md).
 * TIMEOUT is never the answer to a command: it is what the server reports to a waiter when
 * a `waitTimedOut` event names it. STALE_SEQUENCE answers a retry whose sequence number
 * fell out of the client's dedup window (see dedup.ts): the command may or may not have
 * been applied, and it is never applied again.
 */
export const ERROR_CODES = [
  "INVALID_NAME",
  "INVALID_ARGUMENT",
  "SESSION_EXPIRED",
  "NOT_HOLDER",
  "TIMEOUT",
  "OVERLOADED",
  "UNAUTHORIZED",
  "STALE_SEQUENCE",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorAnswer {
  readonly type: "error";
  readonly code: ErrorCode;
  readonly message: string;
}

/** Messages are cut to this many UTF-16 code units, so remembered answers stay small. */
export const ERROR_MESSAGE_CHARS_MAX = 512;

export function errorAnswer(code: ErrorCode, message: string): ErrorAnswer {
  if (message.length <= ERROR_MESSAGE_CHARS_MAX) return { type: "error", code, message };
  let cut = message.slice(0, ERROR_MESSAGE_CHARS_MAX - 1);
  // Never end on half of a surrogate pair.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return { type: "error", code, message: `${cut}…` };
}

export function isErrorAnswer(value: object): value is ErrorAnswer {
  return (value as { readonly type?: unknown }).type === "error";
}

/** Thrown only when the state machine's own invariants are broken: a bug, never input. */
export class InvariantError extends Error {
  override readonly name = "InvariantError";
}

/** Asserts an internal invariant; the message is built only on failure. */
export function invariant(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new InvariantError(message());
}
