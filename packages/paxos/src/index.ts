// The public entry of @geolock/paxos.

export * from "./types.js";
export { ballot, compareBallots, ballotEquals, ballotGreater, maxBallot, formatBallot, ZERO_BALLOT, type Ballot } from "./ballot.js";
export type * from "./commands.js";
export type * from "./messages.js";
export type { ReplicaView } from "./replica-view.js";
export {
  paxosConfig,
  checkPaxosConfig,
  checkProposerConfig,
  quorumSize,
  DEFAULT_PAXOS_LIMITS,
  DEFAULT_PROPOSER_TIMING,
  type PaxosConfig,
  type ProposerConfig,
} from "./config.js";
export { AcceptorState, type AcceptorReply, type AcceptorLimits, type AcceptorKeySnapshot } from "./acceptor.js";
export { GlobalLockTable, FIRST_TOKEN, sameHolder, checkKeyState, type LockTableLimits } from "./lock-table.js";
export { GlobalReplica, type ReplicaApplyResult, type ReplicaSnapshot } from "./replica.js";
export { Proposer, type ProposalOutcome, type ProposeResult, type FailureCode, type Drained, type ProposerStats } from "./proposer.js";
export { LeaseClock, DEFAULT_LEASE_CLOCK, type LeaseClockConfig } from "./lease-clock.js";
export { routeInbound, type InboundAction } from "./routing.js";
export { checkKey, checkLockCommand, decodeMessage, decodeReplicaCommand, decodeReplicaSnapshot, utf8Bytes, GLOBAL_KEY_PREFIX, type DecodeResult } from "./validate.js";
export { sameValue } from "./values.js";
export { Agreement, ChosenValues, HolderBeliefs, type Fail } from "./safety-oracle.js";
