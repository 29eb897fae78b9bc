// The limits of one lock state machine. Every replica of a region must run with the same
// config: a limit decides answers (OVERLOADED, INVALID_ARGUMENT), and answers must be the
// same everywhere. Units come last in the names.

import { invariant } from "./errors.js";
import { TIME_MS_MAX } from "./types.js";

export interface LockConfig {
  /** Shortest session TTL a client may ask for. Below ~0.5 s a GC pause or one slow fsync expires sessions. */
  readonly sessionTtlMsMin: number;
  /** Longest session TTL. Bounds how long a crashed client's locks stay held. */
  readonly sessionTtlMsMax: number;
  /** Longest wait an acquire may ask for; 0 (try-lock) is always allowed. */
  readonly waitMsMax: number;
  /** Open sessions at most; openSession beyond it answers OVERLOADED. */
  readonly sessionsMax: number;
  /** Lock entries (names held or waited on) at most; a new name beyond it answers OVERLOADED. */
  readonly locksMax: number;
  /** Queued waiters per lock name at most; one more answers OVERLOADED. */
  readonly waitersPerLockMax: number;
  /**
   * Clients in the dedup table at most. A client has a record while it has an open session
   * and for dedupRetainMs after its last one ended; when the table is full, the idle record
   * due to be forgotten first is evicted (losing its retries' protection, see dedup.ts).
   * Must be at least sessionsMax, so that a full table always holds an idle record to evict.
   */
  readonly dedupClientsMax: number;
  /** Answers remembered per client (its most recent sequence numbers). */
  readonly dedupSeqsPerClientMax: number;
  /** How long a client's record outlives its last session, so that a late retry of closeSession still finds its answer. */
  readonly dedupRetainMs: number;
}

export const DEFAULT_LOCK_CONFIG: LockConfig = Object.freeze({
  sessionTtlMsMin: 500,
  sessionTtlMsMax: 3_600_000,
  waitMsMax: 3_600_000,
  sessionsMax: 10_000,
  locksMax: 100_000,
  waitersPerLockMax: 1_000,
  dedupClientsMax: 20_000,
  dedupSeqsPerClientMax: 32,
  dedupRetainMs: 300_000,
});

/** Throws if the config is inconsistent: a programming error, found at construction. */
export function assertValidConfig(config: LockConfig): void {
  const positive = (value: number, field: string, max = TIME_MS_MAX): void => {
    invariant(Number.isSafeInteger(value) && value >= 1 && value <= max, () => `LockConfig.${field} must be an integer in [1, ${max}], got ${value}`);
  };
  positive(config.sessionTtlMsMin, "sessionTtlMsMin");
  positive(config.sessionTtlMsMax, "sessionTtlMsMax");
  positive(config.waitMsMax, "waitMsMax");
  positive(config.sessionsMax, "sessionsMax");
  positive(config.locksMax, "locksMax");
  positive(config.waitersPerLockMax, "waitersPerLockMax");
  positive(config.dedupClientsMax, "dedupClientsMax");
  positive(config.dedupSeqsPerClientMax, "dedupSeqsPerClientMax");
  positive(config.dedupRetainMs, "dedupRetainMs");
  invariant(
    config.sessionTtlMsMin <= config.sessionTtlMsMax,
    () => `LockConfig: sessionTtlMsMin ${config.sessionTtlMsMin} > sessionTtlMsMax ${config.sessionTtlMsMax}`,
  );
  invariant(
    config.dedupClientsMax >= config.sessionsMax,
    () => `LockConfig: dedupClientsMax ${config.dedupClientsMax} < sessionsMax ${config.sessionsMax}`,
  );
}
