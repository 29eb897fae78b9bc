// Membership and per-peer state of one node: the applied configuration, the
// configurations its log may still make effective, the leader's Progress per peer, and
// the votes of a campaign.
//
// Membership changes take effect when applied. To stay safe while nodes apply a change at
// different times, every decision (vote, commit, read, check-quorum) needs a majority of
// the applied configuration AND of each configuration pending in the node's log. That is
// never weaker than the classic "latest configuration in the log" rule (docs/raft.md).

import { applyConfChange, members } from "./conf-change.js";
import { Progress } from "./progress.js";
import { jointIndex, jointVote } from "./quorum.js";
import type { VoteResult } from "./quorum.js";
import { asIndex } from "./types.js";
import type { ConfChange, ConfState, Index, NodeId } from "./types.js";

/** A conf change entry in the log above the applied index, with the membership it yields. */
export interface PendingConf {
  readonly index: Index;
  readonly conf: ConfState;
}

export class ProgressTracker {
  /** Membership as of the applied index. */
  conf: ConfState;
  /** Invariant: indexes strictly increase, all above the applied index; each conf follows the previous. */
  pending: PendingConf[] = [];
  /** Leader only: one Progress per node of conf and pending confs (including the leader). */
  readonly progress = new Map<NodeId, Progress>();
  /** Campaign only: granted (true) or rejected (false) votes received. */
  readonly votes = new Map<NodeId, boolean>();

  constructor(conf: ConfState) {
    this.conf = conf;
  }

  isVoter(id: NodeId): boolean {
    return this.conf.voters.includes(id);
  }

  isLearner(id: NodeId): boolean {
    return this.conf.learners.includes(id);
  }

  /** The voter sets whose majorities every decision needs. */
  configs(): NodeId[][] {
    return [this.conf.voters, ...this.pending.map((p) => p.conf.voters)].map((v) => [...v]);
  }

  /** Every node named by the applied or a pending configuration, in ascending order. */
  allNodes(): NodeId[] {
    const ids = new Set<NodeId>(members(this.conf));
    for (const p of this.pending) for (const id of members(p.conf)) ids.add(id);
    return [...ids].sort((a, b) => a - b);
  }

  /** Every voter of any configuration in force. */
  allVoters(): NodeId[] {
    return [...new Set(this.configs().flat())].sort((a, b) => a - b);
  }

  latestConf(): ConfState {
    return this.pending[this.pending.length - 1]?.conf ?? this.conf;
  }

  /** Records a conf change entry at `index` not yet applied. Changes that do not apply are skipped. */
  addPending(index: Index, change: ConfChange): void {
    const last = this.pending[this.pending.length - 1];
    if (last !== undefined && index <= last.index) {
      throw new Error(`tracker: pending conf change at ${index} not after ${last.index}`);
    }
    const next = applyConfChange(this.latestConf(), change);
    if (next !== undefined) this.pending.push({ index, conf: next });
  }

  clearPending(): void {
    this.pending = [];
  }

  /** Applies the change of the entry at `index`: it becomes the applied configuration. */
  applyChange(index: Index, change: ConfChange): boolean {
    this.pending = this.pending.filter((p) => p.index > index);
    const next = applyConfChange(this.conf, change);
    if (next === undefined) return false;
    this.conf = next;
    return true;
  }

  /** Replaces the membership (restore from a snapshot). */
  resetConf(conf: ConfState): void {
    this.conf = conf;
    this.pending = [];
  }

  /** Leader: the highest index matched by a majority of every configuration. */
  committedIndex(): Index {
    return jointIndex(this.configs(), (id) => this.progress.get(id)?.match ?? asIndex(0));
  }

  voteResult(): VoteResult {
    return jointVote(this.configs(), this.votes);
  }

  /** Whether the nodes in `ids` form a majority of every configuration. */
  hasQuorum(ids: ReadonlySet<NodeId>): boolean {
    const granted = new Map<NodeId, boolean>();
    for (const id of ids) granted.set(id, true);
    return jointVote(this.configs(), granted) === "won";
  }

  /** Leader: whether a quorum was heard from since the last check (the leader counts itself). */
  quorumActive(self: NodeId): boolean {
    const active = new Set<NodeId>([self]);
    for (const [id, pr] of this.progress) if (pr.recentActive) active.add(id);
    return this.hasQuorum(active);
  }

  /**
   * Leader: makes the progress map cover exactly allNodes(); new peers are probed from
   * `nextIndex`. The leader's own entry is replicate, matched up to `selfMatch`.
   */
  /**
   * Creates progress for members that lack it. A new entry for this node itself starts at
   * `selfMatch`: what its own storage holds durably (a leader counts itself for commit only
   * with durable entries; see Raft.onStable).
   */
  syncProgress(self: NodeId, nextIndex: Index, maxInflightAppends: number, selfMatch: Index = asIndex(nextIndex - 1)): void {
    const wanted = new Set(this.allNodes());
    for (const id of [...this.progress.keys()]) if (!wanted.has(id)) this.progress.delete(id);
    for (const id of wanted) {
      if (this.progress.has(id)) continue;
      const pr = new Progress(nextIndex, maxInflightAppends);
      if (id === self) {
        pr.maybeUpdate(selfMatch);
        pr.becomeReplicate();
        pr.recentActive = true;
      }
      this.progress.set(id, pr);
    }
  }
}
