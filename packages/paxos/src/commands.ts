// What Paxos chooses (values: batches of global lock commands), what they answer, and the
// commands a region appends to its own Raft log to change its replicated global state.

import type { Ballot } from "./ballot.js";
import type { FencingToken, GlobalKey, Instance, RegionId } from "./types.js";

/** Who holds a global lock: the client (and its owner label) and the region it came through. */
export interface Holder {
  readonly region: RegionId;
  readonly clientId: string;
  /** Free text the application chooses (a session id, a hostname); 0..ownerBytesMax bytes. */
  readonly owner: string;
}

/** Exactly-once identity of a client command. A client's seqs increase per key. */
export interface RequestId {
  readonly clientId: string;
  readonly seq: number;
}

/**
 * A command on one global key. The key is not repeated: it is the key of the Paxos log the
 * command is chosen in. Whether it succeeds is decided when the table applies it, in
 * instance order, so proposing never depends on (possibly stale) local state.
 */
export type LockCommand =
  /** Try-lock: granted if free (or already held by this very holder), else "held". */
  | { readonly type: "acquire"; readonly requestId: RequestId; readonly holder: Holder; readonly ttlMs: number }
  /** Lease renewal by the holder; raises the lease version. */
  | { readonly type: "renew"; readonly requestId: RequestId; readonly token: FencingToken; readonly ttlMs: number }
  | { readonly type: "release"; readonly requestId: RequestId; readonly token: FencingToken }
  /**
   * Proposed by a region whose lease clock ran out for (token, leaseVersion). It frees the
   * key only if that lease is still the current one: a renew chosen earlier wins.
   */
  | { readonly type: "expire"; readonly token: FencingToken; readonly leaseVersion: number };

/** What one Paxos instance decides: a batch of commands, applied in order. Empty = no-op. */
export type PaxosValue = readonly LockCommand[];

export type LockAnswer =
  | { readonly kind: "granted"; readonly token: FencingToken; readonly leaseVersion: number; readonly ttlMs: number }
  /** Try-lock refused: somebody else holds it. */
  | { readonly kind: "held"; readonly holder: Holder; readonly token: FencingToken }
  | { readonly kind: "renewed"; readonly token: FencingToken; readonly leaseVersion: number; readonly ttlMs: number }
  | { readonly kind: "released"; readonly token: FencingToken }
  /** The token (with this client) does not hold the key any more (released or expired). */
  | { readonly kind: "notHolder" }
  | { readonly kind: "expired"; readonly token: FencingToken }
  /** An expire for a lease that was renewed, released or expired since: nothing changes. */
  | { readonly kind: "staleLease" }
  /** A seq older than the client's latest on this key: it is never applied (again). */
  | { readonly kind: "staleSequence" };

/** One command as a region's table applied it; the driver answers the matching client. */
export interface AppliedCommand {
  readonly key: GlobalKey;
  readonly instance: Instance;
  readonly command: LockCommand;
  readonly answer: LockAnswer;
  /** True when a retry got the remembered answer instead of being applied again. */
  readonly duplicate: boolean;
}

/** The lease a holder has, as the table records it. */
export interface HolderLease {
  readonly holder: Holder;
  readonly token: FencingToken;
  /** 1 at the grant, +1 per renew: names one lease period for expire. */
  readonly leaseVersion: number;
  readonly ttlMs: number;
}

/** A client's latest command on a key and its answer (exactly-once). */
export interface DedupRecord {
  readonly clientId: string;
  readonly seq: number;
  readonly answer: LockAnswer;
  /** The instance that applied it: the least recently used record is evicted first. */
  readonly instance: Instance;
}

/**
 * Everything the table knows about one key after applying instances 1..applied. It is a
 * deterministic function of the chosen sequence, so any region's copy at the same instance
 * is equal, and a lagging region may install it instead of replaying the instances.
 */
export interface KeyState {
  readonly applied: Instance;
  /** The token the next grant gets; never decreases. Starts at 1. */
  readonly nextToken: FencingToken;
  readonly holder: HolderLease | null;
  /** Sorted by clientId. */
  readonly dedup: readonly DedupRecord[];
}

/**
 * Commands a region appends to its own Raft log; every replica applies them in log order.
 * prepare/accept come from a peer's (or the own) proposer; the reply is sent only after the
 * command is applied, i.e. committed in the region, so a promise survives any node's loss.
 */
export type ReplicaCommand =
  | { readonly type: "prepare"; readonly from: RegionId; readonly key: GlobalKey; readonly ballot: Ballot; readonly fromInstance: Instance }
  | {
      readonly type: "accept";
      readonly from: RegionId;
      readonly key: GlobalKey;
      readonly ballot: Ballot;
      readonly instance: Instance;
      readonly value: PaxosValue;
    }
  /** A chosen value, from a `chosen` message. */
  | { readonly type: "learn"; readonly key: GlobalKey; readonly instance: Instance; readonly value: PaxosValue }
  /** A peer's key state, from catch-up, for a region too far behind to replay. */
  | { readonly type: "installKey"; readonly key: GlobalKey; readonly state: KeyState };
