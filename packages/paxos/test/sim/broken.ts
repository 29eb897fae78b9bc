// Deliberately broken variants, to prove the simulation's checks can fail. Each breaks one
// rule the safety argument (docs/paxos.md) relies on; the simulation must catch each within
// its seed budget.

import { AcceptorState, LeaseClock, Proposer, type Ballot, type GlobalKey, type HolderLease, type Instance, type PaxosValue, type PromiseMessage } from "../../src/index.js";
import type { RegionParts } from "./region.js";

/** Accepts any ballot, even below its promise (as if it forgot the promise). The promise itself never goes down. */
class AcceptsBelowPromise extends AcceptorState {
  protected override admitsAccept(_promised: Ballot, _ballot: Ballot): boolean {
    return true;
  }
}

/** After phase 1, ignores the accepted values the promises reported and proposes its own. */
class SkipsRecovery extends Proposer {
  protected override recoverValues(_start: Instance, _promises: readonly PromiseMessage[]): Map<Instance, PaxosValue> {
    return new Map();
  }
}

/** Counts a lease from the grant even after renewals (but expires the current lease version). */
class IgnoresRenewals extends LeaseClock {
  private readonly firstLearned = new Map<GlobalKey, { token: number; atMs: number }>();

  override observe(key: GlobalKey, lease: HolderLease | null, nowMs: number): void {
    const first = this.firstLearned.get(key);
    if (lease !== null && first !== undefined && first.token === lease.token) return super.observe(key, lease, first.atMs);
    if (lease === null) this.firstLearned.delete(key);
    else this.firstLearned.set(key, { token: lease.token, atMs: nowMs });
    super.observe(key, lease, nowMs);
  }
}

export const BROKEN: Record<string, RegionParts> = {
  "an acceptor that accepts below its promise": { createAcceptor: (limits) => new AcceptsBelowPromise(limits) },
  "a proposer that skips re-proposing accepted values after phase 1": { createProposer: (config) => new SkipsRecovery(config) },
  "a lease clock that does not restart on renewals": { createLeaseClock: (region, regions, config) => new IgnoresRenewals(region, regions, config) },
};
