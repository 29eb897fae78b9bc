// Calls with retries. A mutating request carries (clientId, seq) and every retry of it,
// after a timeout, a dropped connection or a failover, reuses the same seq: the region's
// state machine remembers the first answer and returns it instead of applying the command
// twice. Retries back off exponentially (capped, jittered), and stop at the call's deadline
// or after attemptsMax attempts, whichever comes first.

import type { ClientError, ClientErrorCode, ClientRequestBody } from "@geolock/transport";
import type { Clock } from "./clock.js";
import type { Connection } from "./connection.js";
import type { EndpointPool } from "./endpoint-pool.js";
import { GeolockError } from "./errors.js";
import type { ClientLogger } from "./logger.js";

export interface RetryLimits {
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  readonly attemptsMax: number;
  /** How long one attempt may go unanswered beyond its own wait before it is retried. */
  readonly attemptTimeoutMs: number;
  /** Consecutive NOT_LEADER/UNAVAILABLE answers from one node before trying another node. */
  readonly refusalsPerNodeMax: number;
}

export const DEFAULT_RETRY_LIMITS: RetryLimits = {
  backoffBaseMs: 25,
  backoffMaxMs: 1_000,
  attemptsMax: 64,
  attemptTimeoutMs: 7_000,
  refusalsPerNodeMax: 2,
};

/**
 * Ends calls early like an AbortSignal, but is cheap to watch once per request: a session's
 * end, which every acquire on it watches (an abort listener per request was a fifth of the
 * client's CPU in a tight acquire/release loop).
 */
export interface CallStop {
  readonly stopped: boolean;
  /** `onStop` is called once, when it stops, unless unwatched before. */
  watch(onStop: () => void): void;
  unwatch(onStop: () => void): void;
}

export interface CallPolicy {
  /** Clock time after which no new attempt starts. */
  readonly deadlineMs: number;
  /** Extra time an attempt may take (an acquire's remaining wait). */
  readonly attemptExtraMs?: () => number;
  readonly signal?: AbortSignal | undefined;
  readonly stop?: CallStop;
  /** Whether a server error is worth retrying with the same seq (default: RETRY_DEFAULT); others end the call. */
  readonly retryable?: (error: ClientError) => boolean;
}

/** Set by call(): whether STALE_SEQUENCE made it re-send the command under a fresh seq. */
export interface CallTrace {
  resequenced: boolean;
}

/** NOT_LEADER and UNAVAILABLE: the node could not serve it; TIMEOUT: a proposal or forward timed out. */
export const RETRY_DEFAULT: ReadonlySet<ClientErrorCode> = new Set(["NOT_LEADER", "UNAVAILABLE", "TIMEOUT"]);

export function retryDefault(error: ClientError): boolean {
  return RETRY_DEFAULT.has(error.code);
}

export class Caller {
  private seq = 0;
  private closed = false;
  private readonly sleepers = new Set<() => void>();

  constructor(
    readonly clientId: string,
    private readonly pool: EndpointPool,
    private readonly clock: Clock,
    private readonly limits: RetryLimits,
    private readonly logger: ClientLogger,
    firstSeq = 1,
  ) {
    this.seq = firstSeq - 1;
  }

  nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  /**
   * Sends `build(seq)` until it is answered, the answer is final, or the policy's deadline
   * passes. `seq` is undefined for unsequenced reads. Resolves with the result; rejects with
   * a GeolockError carrying the server's code (or UNAVAILABLE, ABORTED, CLOSED).
   */
  async call(build: (seq: number) => ClientRequestBody, sequenced: boolean, policy: CallPolicy, trace: CallTrace = { resequenced: false }): Promise<unknown> {
    let seq = sequenced ? this.nextSeq() : 0;
    let lastProblem = "no attempt was made";
    let refusals = 0;
    for (let attempt = 0; attempt < this.limits.attemptsMax; attempt++) {
      this.throwIfStopped(policy);
      const remainingMs = policy.deadlineMs - this.clock.now();
      if (remainingMs <= 0) break;
      if (attempt > 0) await this.sleep(Math.min(this.backoffMs(attempt), remainingMs));
      this.throwIfStopped(policy);
      // The common case takes no extra turn: the connection is up.
      const connection = this.pool.openConnection ?? (await this.connect(policy));
      if (connection === undefined) {
        lastProblem = "no node could be reached";
        continue;
      }
      const outcome = await this.attempt(connection, build(seq), policy);
      if (outcome.kind === "ok") return outcome.result;
      if (outcome.kind === "unknown") {
        lastProblem = outcome.reason;
        continue;
      }
      const error = outcome.error;
      lastProblem = `${error.code}: ${error.message}`;
      if (error.code === "STALE_SEQUENCE" && sequenced && !trace.resequenced) {
        // Our retry fell out of the server's dedup window. Every geolock command is
        // idempotent per session once re-sent (see README), so re-send it as a new command.
        trace.resequenced = true;
        seq = this.nextSeq();
        continue;
      }
      if (!(policy.retryable ?? retryDefault)(error)) throw toGeolockError(error);
      refusals = error.code === "TIMEOUT" ? 0 : refusals + 1;
      this.steer(connection, error, refusals);
    }
    this.throwIfStopped(policy);
    throw new GeolockError("UNAVAILABLE", `gave up: ${lastProblem}`);
  }

  /** Stops every call: pending sleeps end, and calls reject with CLOSED at their next step. */
  close(): void {
    this.closed = true;
    for (const wake of [...this.sleepers]) wake();
    this.sleepers.clear();
  }

  private async connect(policy: CallPolicy): Promise<Connection | undefined> {
    const waitMs = Math.max(0, policy.deadlineMs - this.clock.now());
    return raceTimeout(this.pool.connection(), waitMs, policy.signal, policy.stop);
  }

  // Async on purpose, like the session lookup in client.ts acquireInSession: with two fewer
  // microtask hops, a holder that releases one event-loop turn after its grant sent its
  // release a turn later (a new acquire took the pending frame first), and 16 clients on one
  // lock got ~30 % fewer handoffs per second (bench "geolock contended").
  private async attempt(connection: Connection, body: ClientRequestBody, policy: CallPolicy): ReturnType<Connection["request"]> {
    const timeoutMs = this.limits.attemptTimeoutMs + Math.max(0, policy.attemptExtraMs?.() ?? 0);
    const answer = connection.request(body, timeoutMs);
    if (policy.signal === undefined && policy.stop === undefined) return answer;
    const outcome = await raceTimeout(answer, Number.POSITIVE_INFINITY, policy.signal, policy.stop);
    return outcome ?? { kind: "unknown", reason: "aborted" };
  }

  /** After a refusal: follow a leader hint, or move on from a node that keeps refusing. */
  private steer(connection: Connection, error: ClientError, refusals: number): void {
    if (error.code === "NOT_LEADER" && error.leader !== undefined && this.pool.followHint(connection, error.leader)) return;
    if (error.code === "UNAVAILABLE" || refusals >= this.limits.refusalsPerNodeMax) {
      this.logger.debug("moving to another node", { url: connection.url, code: error.code });
      this.pool.rotate(connection, `${error.code} from ${connection.url}`);
    }
  }

  private backoffMs(attempt: number): number {
    const capMs = Math.min(this.limits.backoffMaxMs, this.limits.backoffBaseMs * 2 ** Math.min(attempt - 1, 20));
    return capMs / 2 + Math.random() * (capMs / 2);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  private throwIfStopped(policy: CallPolicy): void {
    if (this.closed) throw new GeolockError("CLOSED", "the client is closed");
    if (policy.signal?.aborted === true || policy.stop?.stopped === true) throw new GeolockError("ABORTED", "the operation was aborted");
  }
}

export function toGeolockError(error: ClientError): GeolockError {
  return new GeolockError(error.code, error.message, error.leader === undefined ? {} : { leader: error.leader });
}

/** Node fires a timer set for longer than this after 1 ms. */
const TIMER_DELAY_MAX_MS = 2 ** 31 - 1;

/** `promise`'s value, or undefined once `ms` pass, `signal` aborts or `stop` stops; cleans up after itself. */
export function raceTimeout<T>(promise: Promise<T>, ms: number, signal: AbortSignal | undefined, stop?: CallStop): Promise<T | undefined> {
  if (signal?.aborted === true || stop?.stopped === true) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    // A wait beyond setTimeout's range (24.8 days) is served by timers in turn.
    const arm = (leftMs: number): void => {
      timer = setTimeout(() => (leftMs > TIMER_DELAY_MAX_MS ? arm(leftMs - TIMER_DELAY_MAX_MS) : finish(undefined)), Math.min(leftMs, TIMER_DELAY_MAX_MS));
    };
    if (Number.isFinite(ms)) arm(Math.max(0, ms));
    const onAbort = (): void => finish(undefined);
    signal?.addEventListener("abort", onAbort, { once: true });
    stop?.watch(onAbort);
    function finish(value: T | undefined): void {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      stop?.unwatch(onAbort);
      resolve(value);
    }
    promise.then(finish, () => finish(undefined));
  });
}
