// A session in one region's Raft group, and the client's conservative view of its lease.
//
// The server measures a session's TTL on its leader's clock, from the moment it applies an
// openSession or keepAlive, which is after the client sent it. So the moment the client
// *sends* a keep-alive that then succeeds, the lease is known good until sentAt + ttl on the
// client's clock, give or take the two clocks' rate difference. The client keeps
//   deadline = sentAt + ttlMs - safetyMarginMs(ttlMs)
// for the newest successful keep-alive, and the moment its clock reaches the deadline the
// session is treated as possibly expired: every lock of it fires `lost`, for good, even if a
// late answer would have extended it. No grace period, no 2x: the server cannot free the
// locks before the deadline, so a holder told "lost" at the deadline stops in time, unless
// its process is paused past it, which is what fencing tokens are for.

import type { CallStop } from "./caller.js";
import type { Clock } from "./clock.js";
import { GeolockError } from "./errors.js";
import type { HandleControl } from "./lock-handle.js";

/** Clock-rate difference allowed between a client and a leader: 1%, far above real oscillator drift (~0.01%). */
export const CLOCK_DRIFT_RATIO = 0.01;
/** Covers timer lateness between the deadline check and the application noticing. */
export const DEADLINE_SLACK_MS = 20;

export function safetyMarginMs(ttlMs: number): number {
  return Math.ceil(ttlMs * CLOCK_DRIFT_RATIO) + DEADLINE_SLACK_MS;
}

export function conservativeDeadline(sentAtMs: number, ttlMs: number): number {
  return sentAtMs + ttlMs - safetyMarginMs(ttlMs);
}

export type RenewOutcome = "extended" | "expired" | "failed";

export interface SessionHooks {
  /** Sends one keepAlive (retrying within the session's deadline). Called sequentially. */
  readonly renew: (session: RegionSession) => Promise<RenewOutcome>;
  /** The session ended: `confirmed` when the server said so, otherwise it may still be open there. */
  readonly onLost: (session: RegionSession, confirmed: boolean) => void;
}

export class RegionSession implements CallStop {
  private state: "live" | "lost" | "closed" = "live";
  private deadline: number;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** Requests in flight on the session: told when it ends (CallStop; cheaper than abort listeners). */
  private readonly endWatchers = new Set<() => void>();
  readonly handles = new Set<HandleControl>();

  constructor(
    readonly region: string,
    readonly id: number,
    readonly ttlMs: number,
    openedSentAtMs: number,
    private readonly clock: Clock,
    private readonly hooks: SessionHooks,
  ) {
    this.deadline = conservativeDeadline(openedSentAtMs, ttlMs);
    this.scheduleKeepAlive(openedSentAtMs);
    this.armExpiry();
  }

  /** Keep-alives go out every ttl/3: two may fail before the deadline. */
  get keepAliveIntervalMs(): number {
    return Math.max(1, Math.floor(this.ttlMs / 3));
  }

  get deadlineMs(): number {
    return this.deadline;
  }

  get status(): "live" | "lost" | "closed" {
    return this.state;
  }

  /** CallStop: a request on the session stops when the session ends. */
  get stopped(): boolean {
    return this.state !== "live";
  }

  watch(onStop: () => void): void {
    this.endWatchers.add(onStop);
  }

  unwatch(onStop: () => void): void {
    this.endWatchers.delete(onStop);
  }

  /** True while the lease is known good; noticing a passed deadline expires the session on the spot. */
  isLive(): boolean {
    if (this.state !== "live") return false;
    if (this.clock.now() < this.deadline) return true;
    this.expire("its lease deadline passed without a successful keep-alive", false);
    return false;
  }

  /** A keep-alive sent at sentAtMs succeeded. A deadline that already passed stays passed. */
  extend(sentAtMs: number): void {
    if (!this.isLive()) return;
    this.deadline = Math.max(this.deadline, conservativeDeadline(sentAtMs, this.ttlMs));
  }

  /** The session is (or may be) gone: every handle fires `lost` now. Idempotent. */
  expire(why: string, confirmed: boolean): void {
    if (this.state !== "live") return;
    this.state = "lost";
    this.stopTimers();
    const error = new GeolockError("LOCK_LOST", `session ${this.id} in ${this.region} ${why}; its locks may be held by others now`);
    for (const handle of [...this.handles]) handle.markLost(error);
    this.handles.clear();
    this.end();
    this.hooks.onLost(this, confirmed);
  }

  /** The client is closing: handles fire `lost` with CLOSED, timers stop. */
  closeLocally(): void {
    if (this.state !== "live") return;
    this.state = "closed";
    this.stopTimers();
    const error = new GeolockError("CLOSED", `the client was closed; session ${this.id} in ${this.region} and its locks are released`);
    for (const handle of [...this.handles]) handle.markLost(error);
    this.handles.clear();
    this.end();
  }

  private end(): void {
    const watchers = [...this.endWatchers];
    this.endWatchers.clear();
    for (const onStop of watchers) onStop();
  }

  private scheduleKeepAlive(lastSentAtMs: number): void {
    const delayMs = Math.max(0, lastSentAtMs + this.keepAliveIntervalMs - this.clock.now());
    this.keepAliveTimer = setTimeout(() => void this.keepAlive(), delayMs);
  }

  private async keepAlive(): Promise<void> {
    this.keepAliveTimer = undefined;
    if (!this.isLive()) return;
    const sentAtMs = this.clock.now();
    const outcome = await this.hooks.renew(this);
    if (outcome === "extended") this.extend(sentAtMs);
    else if (outcome === "expired") this.expire("was expired by the server", true);
    if (this.state !== "live") return;
    // After a failure, try again soon: the deadline timer decides when it is too late.
    if (outcome === "failed") this.scheduleKeepAlive(this.clock.now() - this.keepAliveIntervalMs + Math.min(this.keepAliveIntervalMs, 250));
    else this.scheduleKeepAlive(sentAtMs);
  }

  private armExpiry(): void {
    const delayMs = Math.max(0, this.deadline - this.clock.now());
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = undefined;
      if (this.isLive()) this.armExpiry();
    }, delayMs);
  }

  private stopTimers(): void {
    if (this.keepAliveTimer !== undefined) clearTimeout(this.keepAliveTimer);
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    this.keepAliveTimer = undefined;
    this.expiryTimer = undefined;
  }
}
