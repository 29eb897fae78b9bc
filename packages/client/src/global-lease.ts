// The lease of one global lock, as its holder's client library sees it. A global lock has no
// session: the Paxos table gives each grant its own lease (ttlMs), renewed by `globalRenew`,
// and a region proposes its expiry once its own clock shows the TTL (plus drift and margin)
// since it LEARNED the grant or renewal. That is after the client sent the request, so the
// client keeps, exactly as for sessions (session.ts),
//   deadline = firstSentAt(newest confirmed grant or renewal) + ttlMs - safetyMarginMs(ttlMs)
// and fires `lost` the moment its clock reaches it. Renewals go out every ttl/3, one at a
// time; a release first waits for a renewal in flight, so the client has one request per
// key in flight and its seqs on the key increase (docs/paxos.md).

import type { Clock } from "./clock.js";
import { GeolockError } from "./errors.js";
import type { HandleControl } from "./lock-handle.js";
import { conservativeDeadline } from "./session.js";

export type GlobalRenewOutcome = { readonly kind: "renewed"; readonly ttlMs: number } | { readonly kind: "notHolder" } | { readonly kind: "failed" };

/** Retry delay after a failed renewal, if the ttl/3 interval is longer. */
const RENEW_RETRY_MS = 250;

export class GlobalLease {
  private state: "renewing" | "releasing" | "over" = "renewing";
  private deadline: number;
  private renewTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    readonly control: HandleControl,
    private ttlMs: number,
    firstSentAtMs: number,
    private readonly clock: Clock,
    /** Sends one globalRenew (retrying within the lease); called one at a time. */
    private readonly renew: (lease: GlobalLease) => Promise<GlobalRenewOutcome>,
  ) {
    this.deadline = conservativeDeadline(firstSentAtMs, ttlMs);
    this.scheduleRenew(firstSentAtMs);
    this.armExpiry();
  }

  get name(): string {
    return this.control.handle.name;
  }

  get token(): number {
    return this.control.handle.token;
  }

  get deadlineMs(): number {
    return this.deadline;
  }

  /** True while the lease is known good; noticing a passed deadline fires `lost` on the spot. */
  isLive(): boolean {
    if (this.state === "over") return false;
    if (this.clock.now() < this.deadline) return true;
    this.lose("its lease deadline passed without a confirmed renewal");
    return false;
  }

  /** Stops renewing and waits for a renewal in flight: the release goes out next. */
  async beginRelease(): Promise<void> {
    if (this.state === "renewing") this.state = "releasing";
    if (this.renewTimer !== undefined) clearTimeout(this.renewTimer);
    this.renewTimer = undefined;
    await this.inFlight;
  }

  /** The release was applied: the handle is released, timers stop. */
  released(): void {
    if (this.state === "over") return;
    this.state = "over";
    this.stopTimers();
    this.control.markReleased();
  }

  /** The lock is, or may be, gone: the handle fires `lost` (for good). */
  lose(why: string, code: "LOCK_LOST" | "CLOSED" = "LOCK_LOST"): void {
    if (this.state === "over") return;
    this.state = "over";
    this.stopTimers();
    this.control.markLost(new GeolockError(code, `${this.name} (token ${this.token}) ${why}; it may be held by others now`));
  }

  private scheduleRenew(lastSentAtMs: number): void {
    const intervalMs = Math.max(1, Math.floor(this.ttlMs / 3));
    const delayMs = Math.max(0, lastSentAtMs + intervalMs - this.clock.now());
    this.renewTimer = setTimeout(() => {
      this.renewTimer = undefined;
      this.inFlight = this.renewOnce();
    }, delayMs);
  }

  private async renewOnce(): Promise<void> {
    if (this.state !== "renewing" || !this.isLive()) return;
    const sentAtMs = this.clock.now();
    const outcome = await this.renew(this);
    if (outcome.kind === "notHolder") return this.lose("was not held any more when renewed (released or expired)");
    if (outcome.kind === "renewed" && this.isLive()) {
      this.ttlMs = outcome.ttlMs;
      this.deadline = Math.max(this.deadline, conservativeDeadline(sentAtMs, outcome.ttlMs));
    }
    if (this.state !== "renewing") return;
    // After a failure, try again soon: the deadline timer decides when it is too late.
    const intervalMs = Math.max(1, Math.floor(this.ttlMs / 3));
    this.scheduleRenew(outcome.kind === "failed" ? this.clock.now() - intervalMs + Math.min(intervalMs, RENEW_RETRY_MS) : sentAtMs);
  }

  private armExpiry(): void {
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = undefined;
      if (this.isLive()) this.armExpiry();
    }, Math.max(0, this.deadline - this.clock.now()));
  }

  private stopTimers(): void {
    if (this.renewTimer !== undefined) clearTimeout(this.renewTimer);
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    this.renewTimer = undefined;
    this.expiryTimer = undefined;
  }
}
