// One geolock lock name in exclusive mode: acquire, release, status, with fencing tokens
// that strictly increase across grants. See README.md ("The lock model") for the rules.

import type { Operation } from "../history.js";
import type { Result } from "../json.js";
import { decodeAcquireRequest, decodeGrant, decodeReleaseRequest, decodeStatus } from "../lock-values.js";
import type { Model, ModelOp } from "../model.js";

/**
 * The grant in force. Its token is null when it came from an acquire whose outcome was
 * unknown (info): it is then only known to be at least `minToken`.
 */
export interface Holder {
  readonly session: string | null;
  readonly token: number | null;
  readonly minToken: number;
}

export interface LockState {
  readonly holder: Holder | null;
  /**
   * The smallest token the next grant may carry: one above the highest token known to have
   * been granted. Grants with unknown tokens leave it alone, so it is a lower bound (sound:
   * it never rejects a legal history).
   */
  readonly floor: number;
}

export type LockInput =
  /** token null: the outcome is unknown, so the token is too. */
  | { readonly kind: "acquire"; readonly session: string | null; readonly token: number | null }
  | { readonly kind: "release"; readonly session: string | null; readonly token: number | null }
  | { readonly kind: "status"; readonly holder: string | null; readonly token: number | null };

/** geolock writes to guarded resources appear in lock histories; the fencing checker reads them. */
const FENCING_FUNCTIONS: readonly string[] = ["write"];

function decode(op: Operation): Result<ModelOp<LockInput>, string> {
  switch (op.f) {
    case "acquire":
      return decodeAcquire(op);
    case "release":
      return decodeRelease(op);
    case "status":
      return decodeStatusOp(op);
    default:
      if (FENCING_FUNCTIONS.includes(op.f)) return { ok: true, value: { role: "skip", input: { kind: "status", holder: null, token: null } } };
      return { ok: false, error: `the lock model has no operation ${JSON.stringify(op.f)} (acquire, release, status, write)` };
  }
}

function decodeAcquire(op: Operation): Result<ModelOp<LockInput>, string> {
  const request = decodeAcquireRequest(op.invokeValue);
  if (!request.ok) return request;
  if (request.value.mode !== "exclusive") return { ok: false, error: "the lock model checks exclusive mode only; use the mutual exclusion checker for shared locks" };
  const session = request.value.session;
  // A failed acquire constrains nothing: it may have failed for NO_QUORUM or SESSION_EXPIRED
  // as well as because the lock was held.
  if (op.outcome === "fail") return { ok: true, value: { role: "skip", input: { kind: "acquire", session, token: null } } };
  if (op.outcome === "info") return { ok: true, value: { role: "optional", input: { kind: "acquire", session, token: null } } };
  const grant = decodeGrant(op.resultValue);
  if (!grant.ok) return grant;
  if (session !== null && grant.value.session !== null && session !== grant.value.session) {
    return { ok: false, error: `acquire for session ${session} was granted to session ${grant.value.session}` };
  }
  return { ok: true, value: { role: "required", input: { kind: "acquire", session: session ?? grant.value.session, token: grant.value.token } } };
}

function decodeRelease(op: Operation): Result<ModelOp<LockInput>, string> {
  const request = decodeReleaseRequest(op.invokeValue);
  if (!request.ok) return request;
  // A failed release (NOT_HOLDER, ...) changed nothing; like a failed acquire it is not
  // taken as proof of who held the lock.
  const role = op.outcome === "ok" ? "required" : op.outcome === "info" ? "optional" : "skip";
  return { ok: true, value: { role, input: { kind: "release", ...request.value } } };
}

function decodeStatusOp(op: Operation): Result<ModelOp<LockInput>, string> {
  if (op.invokeValue !== null) return { ok: false, error: "status is invoked with value null" };
  if (op.outcome !== "ok") return { ok: true, value: { role: "skip", input: { kind: "status", holder: null, token: null } } };
  const status = decodeStatus(op.resultValue);
  if (!status.ok) return status;
  return { ok: true, value: { role: "required", input: { kind: "status", ...status.value } } };
}

function step(state: LockState, input: LockInput): LockState | undefined {
  switch (input.kind) {
    case "acquire":
      return acquire(state, input.session, input.token);
    case "release":
      return release(state, input.session, input.token);
    case "status":
      return status(state, input.holder, input.token);
  }
}

function acquire(state: LockState, session: string | null, token: number | null): LockState | undefined {
  const holder = state.holder;
  if (holder !== null) {
    // The holder asking again gets its grant back, the same token (geolock: the same
    // session, or for a global lock the same client and owner), and nothing changes.
    if (session !== null && token !== null && holder.session === session && sameGrant(holder, session, token)) {
      return { holder: { session, token, minToken: token }, floor: Math.max(state.floor, token + 1) };
    }
    // Exclusive: any other grant while held is a double grant. An unknown acquire that
    // reached a held lock simply did not take effect.
    return token === null ? state : undefined;
  }
  // The floor stays: the grant may never have happened, and if it did its token is unknown.
  // Should a status reveal the token, the floor moves past it then.
  if (token === null) return { holder: { session, token: null, minToken: state.floor }, floor: state.floor };
  if (token < state.floor) return undefined;
  return { holder: { session, token, minToken: token }, floor: token + 1 };
}

/** Whether the holder can be the grant a release or status names; unknown parts match. */
function sameGrant(holder: Holder, session: string | null, token: number | null): boolean {
  if (session !== null && holder.session !== null && session !== holder.session) return false;
  if (token === null) return true;
  return holder.token === null ? token >= holder.minToken : token === holder.token;
}

function release(state: LockState, session: string | null, token: number | null): LockState | undefined {
  const holder = state.holder;
  if (holder === null || !sameGrant(holder, session, token)) return undefined;
  const floor = holder.token === null && token !== null ? Math.max(state.floor, token + 1) : state.floor;
  return { holder: null, floor };
}

function status(state: LockState, holderSeen: string | null, token: number | null): LockState | undefined {
  const holder = state.holder;
  if (holderSeen === null) return holder === null ? state : undefined;
  if (holder === null || !sameGrant(holder, holderSeen, token)) return undefined;
  // A status can reveal what an unknown acquire was granted: remember it.
  if (holder.session !== null && (holder.token !== null || token === null)) return state;
  const learnedToken = holder.token ?? token;
  const learned: Holder = { session: holderSeen, token: learnedToken, minToken: learnedToken ?? holder.minToken };
  return { holder: learned, floor: learnedToken === null ? state.floor : Math.max(state.floor, learnedToken + 1) };
}

function hash(state: LockState): string {
  const h = state.holder;
  const holder = h === null ? "free" : `${JSON.stringify(h.session)},${h.token ?? `>=${h.minToken}`}`;
  return `${holder};${state.floor}`;
}

function describeState(state: LockState): string {
  const h = state.holder;
  const next = `next token >= ${state.floor}`;
  if (h === null) return `free, ${next}`;
  const token = h.token === null ? `an unknown token >= ${h.minToken}` : `token ${h.token}`;
  return `held by ${h.session === null ? "an unnamed session" : `session ${JSON.stringify(h.session)}`} with ${token}, ${next}`;
}

export const lockModel: Model<LockState, LockInput> = {
  name: "lock",
  init: () => ({ holder: null, floor: 0 }),
  decode,
  step,
  hash,
  describeState,
};
