// A read-only picture of a node, for routing, the dashboard and tests.

import type { Raft } from "./raft.js";
import type { ProgressState } from "./progress.js";
import type { ConfState, Index, NodeId, Role, Term } from "./types.js";

export interface PeerProgress {
  readonly id: NodeId;
  readonly match: Index;
  readonly next: Index;
  readonly state: ProgressState;
  readonly recentActive: boolean;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly term: Term;
  readonly vote: NodeId;
  readonly commit: Index;
  readonly applied: Index;
  readonly leader: NodeId;
  readonly role: Role;
  readonly isLearner: boolean;
  /** Membership as of the applied index. */
  readonly confState: ConfState;
  readonly leadTransferee: NodeId;
  /** Leader only (empty otherwise): what it knows of every member's log, by ascending id. */
  readonly progress: readonly PeerProgress[];
}

export function raftStatus(raft: Raft): RaftStatus {
  const progress: PeerProgress[] = [];
  if (raft.role === "leader") {
    for (const [id, pr] of raft.tracker.progress) {
      progress.push({ id, match: pr.match, next: pr.next, state: pr.state, recentActive: pr.recentActive });
    }
    progress.sort((a, b) => a.id - b.id);
  }
  return {
    id: raft.id,
    term: raft.term,
    vote: raft.vote,
    commit: raft.log.committed,
    applied: raft.log.applied,
    leader: raft.lead,
    role: raft.role,
    isLearner: raft.tracker.isLearner(raft.id),
    confState: raft.tracker.conf,
    leadTransferee: raft.leadTransferee,
    progress,
  };
}
