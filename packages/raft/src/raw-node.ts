// The driver's handle on a Raft node (etcd's rawnode.go): requests go in, and Ready hands
// out everything to persist, send and apply. advance() checks that the driver kept the
// persistence contract before the node builds on it.

import type { ProposeResult, RaftConfig, RaftStorage, Ready, RequestResult } from "./contract.js";
import { Raft } from "./raft.js";
import { raftStatus } from "./status.js";
import type { RaftStatus } from "./status.js";
import { asIndex, type ConfChange, type ConfState, type Entry, type HardState, type Index, type Message, type NodeId, type SoftState, type Term } from "./types.js";

export class RawNode {
  private readonly raft: Raft;
  private readonly storage: RaftStorage;
  /** What the last Ready reported, so the next one carries only changes. */
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /** The Ready handed out and not yet advanced. Invariant: at most one at a time. */
  private outstanding: Ready | undefined = undefined;
  /** Committed entries handed out by committedDuringWrite() since that Ready, in log order. */
  private committedSinceReady: Entry[] = [];

  constructor(config: RaftConfig, createRaft: (config: RaftConfig) => Raft = (c) => new Raft(c)) {
    this.raft = createRaft(config);
    if (this.raft.id !== config.id) throw new Error(`raw node: createRaft built node ${this.raft.id} for config ${config.id}`);
    this.storage = config.storage;
    this.prevSoftState = this.raft.softState();
    // The starting hard state came from storage, so it is already durable.
    this.prevHardState = this.raft.hardState();
  }

  tick(): void {
    this.raft.tick();
  }

  step(message: Message): void {
    this.raft.step(message);
  }

  propose(data: Uint8Array): ProposeResult {
    return this.raft.propose(data);
  }

  proposeConfChange(change: ConfChange): ProposeResult {
    return this.raft.proposeConfChange(change);
  }

  readIndex(context: Uint8Array): RequestResult {
    return this.raft.readIndex(context);
  }

  transferLeader(to: NodeId): RequestResult {
    return this.raft.transferLeader(to);
  }

  reportUnreachable(id: NodeId): void {
    this.raft.reportUnreachable(id);
  }

  status(): RaftStatus {
    return raftStatus(this.raft);
  }

  confState(): ConfState {
    return this.raft.tracker.conf;
  }

  /** Whether ready() would return anything; false while a Ready awaits advance(). */
  hasReady(): boolean {
    if (this.outstanding !== undefined) return false;
    const unstable = this.raft.log.unstable;
    return (
      !sameSoftState(this.raft.softState(), this.prevSoftState) ||
      !sameHardState(this.raft.hardState(), this.prevHardState) ||
      unstable.entries.length > 0 ||
      unstable.snapshot !== undefined ||
      this.raft.hasOutput() ||
      this.raft.log.hasNextCommittedEntries()
    );
  }

  ready(): Ready {
    if (this.outstanding !== undefined) throw new Error(`raw node ${this.raft.id}: ready() called again before advance()`);
    const soft = this.raft.softState();
    const hard = this.raft.hardState();
    const unstable = this.raft.log.unstable;
    const softChanged = !sameSoftState(soft, this.prevSoftState);
    const hardChanged = !sameHardState(hard, this.prevHardState);
    const entries = [...unstable.entries];
    const snapshot = unstable.snapshot;
    const durableChanged = hard.term !== this.prevHardState.term || hard.vote !== this.prevHardState.vote;
    const ready: Ready = {
      ...(softChanged ? { softState: soft } : {}),
      ...(hardChanged ? { hardState: hard } : {}),
      entries,
      ...(snapshot !== undefined ? { snapshot } : {}),
      committedEntries: this.raft.nextCommittedEntries(),
      messages: this.raft.takeMessages(),
      readStates: this.raft.takeReadStates(),
      mustSync: durableChanged || entries.length > 0 || snapshot !== undefined,
    };
    this.prevSoftState = soft;
    this.prevHardState = hard;
    this.outstanding = ready;
    return ready;
  }

  /**
   * Committed entries the driver may apply while it still writes the outstanding Ready:
   * those that became committed since (the followers' acknowledgements on a leader, the
   * leader's commit index on a follower), as far as the log will hold exactly them once that
   * write is done. Applying them needs no copy on this node's disk: committed means a quorum
   * has them durable, and the leader counts its own copy only at advance(). Each entry is
   * handed out once, in log order after the Ready's own committedEntries, which the driver
   * must have applied first; advance() marks them applied with those. None while a snapshot
   * is in play.
   */
  committedDuringWrite(): Entry[] {
    const ready = this.outstanding;
    if (ready === undefined) throw new Error(`raw node ${this.raft.id}: committedDuringWrite() without an outstanding Ready`);
    if (ready.snapshot !== undefined) return [];
    const handedOut = this.committedSinceReady.at(-1) ?? ready.committedEntries.at(-1);
    const after = handedOut?.index ?? this.raft.log.applied;
    const candidates = this.raft.committedEntriesBetween(after, asIndex(Math.max(ready.entries.at(-1)?.index ?? 0, this.storage.lastIndex())));
    // Stop at the first entry that the write will not leave in the log: one past the Ready's
    // entries (the next Ready writes it), or one that a newer leader's append replaced in
    // memory since this Ready was taken (the disk gets the replacement only next time).
    let count = 0;
    while (count < candidates.length) {
      const entry = candidates[count] as Entry;
      if (entry.index !== after + count + 1) {
        throw new Error(`raw node ${this.raft.id}: committed entries during a write skip from ${after + count} to ${entry.index}`);
      }
      if (termAfterWrite(ready, this.storage, entry.index) !== entry.term) break;
      count += 1;
    }
    const entries = count === candidates.length ? candidates : candidates.slice(0, count);
    this.committedSinceReady.push(...entries);
    return entries;
  }

  /**
   * The hard state a driver may record, without a write, so that its storage's commit index
   * reaches `applied`: `recorded` (the storage's hard state) with the commit index raised; or
   * `recorded` itself when it already reaches it. Undefined when this node's term or vote has
   * moved past `recorded`: the next Ready writes those first. Entries applied during a write
   * (committedDuringWrite) are committed beyond the hard state of the Ready that wrote them,
   * and a durable log refuses a snapshot beyond the commit index it holds; Raft needs no
   * durable commit index, so raising it this way is safe. Throws if `applied` is not committed.
   */
  hardStateCommittedThrough(recorded: HardState, applied: Index): HardState | undefined {
    const current = this.raft.hardState();
    if (applied > current.commit) throw new Error(`raw node ${this.raft.id}: applied ${applied} is beyond the commit index ${current.commit}`);
    if (applied <= recorded.commit) return recorded;
    if (current.term !== recorded.term || current.vote !== recorded.vote) return undefined;
    return { term: recorded.term, vote: recorded.vote, commit: applied };
  }

  /** The driver persisted, sent and applied the last Ready (contract.ts gives the order). */
  advance(): void {
    const ready = this.outstanding;
    if (ready === undefined) throw new Error(`raw node ${this.raft.id}: advance() without a Ready`);
    this.outstanding = undefined;
    const committed = this.committedSinceReady.length === 0 ? ready.committedEntries : [...ready.committedEntries, ...this.committedSinceReady];
    this.committedSinceReady = [];
    if (ready.hardState !== undefined) this.assertHardStateDurable(ready.hardState);
    if (ready.snapshot !== undefined) {
      const index = ready.snapshot.metadata.index;
      const stored = this.storage.snapshot().metadata.index;
      if (stored < index) throw new Error(`raw node ${this.raft.id}: Ready snapshot ${index} not in storage (storage snapshot ${stored})`);
      this.raft.log.stableSnapTo(index);
      this.raft.appliedSnapshot(index);
    }
    const last = ready.entries[ready.entries.length - 1];
    if (last !== undefined) {
      this.assertEntryDurable(last);
      this.raft.log.stableTo(last.index, last.term);
      this.raft.onStable();
    }
    const lastCommitted = committed[committed.length - 1];
    if (lastCommitted !== undefined) this.raft.appliedTo(lastCommitted.index, committed);
  }

  private assertHardStateDurable(expected: HardState): void {
    const durable = this.storage.initialState().hardState;
    if (!sameHardState(durable, expected)) {
      throw new Error(`raw node ${this.raft.id}: storage hard state ${JSON.stringify(durable)} differs from the Ready's ${JSON.stringify(expected)}`);
    }
  }

  private assertEntryDurable(entry: Entry): void {
    const first = this.storage.firstIndex();
    const lastIndex = this.storage.lastIndex();
    // Below first - 1 the entry was compacted into a snapshot, which only durable entries reach.
    const term = entry.index >= first - 1 && entry.index <= lastIndex ? this.storage.term(entry.index) : undefined;
    if (entry.index > lastIndex || (term !== undefined && term !== entry.term)) {
      throw new Error(`raw node ${this.raft.id}: Ready entry ${entry.index}/${entry.term} not in storage (last ${lastIndex}, term there ${term})`);
    }
  }
}

/** The term the log will hold at `index` once `ready`'s entries are written over storage. */
function termAfterWrite(ready: Ready, storage: RaftStorage, index: Index): Term | undefined {
  const first = ready.entries[0];
  if (first !== undefined && index >= first.index) return ready.entries[index - first.index]?.term;
  if (index < storage.firstIndex() || index > storage.lastIndex()) return undefined;
  return storage.term(index);
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
