// The replicated global state of one region: its acceptor, its learner's buffer of chosen
// values that arrived out of order, and its copy of the global lock table. The region's
// Raft log feeds it ReplicaCommands; every replica applies them in log order, so every node
// of the region holds the same promises, accepted values and table. It is one object because
// the parts are coupled: learning instance n lets the acceptor forget what it accepted at
// n and below (the table now carries its effect).

import { AcceptorState, type AcceptorKeySnapshot } from "./acceptor.js";
import type { Ballot } from "./ballot.js";
import type { AppliedCommand, HolderLease, KeyState, PaxosValue, ReplicaCommand } from "./commands.js";
import { checkPaxosConfig, type PaxosConfig } from "./config.js";
import { GlobalLockTable } from "./lock-table.js";
import type { CatchUpReplyMessage, CatchUpRequestMessage, PaxosMessage } from "./messages.js";
import type { ReplicaView } from "./replica-view.js";
import { asGlobalKey, invariant, type GlobalKey, type Instance, type RegionId } from "./types.js";
import { sameValue } from "./values.js";

export interface ReplicaApplyResult {
  /** The answer to a prepare/accept, to send (by the leader) only now that it is applied. */
  readonly reply: PaxosMessage | null;
  /** Client commands the table applied, in order: answer their issuers. */
  readonly applied: readonly AppliedCommand[];
}

export interface ReplicaSnapshot {
  readonly version: 1;
  readonly region: RegionId;
  readonly acceptor: readonly AcceptorKeySnapshot[];
  readonly table: readonly { readonly key: GlobalKey; readonly state: KeyState }[];
  /** Chosen values waiting for an earlier instance, ascending by key then instance. */
  readonly pending: readonly { readonly key: GlobalKey; readonly instance: Instance; readonly value: PaxosValue }[];
}

export class GlobalReplica implements ReplicaView {
  private readonly table: GlobalLockTable;
  private readonly pending = new Map<GlobalKey, Map<Instance, PaxosValue>>();

  constructor(
    private readonly config: PaxosConfig,
    /** The region this replica belongs to: the sender of its replies. */
    readonly region: RegionId,
    private readonly acceptor: AcceptorState = new AcceptorState(config),
  ) {
    checkPaxosConfig(config);
    invariant(config.regions.includes(region), () => `replica region ${region} is not one of ${config.regions.join(",")}`);
    invariant(acceptor.keyCount === 0, () => "a replica starts with an empty acceptor");
    this.table = new GlobalLockTable(config);
  }

  apply(command: ReplicaCommand): ReplicaApplyResult {
    switch (command.type) {
      case "prepare": {
        const body = this.acceptor.prepare(command.key, command.ballot, command.fromInstance, this.appliedInstance(command.key));
        return { reply: { ...body, from: this.region, to: command.from, key: command.key }, applied: [] };
      }
      case "accept": {
        const applied = this.appliedInstance(command.key);
        const body = this.acceptor.accept(command.key, command.ballot, command.instance, command.value, applied);
        return { reply: { ...body, from: this.region, to: command.from, key: command.key }, applied: [] };
      }
      case "learn":
        return { reply: null, applied: this.learn(command.key, command.instance, command.value) };
      case "installKey":
        return { reply: null, applied: this.install(command.key, command.state) };
    }
  }

  appliedInstance(key: GlobalKey): Instance {
    return this.table.appliedInstance(key);
  }

  promised(key: GlobalKey): Ballot {
    return this.acceptor.promised(key);
  }

  keysAfter(after: string, limit: number): readonly { key: GlobalKey; applied: Instance }[] {
    return this.table.keysAfter(after, limit);
  }

  /** Every key with a holder, and its lease: what a new leader's LeaseClock.reset needs. */
  holders(): { key: GlobalKey; lease: HolderLease }[] {
    const out: { key: GlobalKey; lease: HolderLease }[] = [];
    for (const { key } of this.table.keysAfter("", this.table.keyCount)) {
      const lease = this.table.holder(key);
      if (lease !== null) out.push({ key, lease });
    }
    return out;
  }

  /** The table, read-only: holders, tokens, remembered answers. */
  get lockTable(): Pick<GlobalLockTable, "holder" | "keyState" | "lookup" | "appliedInstance" | "keyCount"> {
    return this.table;
  }

  /** The acceptor, read-only (for status pages and tests). */
  get acceptorState(): Pick<AcceptorState, "promised" | "acceptedEntries" | "keyCount"> {
    return this.acceptor;
  }

  /**
   * Answers an anti-entropy request from the applied state. Needs no log write: a chosen
   * value is a fact, so a stale answer is only incomplete, never wrong.
   */
  answerCatchUp(request: CatchUpRequestMessage, statesMax: number): CatchUpReplyMessage {
    const candidates: GlobalKey[] = [];
    const listed = new Set<string>();
    for (const { key, applied } of request.known) {
      listed.add(key);
      if (this.appliedInstance(key) > applied) candidates.push(key);
    }
    if (request.sweep !== null) {
      const { after, through } = request.sweep;
      // Bounded: the sweep range holds at most statesMax keys the requester has not listed.
      for (const { key } of this.table.keysAfter(after, statesMax + request.known.length)) {
        if (through !== null && key > through) break;
        if (!listed.has(key)) candidates.push(key);
      }
    }
    candidates.sort();
    const chosen = candidates.slice(0, statesMax);
    const truncated = candidates.length > chosen.length;
    const states = chosen.map((key) => ({ key, state: this.table.keyState(key) }));
    return {
      kind: "catchUpReply",
      from: this.region,
      to: request.from,
      key: states[0]?.key ?? asGlobalKey(""),
      states,
      resumeAfter: truncated ? (chosen[chosen.length - 1] ?? null) : null,
    };
  }

  snapshot(): ReplicaSnapshot {
    const pending: { key: GlobalKey; instance: Instance; value: PaxosValue }[] = [];
    for (const key of [...this.pending.keys()].sort()) {
      const values = this.pending.get(key) ?? new Map<Instance, PaxosValue>();
      for (const instance of [...values.keys()].sort((a, b) => a - b)) pending.push({ key, instance, value: values.get(instance) ?? [] });
    }
    return { version: 1, region: this.region, acceptor: this.acceptor.snapshot(), table: this.table.snapshot(), pending };
  }

  /** Rebuilds a replica from a snapshot this package produced (validate untrusted bytes first). */
  static restore(snapshot: ReplicaSnapshot, config: PaxosConfig, acceptor?: AcceptorState): GlobalReplica {
    invariant(snapshot.version === 1, () => `replica snapshot version ${String(snapshot.version)}`);
    const replica = new GlobalReplica(config, snapshot.region, acceptor);
    replica.acceptor.restoreKeys(snapshot.acceptor);
    replica.table.restoreKeys(snapshot.table);
    for (const { key, instance, value } of snapshot.pending) replica.buffer(key, instance, value);
    replica.assertInvariants();
    return replica;
  }

  assertInvariants(): void {
    this.table.assertInvariants();
    this.acceptor.assertInvariants((key) => this.appliedInstance(key));
    for (const [key, values] of this.pending) {
      const applied = this.appliedInstance(key);
      invariant(values.size > 0, () => `replica ${this.region}: empty pending map for ${key}`);
      for (const instance of values.keys()) {
        invariant(
          instance > applied + 1 && instance <= applied + this.config.instancesAheadMax,
          () => `replica ${this.region}: pending ${key}#${instance} outside (${applied + 1}, ${applied + this.config.instancesAheadMax}]`,
        );
      }
    }
  }

  private learn(key: GlobalKey, instance: Instance, value: PaxosValue): AppliedCommand[] {
    const applied = this.appliedInstance(key);
    // Already applied, or too far ahead to buffer (catch-up brings it later): nothing to do.
    if (instance <= applied || instance > applied + this.config.instancesAheadMax) return [];
    this.buffer(key, instance, value);
    return this.drain(key);
  }

  private install(key: GlobalKey, state: KeyState): AppliedCommand[] {
    if (!this.table.install(key, state)) return [];
    const values = this.pending.get(key);
    if (values !== undefined) {
      for (const instance of values.keys()) if (instance <= state.applied) values.delete(instance);
      if (values.size === 0) this.pending.delete(key);
    }
    this.acceptor.compact(key, state.applied);
    return this.drain(key);
  }

  private buffer(key: GlobalKey, instance: Instance, value: PaxosValue): void {
    let values = this.pending.get(key);
    if (values === undefined) {
      values = new Map();
      this.pending.set(key, values);
    }
    const known = values.get(instance);
    // Two different values learned for one instance means two were chosen: Paxos is broken.
    invariant(known === undefined || sameValue(known, value), () => `replica ${this.region}: ${key}#${instance} learned two different values`);
    values.set(instance, value);
  }

  /** Applies buffered values while the next instance is there. Bounded by the window. */
  private drain(key: GlobalKey): AppliedCommand[] {
    const values = this.pending.get(key);
    if (values === undefined) return [];
    const out: AppliedCommand[] = [];
    for (let guard = 0; guard <= this.config.instancesAheadMax; guard++) {
      const next = (this.appliedInstance(key) + 1) as Instance;
      const value = values.get(next);
      if (value === undefined) break;
      values.delete(next);
      out.push(...this.table.apply(key, next, value));
    }
    if (values.size === 0) this.pending.delete(key);
    this.acceptor.compact(key, this.appliedInstance(key));
    return out;
  }
}
