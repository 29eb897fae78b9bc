// When to propose `expire` for a global lock's holder. Volatile, on the region's Raft leader.
//
// A region may propose expire{token, leaseVersion} once, by its own monotonic clock,
//   ttlMs x (1 + driftBound) + marginMs
// have passed since it LEARNED that lease period (applied the grant or renew). Learning
// happens after the client sent the request, and the client counts its lease from its send
// time, so the client's deadline passes first as long as clock rates differ by less than the
// drift bound (docs/paxos.md, "Leases"). The expire is only a proposal: the table frees the
// key only if no renew was chosen before it. A new leader starts every lease afresh from its
// own clock (never earlier than the old leader would have), like Chubby's fail-over.

import type { HolderLease, LockCommand } from "./commands.js";
import { invariant, TIME_MS_MAX, type FencingToken, type GlobalKey } from "./types.js";

export interface LeaseClockConfig {
  /**
   * Bound on the relative rate difference between any two clocks involved (client and
   * region), plus its own compounding: with rates within 1 +/- rho, use >= 2 rho / (1 - rho).
   */
  readonly driftBound: number;
  /** Added on top, for scheduling delays between learning and reading the clock. */
  readonly marginMs: number;
  /** Wait before proposing the same expire again when the last attempt did not take effect. */
  readonly retryMs: number;
}

export const DEFAULT_LEASE_CLOCK: LeaseClockConfig = { driftBound: 0.05, marginMs: 500, retryMs: 1_000 };

interface Watched {
  readonly token: FencingToken;
  readonly leaseVersion: number;
  readonly expireAtMs: number;
  nextAttemptMs: number;
}

export class LeaseClock {
  private readonly leases = new Map<GlobalKey, Watched>();

  constructor(private readonly config: LeaseClockConfig = DEFAULT_LEASE_CLOCK) {
    invariant(config.driftBound >= 0 && config.driftBound < 1, () => `driftBound ${config.driftBound} outside [0, 1)`);
    invariant(config.marginMs >= 0 && config.retryMs >= 1, () => `marginMs ${config.marginMs} / retryMs ${config.retryMs}`);
  }

  /** After applying anything for `key`: its current lease (null when free) as the table has it. */
  observe(key: GlobalKey, lease: HolderLease | null, nowMs: number): void {
    checkTime(nowMs);
    if (lease === null) {
      this.leases.delete(key);
      return;
    }
    const known = this.leases.get(key);
    if (known !== undefined && known.token === lease.token && known.leaseVersion === lease.leaseVersion) return;
    const expireAtMs = nowMs + Math.ceil(lease.ttlMs * (1 + this.config.driftBound)) + this.config.marginMs;
    this.leases.set(key, { token: lease.token, leaseVersion: lease.leaseVersion, expireAtMs, nextAttemptMs: expireAtMs });
  }

  /** On becoming leader: every current lease counts from now. */
  reset(leases: Iterable<{ readonly key: GlobalKey; readonly lease: HolderLease | null }>, nowMs: number): void {
    this.leases.clear();
    for (const { key, lease } of leases) this.observe(key, lease, nowMs);
  }

  /** Expire commands to propose now (at most `limit`); each is offered again after retryMs. */
  due(nowMs: number, limit: number): { key: GlobalKey; command: LockCommand }[] {
    checkTime(nowMs);
    const out: { key: GlobalKey; command: LockCommand }[] = [];
    for (const [key, w] of this.leases) {
      if (out.length >= limit) break;
      if (w.nextAttemptMs > nowMs) continue;
      w.nextAttemptMs = nowMs + this.config.retryMs;
      out.push({ key, command: { type: "expire", token: w.token, leaseVersion: w.leaseVersion } });
    }
    return out;
  }

  /** When the current lease of key may be expired (undefined when free). */
  expireAtMs(key: GlobalKey): number | undefined {
    return this.leases.get(key)?.expireAtMs;
  }

  get size(): number {
    return this.leases.size;
  }
}

function checkTime(nowMs: number): void {
  invariant(Number.isSafeInteger(nowMs) && nowMs >= 0 && nowMs <= TIME_MS_MAX, () => `nowMs ${nowMs} is not a time`);
}
