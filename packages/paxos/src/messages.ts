// Messages between regions. Every message names its sender and receiver region; a region
// also sends to itself (its own acceptor counts as one of the majority), and its driver
// handles those exactly like a peer's. See README "Driver" for what each one triggers.

import type { Ballot } from "./ballot.js";
import type { KeyState, PaxosValue } from "./commands.js";
import type { GlobalKey, Instance, RegionId } from "./types.js";

/** A value an acceptor accepted for one instance, reported in a promise. */
export interface AcceptedEntry {
  readonly instance: Instance;
  readonly ballot: Ballot;
  readonly value: PaxosValue;
}

interface Envelope {
  readonly from: RegionId;
  readonly to: RegionId;
  readonly key: GlobalKey;
}

/** Phase 1a: promise `ballot` for every instance of `key`; report accepted values >= fromInstance. */
export interface PrepareMessage extends Envelope {
  readonly kind: "prepare";
  readonly ballot: Ballot;
  readonly fromInstance: Instance;
}
/**
 * Phase 1b. `accepted` holds every value the acceptor accepted at instances above
 * max(fromInstance - 1, chosenThrough); instances up to chosenThrough are chosen and already
 * applied by the acceptor's region (their accepted values may have been compacted away).
 */
export interface PromiseMessage extends Envelope {
  readonly kind: "promise";
  readonly ballot: Ballot;
  readonly accepted: readonly AcceptedEntry[];
  readonly chosenThrough: Instance;
}
/** Phase 2a. */
export interface AcceptMessage extends Envelope {
  readonly kind: "accept";
  readonly ballot: Ballot;
  readonly instance: Instance;
  readonly value: PaxosValue;
}
/** Phase 2b. */
export interface AcceptedMessage extends Envelope {
  readonly kind: "accepted";
  readonly ballot: Ballot;
  readonly instance: Instance;
}
/** The acceptor has promised a higher ballot than `ballot`: the proposer lost the key. */
export interface NackMessage extends Envelope {
  readonly kind: "nack";
  readonly ballot: Ballot;
  readonly promised: Ballot;
}
/**
 * The acceptor did not take part, without a higher ballot: "overloaded" (no room for another
 * key), "behind" (the instance is beyond the window its region has learned up to) or
 * "chosen" (the instance is chosen and applied there already; see chosenThrough).
 */
export interface RefusedMessage extends Envelope {
  readonly kind: "refused";
  readonly ballot: Ballot;
  readonly instance: Instance;
  readonly reason: "overloaded" | "behind" | "chosen";
  readonly chosenThrough: Instance;
}
/** A value chosen for (key, instance): every region learns it. */
export interface ChosenMessage extends Envelope {
  readonly kind: "chosen";
  readonly instance: Instance;
  readonly value: PaxosValue;
}
/**
 * Anti-entropy. `known` lists the requester's applied instance of some keys; with `sweep`,
 * the responder also reports keys it has in (sweep.after, sweep.through] (through null: to
 * the end) that the requester did not list. The envelope key is the first listed key or "".
 */
export interface CatchUpRequestMessage extends Envelope {
  readonly kind: "catchUpRequest";
  readonly known: readonly { readonly key: GlobalKey; readonly applied: Instance }[];
  readonly sweep: { readonly after: string; readonly through: string | null } | null;
}
/** Key states newer than the requester's; resumeAfter set when the reply had to stop early. */
export interface CatchUpReplyMessage extends Envelope {
  readonly kind: "catchUpReply";
  readonly states: readonly { readonly key: GlobalKey; readonly state: KeyState }[];
  readonly resumeAfter: string | null;
}

export type PaxosMessage =
  | PrepareMessage
  | PromiseMessage
  | AcceptMessage
  | AcceptedMessage
  | NackMessage
  | RefusedMessage
  | ChosenMessage
  | CatchUpRequestMessage
  | CatchUpReplyMessage;

/** Replies a proposer consumes. */
export type ProposerInbound = PromiseMessage | AcceptedMessage | NackMessage | RefusedMessage | CatchUpReplyMessage;
