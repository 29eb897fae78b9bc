// Identifiers and small value types shared by commands, answers, events and snapshots.
// At run time they are plain numbers and strings, so MessagePack and JSON carry them as is.

/** A session's id: the log index of the command that opened it (unique, never reused). */
export type SessionId = number & { readonly __brand: "SessionId" };
/** A fencing token: strictly increasing per lock name for the cluster's whole life. */
export type FencingToken = number & { readonly __brand: "FencingToken" };

export const asSessionId = (n: number): SessionId => n as SessionId;
export const asFencingToken = (n: number): FencingToken => n as FencingToken;

export type LockMode = "exclusive" | "shared";
export const LOCK_MODES: readonly LockMode[] = ["exclusive", "shared"];

/**
 * Where a command sits in the replicated log. `term` is the Raft term of the entry, i.e.
 * the leader whose monotonic clock stamped the command's nowMs: a larger term than the
 * last applied one is how the state machine learns that the clock changed (see docs/locks.md).
 */
export interface LogPosition {
  readonly index: number;
  readonly term: number;
}

/** A lock held by a session, as answers and events report it. */
export interface LockRef {
  readonly name: string;
  readonly mode: LockMode;
  readonly token: FencingToken;
}

/** Bound on timestamps (ms): about 35,000 years of monotonic clock, far from 2^53. */
export const TIME_MS_MAX = 2 ** 50;
