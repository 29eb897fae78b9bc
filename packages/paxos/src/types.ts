// Identifiers and small value types of the global-lock Paxos layer. At run time they are
// plain numbers and strings, so MessagePack and JSON carry them as they are; the brands only
// stop the type checker from mixing up an instance with a round or a token.

/** A region's name ("us-east"); each region is one Paxos participant. */
export type RegionId = string & { readonly __brand: "RegionId" };
/** A global lock's name ("global:config"); every key is an independent Paxos log. */
export type GlobalKey = string & { readonly __brand: "GlobalKey" };
/** The first component of a ballot: raised by a proposer to take a key over. */
export type Round = number & { readonly __brand: "Round" };
/**
 * The incarnation of the proposer inside its region: the Raft term of the leader that runs
 * it. Two proposers of one region never share an epoch (Raft's election safety), so they
 * never share a ballot even after a crash made the new one forget the old one's rounds.
 */
export type Epoch = number & { readonly __brand: "Epoch" };
/** A slot of one key's Paxos log: 1, 2, 3, ... per key. 0 means "none yet". */
export type Instance = number & { readonly __brand: "Instance" };
/**
 * A fencing token: strictly increasing per key across all regions for the key's whole life.
 * The brand matches @geolock/locks' FencingToken, so clients handle both the same way.
 */
export type FencingToken = number & { readonly __brand: "FencingToken" };
/** A proposal handed to one Proposer; unique within that proposer's life. */
export type ProposalId = number & { readonly __brand: "ProposalId" };

export const asRegionId = (s: string): RegionId => s as RegionId;
export const asGlobalKey = (s: string): GlobalKey => s as GlobalKey;
export const asRound = (n: number): Round => n as Round;
export const asEpoch = (n: number): Epoch => n as Epoch;
export const asInstance = (n: number): Instance => n as Instance;
export const asFencingToken = (n: number): FencingToken => n as FencingToken;
export const asProposalId = (n: number): ProposalId => n as ProposalId;

export const NO_INSTANCE = asInstance(0);

/**
 * The only randomness the core uses (proposer backoff). Structurally the same as
 * @geolock/raft's Rng, so its SeededRng can be passed in.
 */
export interface Rng {
  /** A uniformly distributed integer in [0, maxExclusive). */
  nextInt(maxExclusive: number): number;
}

/** Raised when an invariant is violated: a bug, never an expected condition. */
export function invariant(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new Error(`paxos invariant violated: ${message()}`);
}

/** Bound on timestamps and durations (ms), far below 2^53. */
export const TIME_MS_MAX = 2 ** 50;
