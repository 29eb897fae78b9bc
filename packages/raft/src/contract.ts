// The contract between the Raft core and the code that drives it (the server, the
// simulator): what the core reads from the application's log storage, how it is
// configured, and what each Ready asks the driver to do, in which order.

import type {
  ConfState,
  Entry,
  HardState,
  Index,
  Message,
  NodeId,
  RaftLogger,
  ReadState,
  Rng,
  Snapshot,
  SoftState,
  Term,
} from "./types.js";

/**
 * The durable log as the core sees it: a synchronous view kept by the driver. The driver
 * writes a Ready's entries, hard state and snapshot to disk first, then mirrors them here
 * (see MemoryStorage), so everything this view returns is already durable.
 */
export interface RaftStorage {
  /** The hard state and membership the node restarts with. */
  initialState(): { hardState: HardState; confState: ConfState };
  /**
   * Entries in [lo, hi), at least one if any exist in range, and beyond the first no more
   * than maxBytes in total. Throws CompactedError if lo <= the snapshot index.
   */
  entries(lo: Index, hi: Index, maxBytes: number): Entry[];
  /** The term of the entry at index (the snapshot's term at its index); CompactedError below. */
  term(index: Index): Term;
  /** Index of the first entry still in the log (snapshot index + 1). */
  firstIndex(): Index;
  lastIndex(): Index;
  /** The most recent snapshot (an empty one at index 0 when none was taken). */
  snapshot(): Snapshot;
}

export interface RaftConfig {
  /** This node's id; never NO_NODE. */
  readonly id: NodeId;
  readonly storage: RaftStorage;
  /** The only source of randomness (election timeout jitter). */
  readonly rng: Rng;
  /**
   * Ticks without hearing from a leader before a follower campaigns. The actual timeout is
   * drawn uniformly from [electionTicks, 2 * electionTicks) after every reset.
   * Must be greater than heartbeatTicks (etcd's advice: 10 x).
   */
  readonly electionTicks: number;
  /** Ticks between leader heartbeats. */
  readonly heartbeatTicks: number;
  /**
   * The last index the application has applied (on restart). Committed entries at or below
   * it are not handed out again. 0 for a fresh node.
   */
  readonly applied?: Index;
  /** Upper bound on the bytes of entries in one append message (at least one entry is always sent). Default 1 MiB. */
  readonly maxAppendBytes?: number;
  /** Upper bound on unacknowledged append messages per follower in replicate state. Default 256. */
  readonly maxInflightAppends?: number;
  /**
   * Upper bound on the bytes of entries the leader accepts but has not committed; proposals
   * beyond it are refused with "overloaded" (one is always accepted when none is pending).
   * Default 64 MiB.
   */
  readonly maxUncommittedBytes?: number;
  /** Bytes of snapshot data per snapshot chunk message. Default 256 KiB. */
  readonly snapshotChunkBytes?: number;
  /** Upper bound on the bytes of committedEntries in one Ready (at least one entry). Default 4 MiB. */
  readonly maxApplyBytes?: number;
  /** Upper bound on ReadIndex requests a leader holds unanswered; beyond it reads are refused with "overloaded". Default 4096. */
  readonly maxPendingReads?: number;
  /** Upper bound on the declared size of a snapshot a follower accepts to buffer. Default 1 GiB. */
  readonly maxSnapshotBytes?: number;
  /** Pre-vote (Raft thesis 9.6): a node that cannot win does not bump terms. Default true. */
  readonly preVote?: boolean;
  /**
   * Check-quorum: a leader that has not heard from a majority within an election timeout
   * steps down; followers that heard from a leader recently ignore votes (leader lease).
   * Default true. Required for ReadIndex safety against a deposed leader.
   */
  readonly checkQuorum?: boolean;
  readonly logger?: RaftLogger;
}

/**
 * Everything the driver must do after a step. In this order:
 *  1. persist `hardState`, `entries` (which may replace a suffix starting at entries[0].index)
 *     and `snapshot` to stable storage, with one fsync when `mustSync` (a snapshot goes
 *     before the entries: entries of the same Ready continue after it);
 *  2. mirror them into the RaftStorage view;
 *  3. only then send `messages` (they may promise what step 1 made durable) — except the
 *     leader's replication traffic (`mayLeaveBeforePersist`), which may go out before or
 *     during step 1: the leader counts its own copy towards commit only after advance();
 *  4. apply `snapshot` (if any) then `committedEntries` to the state machine, in order;
 *     once those are applied, entries that become committed while step 1 is still in
 *     flight may be taken with RawNode.committedDuringWrite() and applied as they come;
 *  5. serve `readStates` once the applied index reaches each one's index;
 *  6. call advance().
 */
export interface Ready {
  /** Set when leader or role changed since the last Ready. */
  readonly softState?: SoftState;
  /** Set when term, vote or commit changed since the last Ready. */
  readonly hardState?: HardState;
  /** Entries to append to stable storage. */
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader, to persist and then restore. */
  readonly snapshot?: Snapshot;
  /** Entries known to be committed, to apply in order; all already durable. */
  readonly committedEntries: readonly Entry[];
  /** Messages to send after persisting. */
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  /** Whether this Ready must be fsynced (term, vote or entries changed). */
  readonly mustSync: boolean;
}

/** Why a proposal or a request was not accepted. Expected conditions are values, not exceptions. */
export type RefusalReason =
  /** Only the leader accepts it; `leader` is the best known leader (NO_NODE if unknown). */
  | "notLeader"
  /** A leadership transfer is in progress. */
  | "transferring"
  /** Another membership change is not yet applied. */
  | "confChangePending"
  /** The uncommitted-bytes limit was reached. */
  | "overloaded"
  /** The request does not make sense (unknown node, already a member, malformed). */
  | "invalid";

export type ProposeResult =
  | { readonly ok: true; readonly index: Index; readonly term: Term }
  | { readonly ok: false; readonly reason: RefusalReason; readonly leader: NodeId };

export type RequestResult = { readonly ok: true } | { readonly ok: false; readonly reason: RefusalReason; readonly leader: NodeId };

/**
 * Whether a message may be sent before its Ready's writes are durable. Only a leader's
 * replication traffic (append, heartbeat, snapshot): it promises nothing about the sender's
 * disk, and the leader counts its own entries towards commit only once advance() confirms
 * them (Raft thesis 10.2.1). Votes, acknowledgements and everything else must wait.
 */
export function mayLeaveBeforePersist(message: Message): boolean {
  return message.type === "append" || message.type === "heartbeat" || message.type === "snapshot";
}
