// The vocabulary of the Raft core: identifiers, log entries, persistent state and the
// messages peers exchange. Everything here is plain data (numbers, strings, Uint8Array,
// arrays and objects of those) so that storage and transport can encode it with MessagePack
// and the simulator can copy it without surprises.

/** A Raft term. Branded so that it cannot be confused with an index or a node id. */
export type Term = number & { readonly __brand: "Term" };
/** A position in the replicated log; the first real entry has index 1. */
export type Index = number & { readonly __brand: "Index" };
/** A node's identity within its Raft group; 0 means "nobody" (see NO_NODE). */
export type NodeId = number & { readonly __brand: "NodeId" };

export const asTerm = (n: number): Term => n as Term;
export const asIndex = (n: number): Index => n as Index;
export const asNodeId = (n: number): NodeId => n as NodeId;

/** No node: an empty vote, an unknown leader. */
export const NO_NODE: NodeId = asNodeId(0);

/**
 * `normal` entries carry application data (an empty `data` is the leader's no-op);
 * `confChange` entries carry an encoded ConfChange (see encodeConfChange).
 */
export type EntryKind = "normal" | "confChange";

export interface Entry {
  readonly term: Term;
  readonly index: Index;
  readonly kind: EntryKind;
  readonly data: Uint8Array;
}

/**
 * What must be durable before a node may vote, acknowledge or answer: its current term,
 * whom it voted for in that term, and the highest index it knows to be committed.
 */
export interface HardState {
  readonly term: Term;
  readonly vote: NodeId;
  readonly commit: Index;
}

/** Group membership: voters decide elections and commits; learners only receive the log. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/**
 * One membership change at a time. `addVoter` of an existing learner promotes it;
 * `removeNode` removes a voter or a learner (the leader may remove itself).
 */
export interface ConfChange {
  readonly type: "addVoter" | "addLearner" | "removeNode";
  readonly nodeId: NodeId;
}

export interface SnapshotMetadata {
  /** The last log index the snapshot covers. */
  readonly index: Index;
  /** The term of the entry at `index`. */
  readonly term: Term;
  /** The membership as of `index`. */
  readonly confState: ConfState;
}

/** A state-machine image supplied by the application, covering the log up to metadata.index. */
export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

export type Role = "follower" | "preCandidate" | "candidate" | "leader";

/** Volatile state that the application may want to observe (for routing and status). */
export interface SoftState {
  readonly leader: NodeId;
  readonly role: Role;
}

/**
 * A linearizable read that has become safe: once the application has applied every entry
 * up to `index`, it may serve the read identified by `context` from its state machine.
 */
export interface ReadState {
  readonly index: Index;
  readonly context: Uint8Array;
}

interface MessageHeader {
  readonly from: NodeId;
  readonly to: NodeId;
  /** The sender's term (for pre-vote messages: the term the sender would campaign in). */
  readonly term: Term;
}

/** Pre-vote (Raft thesis 9.6): ask whether a vote would be granted, without disturbing anyone. */
export interface PreVoteMessage extends MessageHeader {
  readonly type: "preVote";
  readonly lastLogIndex: Index;
  readonly lastLogTerm: Term;
}

export interface VoteMessage extends MessageHeader {
  readonly type: "vote";
  readonly lastLogIndex: Index;
  readonly lastLogTerm: Term;
  /** Set when the vote follows a leadership transfer (timeoutNow): voters ignore leader leases. */
  readonly transfer: boolean;
}

export interface VoteResponseMessage extends MessageHeader {
  readonly type: "preVoteResp" | "voteResp";
  readonly reject: boolean;
}

/** AppendEntries: entries follow the entry at (prevLogIndex, prevLogTerm). */
export interface AppendMessage extends MessageHeader {
  readonly type: "append";
  readonly prevLogIndex: Index;
  readonly prevLogTerm: Term;
  readonly entries: readonly Entry[];
  readonly commit: Index;
}

export interface AppendResponseMessage extends MessageHeader {
  readonly type: "appendResp";
  /** Accepted: the last index now known to match. Rejected: the prevLogIndex that did not match. */
  readonly index: Index;
  readonly reject: boolean;
  /**
   * On rejection, the fast-backtracking hint: the follower's best guess of where its log
   * may still match (at most its last index), and the term of its entry there.
   */
  readonly rejectHint: Index;
  readonly hintTerm: Term;
}

export interface HeartbeatMessage extends MessageHeader {
  readonly type: "heartbeat";
  /** min(leader commit, follower match): never tells a follower to commit what it may not have. */
  readonly commit: Index;
  /** Non-empty when the heartbeat confirms leadership for pending ReadIndex requests. */
  readonly context: Uint8Array;
}

export interface HeartbeatResponseMessage extends MessageHeader {
  readonly type: "heartbeatResp";
  readonly context: Uint8Array;
}

/** One chunk of a snapshot; chunks of one snapshot are sent in order, each acknowledged. */
export interface SnapshotChunkMessage extends MessageHeader {
  readonly type: "snapshot";
  readonly metadata: SnapshotMetadata;
  /** Byte offset of this chunk within the snapshot data. */
  readonly offset: number;
  /** Total size of the snapshot data in bytes. */
  readonly totalBytes: number;
  readonly chunk: Uint8Array;
}

export interface SnapshotChunkResponseMessage extends MessageHeader {
  readonly type: "snapshotResp";
  readonly snapshotIndex: Index;
  /** The offset the follower expects next (equals totalBytes once the snapshot is installed). */
  readonly nextOffset: number;
  readonly reject: boolean;
}

/** Leadership transfer: the leader tells an up-to-date follower to campaign at once. */
export interface TimeoutNowMessage extends MessageHeader {
  readonly type: "timeoutNow";
}

/** A follower forwards a ReadIndex request to its leader. */
export interface ReadIndexMessage extends MessageHeader {
  readonly type: "readIndex";
  readonly context: Uint8Array;
}

/** The leader's answer to a forwarded ReadIndex, sent once leadership was confirmed. */
export interface ReadIndexResponseMessage extends MessageHeader {
  readonly type: "readIndexResp";
  readonly context: Uint8Array;
  readonly index: Index;
}

export type Message =
  | PreVoteMessage
  | VoteMessage
  | VoteResponseMessage
  | AppendMessage
  | AppendResponseMessage
  | HeartbeatMessage
  | HeartbeatResponseMessage
  | SnapshotChunkMessage
  | SnapshotChunkResponseMessage
  | TimeoutNowMessage
  | ReadIndexMessage
  | ReadIndexResponseMessage;

export type MessageType = Message["type"];

export const MESSAGE_TYPES: readonly MessageType[] = [
  "preVote",
  "vote",
  "preVoteResp",
  "voteResp",
  "append",
  "appendResp",
  "heartbeat",
  "heartbeatResp",
  "snapshot",
  "snapshotResp",
  "timeoutNow",
  "readIndex",
  "readIndexResp",
];

/** A source of randomness. The core uses nothing else, so a seed replays a run exactly. */
export interface Rng {
  /** A uniformly distributed integer in [0, maxExclusive). */
  nextInt(maxExclusive: number): number;
}

/**
 * Structured logging hook. The core never writes anywhere itself; the server passes a pino
 * child logger, the simulator passes nothing or a recorder.
 */
export interface RaftLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}
