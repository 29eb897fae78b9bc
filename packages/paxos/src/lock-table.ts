// The global lock table: what the chosen commands mean. Every region applies each key's
// chosen values in instance order (1, 2, 3, ...), so every replica of every region computes
// the same holder, tokens and answers. Semantics:
// - one exclusive holder per key; acquire is a try-lock ("held" when taken by another
//   holder; the holder itself gets a new grant that replaces its old one);
// - fencing tokens come from a per-key counter that only grows, so they strictly increase
//   across all regions, releases, expiries and snapshots (keys are never deleted);
// - leases: grant and renew start a lease period named by (token, leaseVersion); expire
//   frees the key only if that period is still current, so a renew chosen first wins;
// - exactly once: per (key, clientId) the latest seq and its answer are remembered; a retry
//   gets the first answer, an older seq is never applied.

import type { AppliedCommand, DedupRecord, Holder, HolderLease, KeyState, LockAnswer, LockCommand, PaxosValue, RequestId } from "./commands.js";
import { asFencingToken, invariant, NO_INSTANCE, type FencingToken, type GlobalKey, type Instance } from "./types.js";

export interface LockTableLimits {
  readonly keysMax: number;
  readonly dedupClientsPerKeyMax: number;
}

interface MutableKeyState {
  applied: Instance;
  nextToken: FencingToken;
  holder: HolderLease | null;
  readonly dedup: Map<string, DedupRecord>;
}

export const FIRST_TOKEN = asFencingToken(1);

export class GlobalLockTable {
  private readonly keys = new Map<GlobalKey, MutableKeyState>();

  constructor(private readonly limits: LockTableLimits) {}

  appliedInstance(key: GlobalKey): Instance {
    return this.keys.get(key)?.applied ?? NO_INSTANCE;
  }

  holder(key: GlobalKey): HolderLease | null {
    return this.keys.get(key)?.holder ?? null;
  }

  /** The key's state as plain data (a fresh copy). */
  keyState(key: GlobalKey): KeyState {
    const s = this.keys.get(key);
    if (s === undefined) return { applied: NO_INSTANCE, nextToken: FIRST_TOKEN, holder: null, dedup: [] };
    const dedup = [...s.dedup.values()].sort((a, b) => (a.clientId < b.clientId ? -1 : 1));
    return { applied: s.applied, nextToken: s.nextToken, holder: s.holder, dedup };
  }

  /** The remembered answer to (clientId, seq) on key, if that is the client's latest. */
  lookup(key: GlobalKey, requestId: RequestId): LockAnswer | undefined {
    const record = this.keys.get(key)?.dedup.get(requestId.clientId);
    return record !== undefined && record.seq === requestId.seq ? record.answer : undefined;
  }

  keysAfter(after: string, limit: number): { key: GlobalKey; applied: Instance }[] {
    return [...this.keys.keys()]
      .filter((k) => k > after)
      .sort()
      .slice(0, limit)
      .map((key) => ({ key, applied: this.appliedInstance(key) }));
  }

  get keyCount(): number {
    return this.keys.size;
  }

  /** Applies the value chosen at `instance`, which must be the key's next one. */
  apply(key: GlobalKey, instance: Instance, value: PaxosValue): AppliedCommand[] {
    const state = this.stateFor(key);
    invariant(instance === state.applied + 1, () => `table ${key}: applying instance ${instance} after ${state.applied}`);
    state.applied = instance;
    return value.map((command) => this.applyCommand(key, state, instance, command));
  }

  /** Replaces a key's state by a peer's newer one (catch-up); false if it is not newer. */
  install(key: GlobalKey, incoming: KeyState): boolean {
    checkKeyState(key, incoming, this.limits);
    const state = this.stateFor(key);
    if (incoming.applied <= state.applied) return false;
    invariant(incoming.nextToken >= state.nextToken, () => `table ${key}: installing token counter ${incoming.nextToken} below ${state.nextToken}`);
    state.applied = incoming.applied;
    state.nextToken = incoming.nextToken;
    state.holder = incoming.holder;
    state.dedup.clear();
    for (const record of incoming.dedup) state.dedup.set(record.clientId, record);
    return true;
  }

  snapshot(): { key: GlobalKey; state: KeyState }[] {
    return [...this.keys.keys()].sort().map((key) => ({ key, state: this.keyState(key) }));
  }

  restoreKeys(keys: readonly { key: GlobalKey; state: KeyState }[]): void {
    invariant(this.keys.size === 0, () => `restore into a non-empty table (${this.keys.size} keys)`);
    for (const { key, state } of keys) {
      invariant(state.applied >= 1, () => `table snapshot ${key}: applied ${state.applied}`);
      this.install(key, state);
    }
  }

  assertInvariants(): void {
    // Every key was chosen, so accepted by a majority of acceptors holding keysMax each.
    invariant(this.keys.size <= 2 * this.limits.keysMax, () => `table holds ${this.keys.size} keys > 2 x keysMax`);
    for (const key of this.keys.keys()) checkKeyState(key, this.keyState(key), this.limits);
  }

  private stateFor(key: GlobalKey): MutableKeyState {
    let state = this.keys.get(key);
    if (state === undefined) {
      state = { applied: NO_INSTANCE, nextToken: FIRST_TOKEN, holder: null, dedup: new Map() };
      this.keys.set(key, state);
    }
    return state;
  }

  private applyCommand(key: GlobalKey, state: MutableKeyState, instance: Instance, command: LockCommand): AppliedCommand {
    if (command.type === "expire") return { key, instance, command, answer: this.expire(state, command.token, command.leaseVersion), duplicate: false };
    const previous = state.dedup.get(command.requestId.clientId);
    if (previous !== undefined && command.requestId.seq <= previous.seq) {
      const answer: LockAnswer = command.requestId.seq === previous.seq ? previous.answer : { kind: "staleSequence" };
      return { key, instance, command, answer, duplicate: true };
    }
    const answer = this.execute(key, state, command);
    this.remember(state, { clientId: command.requestId.clientId, seq: command.requestId.seq, answer, instance });
    return { key, instance, command, answer, duplicate: false };
  }

  private execute(key: GlobalKey, state: MutableKeyState, command: Exclude<LockCommand, { type: "expire" }>): LockAnswer {
    switch (command.type) {
      case "acquire":
        return this.acquire(key, state, command.holder, command.ttlMs);
      case "renew": {
        const lease = state.holder;
        if (lease === null || lease.token !== command.token || lease.holder.clientId !== command.requestId.clientId) return { kind: "notHolder" };
        state.holder = { ...lease, leaseVersion: lease.leaseVersion + 1, ttlMs: command.ttlMs };
        return { kind: "renewed", token: lease.token, leaseVersion: lease.leaseVersion + 1, ttlMs: command.ttlMs };
      }
      case "release": {
        const lease = state.holder;
        if (lease === null || lease.token !== command.token || lease.holder.clientId !== command.requestId.clientId) return { kind: "notHolder" };
        state.holder = null;
        return { kind: "released", token: lease.token };
      }
    }
  }

  private acquire(key: GlobalKey, state: MutableKeyState, holder: Holder, ttlMs: number): LockAnswer {
    const lease = state.holder;
    if (lease !== null && !sameHolder(lease.holder, holder)) return { kind: "held", holder: lease.holder, token: lease.token };
    // The same holder asking again with a new request (a retry of the same one is answered
    // from the dedup record) gets a new grant, with a new token, that replaces its old one:
    // its client may have given the old grant up as lost, and a write it still has in
    // flight under the old token must lose to the new grant's at a fenced resource.
    const token = state.nextToken;
    state.nextToken = asFencingToken(token + 1);
    invariant(token >= FIRST_TOKEN, () => `table ${key}: token ${token} below the first token`);
    state.holder = { holder, token, leaseVersion: 1, ttlMs };
    return { kind: "granted", token, leaseVersion: 1, ttlMs };
  }

  private expire(state: MutableKeyState, token: FencingToken, leaseVersion: number): LockAnswer {
    const lease = state.holder;
    if (lease === null || lease.token !== token || lease.leaseVersion !== leaseVersion) return { kind: "staleLease" };
    state.holder = null;
    return { kind: "expired", token };
  }

  /** Records a client's latest answer; evicts the least recently used non-holder record beyond the bound. */
  private remember(state: MutableKeyState, record: DedupRecord): void {
    state.dedup.set(record.clientId, record);
    if (state.dedup.size <= this.limits.dedupClientsPerKeyMax) return;
    let victim: DedupRecord | undefined;
    for (const candidate of state.dedup.values()) {
      if (candidate.clientId === record.clientId || candidate.clientId === state.holder?.holder.clientId) continue;
      if (victim === undefined || candidate.instance < victim.instance || (candidate.instance === victim.instance && candidate.clientId < victim.clientId)) {
        victim = candidate;
      }
    }
    invariant(victim !== undefined, () => `dedup: no record to evict among ${state.dedup.size} (max ${this.limits.dedupClientsPerKeyMax})`);
    state.dedup.delete(victim.clientId);
  }
}

export function sameHolder(a: Holder, b: Holder): boolean {
  return a.region === b.region && a.clientId === b.clientId && a.owner === b.owner;
}

/** Asserts the invariants of one key's state (also of a state received from a peer). */
export function checkKeyState(key: GlobalKey, s: KeyState, limits: LockTableLimits): void {
  invariant(Number.isSafeInteger(s.applied) && s.applied >= 0, () => `key ${key}: applied ${s.applied}`);
  invariant(Number.isSafeInteger(s.nextToken) && s.nextToken >= FIRST_TOKEN, () => `key ${key}: nextToken ${s.nextToken}`);
  if (s.holder !== null) {
    invariant(s.holder.token < s.nextToken, () => `key ${key}: holder token ${s.holder?.token} not below nextToken ${s.nextToken}`);
    invariant(s.holder.leaseVersion >= 1, () => `key ${key}: leaseVersion ${s.holder?.leaseVersion}`);
  }
  invariant(s.dedup.length <= limits.dedupClientsPerKeyMax, () => `key ${key}: ${s.dedup.length} dedup records > ${limits.dedupClientsPerKeyMax}`);
  for (let i = 0; i < s.dedup.length; i++) {
    const r = s.dedup[i];
    invariant(r !== undefined && r.instance <= s.applied, () => `key ${key}: dedup record ${JSON.stringify(r)} beyond applied ${s.applied}`);
    const prev = s.dedup[i - 1];
    invariant(prev === undefined || prev.clientId < r.clientId, () => `key ${key}: dedup records unsorted or repeated at ${r.clientId}`);
  }
}
