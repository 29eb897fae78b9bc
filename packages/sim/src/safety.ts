// The safety checkers. They watch every node through the NodeObserver hooks (what each Ready
// hands out, what becomes durable, what is applied) and through the node's status after
// every event, and throw an InvariantViolation, with the state involved, the moment one of
// Raft's guarantees breaks:
//
//  - election safety: at most one leader per term, over the whole run;
//  - log matching: two logs holding the same (index, term) agree on everything before it;
//  - leader completeness: a leader of term T holds every entry committed before term T;
//  - state machine safety: no two nodes apply different entries at one index, and
//    application snapshots taken at one index are byte-identical;
//  - commit monotonic within a node's lifetime; durable term, vote and commit never go back;
//  - ReadIndex: a read is served at an index no lower than what was committed when it began.

import type { Entry, HardState, Index, NodeId, ReadState, Ready, Role, SnapshotMetadata } from "@geolock/raft";
import type { DiskWrite } from "./disk.js";
import { FNV_OFFSET, fnvBytes, fnvString, hex32 } from "./hash.js";
import { LogChains } from "./log-chain.js";
import type { NodeObserver, SimNode } from "./sim-node.js";
import { violated } from "./violation.js";

/** What the checkers read of a node after each event. */
export interface ObservedStatus {
  readonly term: number;
  readonly commit: number;
  readonly role: Role;
}

export interface SafetyLimits {
  /** Distinct log entries (index, term) tracked over a run. */
  readonly entriesMax: number;
  /** ReadIndex requests awaiting their answer; older ones are forgotten. */
  readonly pendingReadsMax: number;
}

interface NodeWatch {
  /** Commit index last observed in this lifetime. */
  commit: number;
  life: number;
}

export class SafetyChecker implements NodeObserver {
  readonly chains: LogChains;
  /** term -> "node/lifetime" of its leader. */
  private readonly leaders = new Map<number, string>();
  /** committedTerms[i], committedHashes[i]: the committed entry at index i (index 0 unused). */
  private readonly committedTerms: number[] = [0];
  private readonly committedHashes: number[] = [FNV_OFFSET];
  /** The term of the node that first saw index i committed: at least the term it was committed in. */
  private readonly committedSeenInTerm: number[] = [0];
  /** appliedDigests[i]: hash of (term, kind, data) of the entry applied at i. */
  private readonly appliedDigests: number[] = [0];
  private readonly snapshotDigests = new Map<number, number>();
  private readonly watches = new Map<NodeId, NodeWatch>();
  /** ReadIndex context (as text) -> the committed index when the read began. */
  private readonly pendingReads = new Map<string, number>();

  constructor(private readonly limits: SafetyLimits) {
    this.chains = new LogChains(limits.entriesMax);
  }

  /** The highest index known to be committed anywhere. */
  committedIndex(): number {
    return this.committedTerms.length - 1;
  }

  leaderCount(): number {
    return this.leaders.size;
  }

  // ---- Hooks from the nodes ----

  readyTaken(node: SimNode, ready: Ready): void {
    const snapshot = ready.snapshot;
    if (snapshot !== undefined) this.chains.installSnapshot(node.id, snapshot.metadata.index, snapshot.metadata.term);
    this.chains.append(node.id, ready.entries);
  }

  beforeDurable(node: SimNode, write: DiskWrite, before: HardState): void {
    const after = write.hardState;
    if (after === undefined) return;
    const state = `node ${node.id} durable hard state t${before.term}/v${before.vote}/c${before.commit} -> t${after.term}/v${after.vote}/c${after.commit}`;
    if (after.term < before.term) violated("durableStateMonotonic", `term goes back: ${state}`);
    if (after.term === before.term && before.vote !== 0 && after.vote !== before.vote) {
      violated("durableStateMonotonic", `vote changes within a term: ${state}`);
    }
    if (after.commit < before.commit) violated("durableStateMonotonic", `commit goes back: ${state}`);
  }

  applied(node: SimNode, entry: Entry): void {
    const digest = entryDigest(entry);
    const seen = this.appliedDigests[entry.index];
    if (seen === undefined) {
      // Holes are possible: a node may apply after a snapshot before the snapshot's taker
      // applied further; an index is filled by whoever applies it first.
      this.appliedDigests[entry.index] = digest;
    } else if (seen !== digest) {
      violated("stateMachineSafety", `node ${node.id} applies ${entry.index}@${entry.term} (${hex32(digest)}) where another node applied ${hex32(seen)}`);
    }
  }

  snapshotRestored(node: SimNode, metadata: SnapshotMetadata, data: Uint8Array): void {
    this.checkSnapshot(node, metadata.index, data, "restores");
  }

  snapshotTaken(node: SimNode, index: Index, data: Uint8Array): void {
    this.checkSnapshot(node, index, data, "takes");
  }

  readState(node: SimNode, readState: ReadState): void {
    const key = contextKey(readState.context);
    const floor = this.pendingReads.get(key);
    if (floor === undefined) return;
    this.pendingReads.delete(key);
    if (readState.index < floor) {
      violated("readIndexSafety", `node ${node.id} serves read ${key} at index ${readState.index}, but ${floor} was committed when it began`);
    }
  }

  started(node: SimNode): void {
    this.chains.rebuild(node.id, node.disk.storage);
    this.watches.set(node.id, { commit: node.disk.storage.hardState().commit, life: node.life });
  }

  // ---- Driven by the simulation ----

  /** A client began a linearizable read with this context. */
  readBegun(context: Uint8Array): void {
    if (this.pendingReads.size >= this.limits.pendingReadsMax) {
      const oldest = this.pendingReads.keys().next();
      if (oldest.done !== true) this.pendingReads.delete(oldest.value);
    }
    this.pendingReads.set(contextKey(context), this.committedIndex());
  }

  /** Checks one node after an event touched it. */
  afterEvent(node: SimNode, status: ObservedStatus): void {
    const watch = this.watches.get(node.id);
    if (watch === undefined || watch.life !== node.life) throw new Error(`SafetyChecker: node ${node.id} was not started`);
    if (status.commit < watch.commit) {
      violated("commitMonotonic", `node ${node.id} commit goes back from ${watch.commit} to ${status.commit} in lifetime ${node.life}`);
    }
    if (status.commit > watch.commit) this.recordCommitted(node.id, watch.commit, status);
    watch.commit = status.commit;
    if (status.role === "leader") this.checkLeader(node, status.term);
  }

  private recordCommitted(node: NodeId, from: number, status: ObservedStatus): void {
    const start = Math.max(from, this.chains.baseIndex(node)) + 1;
    for (let index = start; index <= status.commit; index++) {
      const term = this.chains.termAt(node, index);
      const hash = this.chains.hashAt(node, index);
      if (term === undefined || hash === undefined) {
        throw new Error(`SafetyChecker: node ${node} commits ${index} beyond its log (last ${this.chains.lastIndex(node)})`);
      }
      const knownTerm = this.committedTerms[index];
      if (knownTerm === undefined) {
        if (index !== this.committedTerms.length) throw new Error(`SafetyChecker: commit gap at ${index} (known ${this.committedIndex()})`);
        this.committedTerms.push(term);
        this.committedHashes.push(hash);
        this.committedSeenInTerm.push(status.term);
      } else if (knownTerm !== term || this.committedHashes[index] !== hash) {
        violated("stateMachineSafety", `node ${node} commits ${index}@${term}, but ${index}@${knownTerm} was committed (different log up to there)`);
      }
    }
  }

  private checkLeader(node: SimNode, term: number): void {
    const who = `${node.id}/${node.life}`;
    const leader = this.leaders.get(term);
    if (leader === who) return;
    if (leader !== undefined) {
      violated("electionSafety", `term ${term} has two leaders: node/lifetime ${leader} and ${who}`);
    }
    this.leaders.set(term, who);
    this.checkCompleteness(node, term);
  }

  /** A new leader of `term` must hold every entry committed in an earlier term. */
  private checkCompleteness(node: SimNode, term: number): void {
    let index = this.committedIndex();
    while (index > 0 && (this.committedSeenInTerm[index] as number) >= term) index--;
    if (index === 0 || index <= this.chains.baseIndex(node.id)) return;
    const last = this.chains.lastIndex(node.id);
    const hash = this.chains.hashAt(node.id, index);
    if (hash !== this.committedHashes[index]) {
      const held = index > last ? `its log ends at ${last}` : `it holds ${index}@${this.chains.termAt(node.id, index)}`;
      violated("leaderCompleteness", `node ${node.id} leads term ${term} without committed entry ${index}@${this.committedTerms[index]}: ${held}`);
    }
  }

  private checkSnapshot(node: SimNode, index: number, data: Uint8Array, verb: string): void {
    const digest = fnvBytes(FNV_OFFSET, data);
    const seen = this.snapshotDigests.get(index);
    if (seen === undefined) this.snapshotDigests.set(index, digest);
    else if (seen !== digest) {
      violated("stateMachineSafety", `node ${node.id} ${verb} a snapshot at ${index} (${hex32(digest)}) that differs from another taken there (${hex32(seen)})`);
    }
  }
}

function entryDigest(entry: Entry): number {
  return fnvBytes(fnvString(fnvString(FNV_OFFSET, String(entry.term)), entry.kind), entry.data);
}

function contextKey(context: Uint8Array): string {
  return Array.from(context, (b) => b.toString(16).padStart(2, "0")).join("");
}
