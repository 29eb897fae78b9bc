// Majority arithmetic. A decision (a vote, a commit, a confirmed read, an active leader)
// needs a majority of every configuration the deciding node may be in (see tracker.ts),
// so these helpers take a list of voter sets and require all of them.

import type { Index, NodeId } from "./types.js";

export type VoteResult = "won" | "lost" | "pending";

/** The highest index that a majority of `voters` has at least matched. */
export function majorityIndex(voters: readonly NodeId[], match: (id: NodeId) => Index): Index {
  if (voters.length === 0) throw new Error("quorum: majorityIndex of an empty voter set");
  const indexes = voters.map(match).sort((a, b) => b - a);
  // With n voters, the (floor(n/2)+1)-th largest index is held by a majority.
  return indexes[Math.floor(voters.length / 2)] as Index;
}

/** The index committed by every configuration: the minimum of their majority indexes. */
export function jointIndex(configs: readonly (readonly NodeId[])[], match: (id: NodeId) => Index): Index {
  if (configs.length === 0) throw new Error("quorum: jointIndex without any configuration");
  let lowest = majorityIndex(configs[0] as readonly NodeId[], match);
  for (const voters of configs.slice(1)) {
    const index = majorityIndex(voters, match);
    if (index < lowest) lowest = index;
  }
  return lowest;
}

/** Outcome of a vote among `voters`: granted votes are true, rejections false, silence absent. */
export function majorityVote(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) throw new Error("quorum: majorityVote of an empty voter set");
  const needed = Math.floor(voters.length / 2) + 1;
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted++;
    else if (vote === undefined) missing++;
  }
  if (granted >= needed) return "won";
  return granted + missing >= needed ? "pending" : "lost";
}

/** Won only when every configuration is won; lost as soon as one is lost. */
export function jointVote(configs: readonly (readonly NodeId[])[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (configs.length === 0) throw new Error("quorum: jointVote without any configuration");
  let result: VoteResult = "won";
  for (const voters of configs) {
    const one = majorityVote(voters, votes);
    if (one === "lost") return "lost";
    if (one === "pending") result = "pending";
  }
  return result;
}
