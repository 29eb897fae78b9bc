// Shape checks shared by both sides of the disk boundary: the same function vets a value
// before it is encoded and after it is decoded (TigerBeetle's discipline). Each returns a
// sentence describing the first problem, or null; the caller decides whether that is a
// broken invariant (before writing) or a corrupt record (after reading).

import type { ConfState, Entry, HardState, SnapshotMetadata } from "@geolock/raft";
import type { NodeIdentity } from "./errors.js";

/** Identity strings are short names; the bound keeps a corrupt record from allocating much. */
export const IDENTITY_TEXT_CHARS_MAX = 256;
/** A Raft group is 3 or 5 nodes plus learners; anything near this bound is corruption. */
export const CONF_STATE_MEMBERS_MAX = 1024;

function countProblem(value: number, what: string, min: number): string | null {
  return Number.isSafeInteger(value) && value >= min ? null : `${what} ${String(value)} is not an integer >= ${min}`;
}

export function entryProblem(entry: Entry): string | null {
  return (
    countProblem(entry.index, "entry index", 1) ??
    countProblem(entry.term, "entry term", 1) ??
    (entry.kind === "normal" || entry.kind === "confChange" ? null : `entry kind ${String(entry.kind)} is unknown`) ??
    (entry.data instanceof Uint8Array ? null : "entry data is not bytes")
  );
}

export function hardStateProblem(hardState: HardState): string | null {
  return (
    countProblem(hardState.term, "term", 0) ??
    countProblem(hardState.vote, "vote", 0) ??
    countProblem(hardState.commit, "commit", 0)
  );
}

export function confStateProblem(confState: ConfState): string | null {
  const { voters, learners } = confState;
  if (!Array.isArray(voters) || !Array.isArray(learners)) return "voters and learners must be arrays";
  if (voters.length + learners.length > CONF_STATE_MEMBERS_MAX) {
    return `${voters.length + learners.length} members exceed ${CONF_STATE_MEMBERS_MAX}`;
  }
  const seen = new Set<number>();
  for (const id of [...voters, ...learners]) {
    const problem = countProblem(id, "member id", 1);
    if (problem !== null) return problem;
    if (seen.has(id)) return `member ${id} is listed twice`;
    seen.add(id);
  }
  return null;
}

export function snapshotMetadataProblem(metadata: SnapshotMetadata): string | null {
  const problem =
    countProblem(metadata.index, "snapshot index", 0) ??
    countProblem(metadata.term, "snapshot term", 0) ??
    confStateProblem(metadata.confState);
  if (problem !== null) return problem;
  // Only the empty snapshot of a fresh node has term 0, and it sits at index 0.
  if ((metadata.index === 0) !== (metadata.term === 0)) {
    return `snapshot index ${metadata.index} and term ${metadata.term} must both be 0 or both be positive`;
  }
  return null;
}

export function identityProblem(identity: NodeIdentity): string | null {
  for (const [what, text] of [["cluster id", identity.clusterId], ["region", identity.region]] as const) {
    if (typeof text !== "string" || text.length === 0 || text.length > IDENTITY_TEXT_CHARS_MAX) {
      return `${what} must be a string of 1 to ${IDENTITY_TEXT_CHARS_MAX} characters`;
    }
  }
  return countProblem(identity.nodeId, "node id", 1);
}

export function sameIdentity(a: NodeIdentity, b: NodeIdentity): boolean {
  return a.clusterId === b.clusterId && a.region === b.region && a.nodeId === b.nodeId;
}
