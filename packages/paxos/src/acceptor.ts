// The acceptor of one region: per key, the highest ballot promised and the values accepted
// at instances not yet applied by the region. It lives inside the region's replicated state
// (GlobalReplica) and changes only through prepare/accept commands applied from the region's
// Raft log, in log order, on every replica. So a promise, once replied, is never forgotten
// while a majority of the region's nodes survives.
//
// Rules (Lamport's, per key; a promise covers every instance of the key):
// - prepare(b): if b >= promised, promise b and report every accepted value at or above the
//   requested instance; else nack with the promise.
// - accept(b, i, v): if b >= promised, promise b and accept (b, v) at i; else nack.
// Equal ballots are admitted so a retransmitted prepare or accept gets the same answer: a
// ballot belongs to one proposer (see ballot.ts), so equal means "the same proposer again".

import { ballotGreater, compareBallots, formatBallot, maxBallot, ZERO_BALLOT, type Ballot } from "./ballot.js";
import type { PaxosValue } from "./commands.js";
import type { AcceptedEntry, AcceptedMessage, NackMessage, PromiseMessage, RefusedMessage } from "./messages.js";
import { invariant, type GlobalKey, type Instance } from "./types.js";

type Body<M> = Omit<M, "from" | "to" | "key">;
/** The answer to a prepare or accept, without its envelope (the replica adds it). */
export type AcceptorReply = Body<PromiseMessage> | Body<AcceptedMessage> | Body<NackMessage> | Body<RefusedMessage>;

export interface AcceptorLimits {
  readonly keysMax: number;
  readonly instancesAheadMax: number;
}

interface KeyAcceptor {
  promised: Ballot;
  /** Instance -> accepted value; only instances above the region's applied one. */
  readonly accepted: Map<Instance, AcceptedEntry>;
}

export interface AcceptorKeySnapshot {
  readonly key: GlobalKey;
  readonly promised: Ballot;
  /** Ascending by instance. */
  readonly accepted: readonly AcceptedEntry[];
}

export class AcceptorState {
  private readonly keys = new Map<GlobalKey, KeyAcceptor>();

  constructor(private readonly limits: AcceptorLimits) {}

  /** `applied`: the instance through which the region's table has applied this key. */
  prepare(key: GlobalKey, ballot: Ballot, fromInstance: Instance, applied: Instance): AcceptorReply {
    const state = this.stateFor(key);
    if (state === undefined) return refused(ballot, fromInstance, "overloaded", applied);
    if (!this.admitsPrepare(state.promised, ballot)) return { kind: "nack", ballot, promised: state.promised };
    state.promised = ballot;
    const floor = Math.max(fromInstance, applied + 1);
    const accepted = [...state.accepted.values()].filter((e) => e.instance >= floor).sort((a, b) => a.instance - b.instance);
    return { kind: "promise", ballot, accepted, chosenThrough: applied };
  }

  accept(key: GlobalKey, ballot: Ballot, instance: Instance, value: PaxosValue, applied: Instance): AcceptorReply {
    const state = this.stateFor(key);
    if (state === undefined) return refused(ballot, instance, "overloaded", applied);
    if (!this.admitsAccept(state.promised, ballot)) return { kind: "nack", ballot, promised: state.promised };
    // Already chosen and applied here: accepting would be pointless, and the reply tells a
    // lagging proposer where the key really is.
    if (instance <= applied) return refused(ballot, instance, "chosen", applied);
    if (instance > applied + this.limits.instancesAheadMax) return refused(ballot, instance, "behind", applied);
    state.promised = maxBallot(state.promised, ballot); // = ballot, as admitted; max() keeps it monotonic by construction
    state.accepted.set(instance, { instance, ballot, value });
    return { kind: "accepted", ballot, instance };
  }

  /** Forgets accepted values the region has applied: they are chosen, and their effect is in the table. */
  compact(key: GlobalKey, applied: Instance): void {
    const state = this.keys.get(key);
    if (state === undefined) return;
    for (const instance of state.accepted.keys()) {
      if (instance <= applied) state.accepted.delete(instance);
    }
  }

  promised(key: GlobalKey): Ballot {
    return this.keys.get(key)?.promised ?? ZERO_BALLOT;
  }

  acceptedEntries(key: GlobalKey): readonly AcceptedEntry[] {
    const state = this.keys.get(key);
    return state === undefined ? [] : [...state.accepted.values()].sort((a, b) => a.instance - b.instance);
  }

  get keyCount(): number {
    return this.keys.size;
  }

  snapshot(): AcceptorKeySnapshot[] {
    return [...this.keys.keys()].sort().map((key) => ({ key, promised: this.promised(key), accepted: this.acceptedEntries(key) }));
  }

  /** Rebuilds from a snapshot (already shape-checked by the caller). */
  restoreKeys(keys: readonly AcceptorKeySnapshot[]): void {
    invariant(this.keys.size === 0, () => `restore into a non-empty acceptor (${this.keys.size} keys)`);
    for (const k of keys) {
      this.keys.set(k.key, { promised: k.promised, accepted: new Map(k.accepted.map((e) => [e.instance, e])) });
    }
  }

  /** O(keys x window). `appliedOf` is the region's applied instance per key. */
  assertInvariants(appliedOf: (key: GlobalKey) => Instance): void {
    invariant(this.keys.size <= this.limits.keysMax, () => `acceptor holds ${this.keys.size} keys > keysMax ${this.limits.keysMax}`);
    for (const [key, state] of this.keys) {
      const applied = appliedOf(key);
      for (const entry of state.accepted.values()) {
        invariant(
          compareBallots(entry.ballot, state.promised) <= 0,
          () => `acceptor ${key}: accepted ${formatBallot(entry.ballot)} at ${entry.instance} above promise ${formatBallot(state.promised)}`,
        );
        invariant(entry.instance > applied, () => `acceptor ${key}: keeps instance ${entry.instance} already applied (${applied})`);
      }
    }
  }

  /** Whether a prepare at `ballot` may be promised. Overridden only by tests' broken variants. */
  protected admitsPrepare(promised: Ballot, ballot: Ballot): boolean {
    return !ballotGreater(promised, ballot);
  }

  /** Whether an accept at `ballot` may be accepted. Overridden only by tests' broken variants. */
  protected admitsAccept(promised: Ballot, ballot: Ballot): boolean {
    return !ballotGreater(promised, ballot);
  }

  private stateFor(key: GlobalKey): KeyAcceptor | undefined {
    const existing = this.keys.get(key);
    if (existing !== undefined) return existing;
    if (this.keys.size >= this.limits.keysMax) return undefined;
    const created: KeyAcceptor = { promised: ZERO_BALLOT, accepted: new Map() };
    this.keys.set(key, created);
    return created;
  }
}

function refused(ballot: Ballot, instance: Instance, reason: "overloaded" | "behind" | "chosen", applied: Instance): AcceptorReply {
  return { kind: "refused", ballot, instance, reason, chosenThrough: applied };
}
