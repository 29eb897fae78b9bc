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
//
// Every region watches every lease, so that a majority can expire a holder whose region is
// cut off. To keep them from all proposing the same expire at once (and duelling over the
// key), a region waits staggerMs more per step of distance, in the region list, from the
// holder's region: the holder's region goes first, the others only if it did not.

import type { HolderLease, LockCommand } from "./commands.js";
import { invariant, TIME_MS_MAX, type FencingToken, type GlobalKey, type RegionId } from "./types.js";

export interface LeaseClockConfig {
  /**
   * Bound on the relative rate difference between any two clocks involved (client and
   * region), plus its own compounding: with rates within 1 +/- rho, use >= 2 rho / (1 - rho).
   */
  readonly driftBound: number;
  /** Added on top, for scheduling delays between learning and reading the clock. */
  readonly marginMs: number;
  /**
   * Wait before proposing the same expire again when the last attempt did not take effect.
   * Longer than the proposer's proposal timeout, so attempts do not pile up.
   */
  readonly retryMs: number;
  /** Extra wait per step of distance from the holder's region (see above). */
  readonly staggerMs: number;
}

/** For a 10 ms tick and the default 300-tick (3 s) proposal timeout. */
export const DEFAULT_LEASE_CLOCK: LeaseClockConfig = { driftBound: 0.05, marginMs: 500, retryMs: 5_000, staggerMs: 1_000 };

interface Watched {
  readonly token: FencingToken;
  readonly leaseVersion: number;
  readonly expireAtMs: number;
  nextAttemptMs: number;
}

export class LeaseClock {
  private readonly leases = new Map<GlobalKey, Watched>();

  constructor(
    /** The region running this clock, and every region in the configured order. */
    private readonly region: RegionId,
    private readonly regions: readonly RegionId[],
    private readonly config: LeaseClockConfig = DEFAULT_LEASE_CLOCK,
  ) {
    invariant(config.driftBound >= 0 && config.driftBound < 1, () => `driftBound ${config.driftBound} outside [0, 1)`);
    invariant(config.marginMs >= 0 && config.retryMs >= 1 && config.staggerMs >= 0, () => `lease clock config ${JSON.stringify(config)}`);
    invariant(regions.includes(region), () => `lease clock region ${region} is not one of ${regions.join(",")}`);
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
    const expireAtMs = nowMs + Math.ceil(lease.ttlMs * (1 + this.config.driftBound)) + this.config.marginMs + this.staggerMs(lease.holder.region);
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

  private staggerMs(holderRegion: RegionId): number {
    const n = this.regions.length;
    const distance = (this.regions.indexOf(this.region) - this.regions.indexOf(holderRegion) + n) % n;
    return distance * this.config.staggerMs;
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
