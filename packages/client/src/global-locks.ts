// Global locks (`global:<key>`) in the client: try-lock acquire (optionally retried while
// held until the wait ends), the lease kept by renewals (global-lease.ts), release, and the
// region's applied view for status. Any node takes a global request: its region's leader
// proposes it to the other regions. NO_QUORUM (the node's region could not reach a majority
// of regions in time) is surfaced at once as a GeolockError with that code: it is not
// retried, because another node of the same region would answer the same, and the caller is
// better placed to decide (fail over to another region's endpoints, or back off).

import type { ClientRequestBody } from "@geolock/transport";
import { raceTimeout, retryDefault, type Caller } from "./caller.js";
import type { Clock } from "./clock.js";
import { decodeGlobalAcquireAnswer, decodeGlobalReleaseAnswer, decodeGlobalRenewAnswer, decodeGlobalStatus, type GlobalAcquireAnswer, type GlobalLockStatus } from "./decode.js";
import { GeolockError, isGeolockError } from "./errors.js";
import { GlobalLease, type GlobalRenewOutcome } from "./global-lease.js";
import { LockHandle } from "./lock-handle.js";
import type { ClientLogger } from "./logger.js";

export const GLOBAL_PREFIX = "global:";

export function isGlobalName(name: string): boolean {
  return name.startsWith(GLOBAL_PREFIX) && name.length > GLOBAL_PREFIX.length;
}

export interface GlobalSettings {
  /** The lease of a global lock (server bounds 1 s .. 10 min). */
  readonly ttlMs: number;
  readonly requestTimeoutMs: number;
  readonly closeTimeoutMs: number;
  /** How long one global request may wait for a majority of regions before NO_QUORUM. */
  readonly quorumTimeoutMs: number;
}

export interface GlobalAcquireOptions {
  readonly waitMs: number;
  readonly owner: string;
  readonly signal: AbortSignal | undefined;
}

/** Held answers are retried (a new seq each time) at most every this long while waiting. */
const HELD_RETRY_MAX_MS = 1_000;
const HELD_RETRY_MIN_MS = 50;
/** The server's floor for a request's own deadline. */
const QUORUM_TIMEOUT_MIN_MS = 100;

export class GlobalLocks {
  private readonly leases = new Set<GlobalLease>();

  constructor(
    private readonly clientId: string,
    private readonly caller: Caller,
    private readonly clock: Clock,
    private readonly settings: GlobalSettings,
    private readonly logger: ClientLogger,
    /** Told when a handle ends (released or lost): the name may be acquired again. */
    private readonly onEnd: (name: string) => void,
  ) {}

  async acquire(name: string, options: GlobalAcquireOptions): Promise<LockHandle> {
    const startedAtMs = this.clock.now();
    for (let attempt = 0; attempt < 1_000_000; attempt++) {
      const firstSentAtMs = this.clock.now();
      const deadlineMs = firstSentAtMs + this.settings.requestTimeoutMs;
      const answer = await this.tryOnce(name, options, deadlineMs);
      if (answer.type === "granted") return this.adopt(name, options.owner, answer, firstSentAtMs);
      const waitLeftMs = startedAtMs + options.waitMs - this.clock.now();
      if (waitLeftMs <= 0) throw heldError(name, answer);
      const pauseMs = Math.min(waitLeftMs, HELD_RETRY_MAX_MS, HELD_RETRY_MIN_MS * 2 ** Math.min(attempt, 10));
      await raceTimeout(new Promise<never>(() => undefined), pauseMs, options.signal);
      if (options.signal?.aborted === true) throw new GeolockError("ABORTED", "the operation was aborted");
    }
    throw new GeolockError("TIMEOUT", `the wait for ${name} ended`);
  }

  /** This client's view through one node: that node's region's applied table (not linearizable). */
  async status(name: string): Promise<GlobalLockStatus> {
    const result = await this.caller.call(() => ({ op: "status", name }), false, { deadlineMs: this.clock.now() + this.settings.requestTimeoutMs });
    return decodeGlobalStatus(result);
  }

  /** Releases every held global lock (bounded by closeTimeoutMs); handles fire `lost` with CLOSED. */
  async close(): Promise<void> {
    const leases = [...this.leases];
    const deadlineMs = this.clock.now() + this.settings.closeTimeoutMs;
    await Promise.allSettled(leases.map((lease) => this.releaseAtClose(lease, deadlineMs)));
  }

  private async releaseAtClose(lease: GlobalLease, deadlineMs: number): Promise<void> {
    await lease.beginRelease();
    lease.lose("was released because the client closed", "CLOSED");
    this.forget(lease);
    await this.sendRelease(lease, deadlineMs).catch((error: unknown) => this.logger.debug("could not release a global lock at close", { name: lease.name, error: String(error) }));
  }

  private async tryOnce(name: string, options: GlobalAcquireOptions, deadlineMs: number): Promise<GlobalAcquireAnswer> {
    const body = (seq: number): ClientRequestBody => ({
      op: "globalAcquire",
      name,
      ttlMs: this.settings.ttlMs,
      owner: options.owner,
      timeoutMs: this.quorumTimeout(deadlineMs),
      clientId: this.clientId,
      seq,
    });
    return decodeGlobalAcquireAnswer(await this.caller.call(body, true, { deadlineMs, signal: options.signal }));
  }

  private adopt(name: string, owner: string, answer: Extract<GlobalAcquireAnswer, { type: "granted" }>, firstSentAtMs: number): LockHandle {
    let lease: GlobalLease | undefined;
    const init = { name, mode: "exclusive" as const, token: answer.token, sessionId: 0, region: "global", owner, sessionReplaced: false };
    const control = LockHandle.create(
      init,
      () => this.release(lease as GlobalLease),
      () => (lease as GlobalLease).deadlineMs - this.clock.now(),
      () => this.forget(lease as GlobalLease),
    );
    lease = new GlobalLease(control, answer.ttlMs, firstSentAtMs, this.clock, (l) => this.renew(l));
    this.leases.add(lease);
    // A grant whose deadline already passed (a slow answer) is lost from the start.
    lease.isLive();
    return control.handle;
  }

  private async renew(lease: GlobalLease): Promise<GlobalRenewOutcome> {
    const body = (seq: number): ClientRequestBody => ({
      op: "globalRenew",
      name: lease.name,
      token: lease.token,
      ttlMs: this.settings.ttlMs,
      timeoutMs: this.quorumTimeout(lease.deadlineMs),
      clientId: this.clientId,
      seq,
    });
    try {
      const renewed = decodeGlobalRenewAnswer(await this.caller.call(body, true, { deadlineMs: lease.deadlineMs }));
      return { kind: "renewed", ttlMs: renewed.ttlMs };
    } catch (error) {
      if (isGeolockError(error, "NOT_HOLDER")) return { kind: "notHolder" };
      this.logger.debug("global renewal failed", { name: lease.name, error: String(error) });
      return { kind: "failed" };
    }
  }

  /**
   * Releases after any renewal in flight. NO_QUORUM is retried here (the same seq is
   * exactly-once) until requestTimeoutMs; a release that cannot be confirmed fires `lost`:
   * the lease then simply runs out on the servers.
   */
  private async release(lease: GlobalLease): Promise<void> {
    await lease.beginRelease();
    const handle = lease.control.handle;
    handle.throwIfLost();
    try {
      await this.sendRelease(lease, this.clock.now() + this.settings.requestTimeoutMs);
    } catch (error) {
      if (isGeolockError(error, "NOT_HOLDER")) lease.lose("was not held any more when released (its lease had expired)");
      else lease.lose(`could not be released (${isGeolockError(error) ? error.code : String(error)}); its lease will run out`);
      this.forget(lease);
      throw isGeolockError(error, "NOT_HOLDER") ? handle.lost.reason : error;
    }
    handle.throwIfLost();
    lease.released();
    this.forget(lease);
  }

  private async sendRelease(lease: GlobalLease, deadlineMs: number): Promise<void> {
    const body = (seq: number): ClientRequestBody => ({
      op: "globalRelease",
      name: lease.name,
      token: lease.token,
      timeoutMs: this.quorumTimeout(deadlineMs),
      clientId: this.clientId,
      seq,
    });
    decodeGlobalReleaseAnswer(await this.caller.call(body, true, { deadlineMs, retryable: (e) => e.code === "NO_QUORUM" || retryDefault(e) }));
  }

  private forget(lease: GlobalLease): void {
    if (this.leases.delete(lease)) this.onEnd(lease.name);
  }

  /** The request's own deadline: what is left of the call's, capped by quorumTimeoutMs. */
  private quorumTimeout(deadlineMs: number): number {
    return Math.max(QUORUM_TIMEOUT_MIN_MS, Math.min(this.settings.quorumTimeoutMs, Math.floor(deadlineMs - this.clock.now())));
  }
}

function heldError(name: string, answer: Extract<GlobalAcquireAnswer, { type: "held" }>): GeolockError {
  const { holder } = answer;
  const holders = [{ sessionId: 0, owner: holder.owner, mode: "exclusive" as const, token: answer.token }];
  return new GeolockError("HELD", `${name} is held by ${holder.owner === "" ? "(no owner)" : holder.owner} #${answer.token} (client ${holder.clientId} via ${holder.region})`, {
    holders,
    holderCount: 1,
    waiterCount: 0,
  });
}
