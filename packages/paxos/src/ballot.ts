// Ballots: the total order Paxos needs so that a later proposer can supersede an earlier
// one. A ballot is (round, region, epoch), compared lexicographically. The round is what a
// proposer raises to take a key over; the region breaks ties between regions; the epoch
// (the proposer's Raft term) separates two incarnations of one region's proposer, so no two
// proposers ever use the same ballot. That uniqueness is what Paxos safety rests on: within
// one ballot at most one value is ever proposed for an instance.

import { asEpoch, asRegionId, asRound, invariant, type Epoch, type RegionId, type Round } from "./types.js";

export interface Ballot {
  readonly round: Round;
  readonly region: RegionId;
  readonly epoch: Epoch;
}

/** Below every real ballot: what an acceptor has promised before its first prepare. */
export const ZERO_BALLOT: Ballot = Object.freeze({ round: asRound(0), region: asRegionId(""), epoch: asEpoch(0) });

export function ballot(round: number, region: string, epoch: number): Ballot {
  invariant(Number.isSafeInteger(round) && round >= 1, () => `ballot round must be an integer >= 1, got ${round}`);
  invariant(Number.isSafeInteger(epoch) && epoch >= 0, () => `ballot epoch must be an integer >= 0, got ${epoch}`);
  invariant(region.length > 0, () => "ballot region must not be empty");
  return { round: asRound(round), region: asRegionId(region), epoch: asEpoch(epoch) };
}

/** Negative if a < b, 0 if equal, positive if a > b. */
export function compareBallots(a: Ballot, b: Ballot): number {
  if (a.round !== b.round) return a.round - b.round;
  if (a.region !== b.region) return a.region < b.region ? -1 : 1;
  return a.epoch - b.epoch;
}

export const ballotEquals = (a: Ballot, b: Ballot): boolean => compareBallots(a, b) === 0;
export const ballotGreater = (a: Ballot, b: Ballot): boolean => compareBallots(a, b) > 0;
export const maxBallot = (a: Ballot, b: Ballot): Ballot => (compareBallots(a, b) >= 0 ? a : b);

export function formatBallot(b: Ballot): string {
  return `(${b.round},${b.region},${b.epoch})`;
}
