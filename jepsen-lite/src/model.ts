// What the linearizability checker needs from a model of the system under test.

import type { Operation } from "./history.js";
import type { Result } from "./json.js";

/**
 * How the checker must treat one operation:
 * - required: it happened (or, for some failed operations, it observed something) and must
 *   be placed between its invoke and its completion;
 * - optional: its outcome is unknown (info); it may take effect at any point after its
 *   invoke, or never;
 * - skip: it constrains nothing (a failed write, a read whose answer was lost).
 */
export type Role = "required" | "optional" | "skip";

export interface ModelOp<I> {
  readonly role: Role;
  /** The operation as the model sees it: the request plus whatever the completion told. */
  readonly input: I;
}

/**
 * A sequential specification. Every function is pure: the same arguments always give the
 * same answer, and states are never mutated (the search keeps old ones to backtrack to).
 */
export interface Model<S, I> {
  readonly name: string;
  init(): S;
  /** Decodes and validates one operation's values; an error names what is wrong. */
  decode(op: Operation): Result<ModelOp<I>, string>;
  /** The state after applying the operation, or undefined when it cannot happen in `state`. */
  step(state: S, input: I): S | undefined;
  /** Equal states have equal hashes and different states different ones: it is a cache key. */
  hash(state: S): string;
  describeState(state: S): string;
}
