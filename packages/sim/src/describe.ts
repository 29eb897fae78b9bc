// Canonical one-line renderings of messages and node states for the trace. They must be a
// pure function of the data (no object identity, no iteration over unordered things),
// because the trace hash is computed over them.

import type { Message, RaftStatus } from "@geolock/raft";

export function describeMessage(m: Message): string {
  const head = `${m.type} ${m.from}->${m.to} t${m.term}`;
  switch (m.type) {
    case "preVote":
    case "vote":
      return `${head} last ${m.lastLogIndex}@${m.lastLogTerm}`;
    case "preVoteResp":
    case "voteResp":
      return `${head}${m.reject ? " reject" : ""}`;
    case "append":
      return `${head} prev ${m.prevLogIndex}@${m.prevLogTerm} n${m.entries.length} c${m.commit}`;
    case "appendResp":
      return `${head} i${m.index}${m.reject ? ` reject hint ${m.rejectHint}@${m.hintTerm}` : ""}`;
    case "heartbeat":
      return `${head} c${m.commit} ctx${m.context.length}`;
    case "heartbeatResp":
      return `${head} ctx${m.context.length}`;
    case "snapshot":
      return `${head} snap ${m.metadata.index}@${m.metadata.term} off ${m.offset}/${m.totalBytes}`;
    case "snapshotResp":
      return `${head} snap ${m.snapshotIndex} next ${m.nextOffset}${m.reject ? " reject" : ""}`;
    case "timeoutNow":
      return head;
    case "readIndex":
      return `${head} ctx${m.context.length}`;
    case "readIndexResp":
      return `${head} i${m.index}`;
  }
}

const ROLE_LETTER = { follower: "F", preCandidate: "P", candidate: "C", leader: "L" } as const;

export function describeStatus(s: RaftStatus): string {
  return `n${s.id} t${s.term} v${s.vote} c${s.commit} a${s.applied} ${ROLE_LETTER[s.role]}${s.isLearner ? " learner" : ""}`;
}
