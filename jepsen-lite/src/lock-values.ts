// The values of lock histories, shared by the lock model and the fencing and mutual
// exclusion checkers. Each decoder validates an untrusted JSON value into a typed one.

import { canonicalJson, isJsonObject, isNonNegativeSafeInteger, unknownField, type JsonValue, type Result } from "./json.js";

export type LockMode = "exclusive" | "shared";

/** acquire's invoke value: null, or {session?, mode?, waitMs?}. */
export interface AcquireRequest {
  readonly session: string | null;
  readonly mode: LockMode;
}

/** acquire's ok value: {token, session?}. */
export interface Grant {
  readonly token: number;
  readonly session: string | null;
}

/** release's invoke value names the grant it ends: {token?, session?}, at least one. */
export interface ReleaseRequest {
  readonly token: number | null;
  readonly session: string | null;
}

/** status's ok value: {holder, token}; holder is the holding session or null when free. */
export interface LockStatus {
  readonly holder: string | null;
  readonly token: number | null;
}

/** A write to a guarded resource (key = resource), carrying the fencing token of `lock`. */
export interface FencedWrite {
  readonly token: number;
  /** The lock whose token this is; the resource's own key when absent. */
  readonly lock: string | null;
}

type Decoded<T> = Result<T, string>;

function fail<T>(message: string, value: JsonValue): Decoded<T> {
  return { ok: false, error: `${message}, got ${canonicalJson(value)}` };
}

function optionalString(value: JsonValue | undefined): value is string | undefined {
  return value === undefined || typeof value === "string";
}

export function decodeAcquireRequest(value: JsonValue): Decoded<AcquireRequest> {
  if (value === null) return { ok: true, value: { session: null, mode: "exclusive" } };
  if (!isJsonObject(value) || unknownField(value, ["session", "mode", "waitMs"]) !== null) {
    return fail("acquire is invoked with null or {session?, mode?, waitMs?}", value);
  }
  const { session, mode, waitMs } = value;
  if (!optionalString(session)) return fail("acquire's session must be a string", value);
  if (mode !== undefined && mode !== "exclusive" && mode !== "shared") return fail('acquire\'s mode must be "exclusive" or "shared"', value);
  if (waitMs !== undefined && !isNonNegativeSafeInteger(waitMs)) return fail("acquire's waitMs must be a non-negative integer", value);
  return { ok: true, value: { session: session ?? null, mode: mode ?? "exclusive" } };
}

export function decodeGrant(value: JsonValue): Decoded<Grant> {
  if (!isJsonObject(value) || unknownField(value, ["token", "session"]) !== null) return fail("a granted acquire completes with {token, session?}", value);
  const { token, session } = value;
  if (!isNonNegativeSafeInteger(token)) return fail("a fencing token is a non-negative integer", value);
  if (!optionalString(session)) return fail("a grant's session must be a string", value);
  return { ok: true, value: { token, session: session ?? null } };
}

export function decodeReleaseRequest(value: JsonValue): Decoded<ReleaseRequest> {
  if (!isJsonObject(value) || unknownField(value, ["token", "session"]) !== null) return fail("release is invoked with {token?, session?}", value);
  const { token, session } = value;
  if (token === undefined && session === undefined) return fail("release must name a token or a session", value);
  if (token !== undefined && !isNonNegativeSafeInteger(token)) return fail("a fencing token is a non-negative integer", value);
  if (!optionalString(session)) return fail("release's session must be a string", value);
  return { ok: true, value: { token: token ?? null, session: session ?? null } };
}

export function decodeStatus(value: JsonValue): Decoded<LockStatus> {
  if (!isJsonObject(value) || unknownField(value, ["holder", "token"]) !== null) return fail("status completes with {holder, token}", value);
  const { holder, token } = value;
  if (holder !== null && typeof holder !== "string") return fail("status's holder is a session string or null", value);
  if (token !== undefined && token !== null && !isNonNegativeSafeInteger(token)) return fail("status's token is a non-negative integer or null", value);
  return { ok: true, value: { holder, token: token ?? null } };
}

export function decodeFencedWrite(value: JsonValue): Decoded<FencedWrite> {
  if (!isJsonObject(value) || unknownField(value, ["token", "lock"]) !== null) return fail("a fenced write is invoked with {token, lock?}", value);
  const { token, lock } = value;
  if (!isNonNegativeSafeInteger(token)) return fail("a fencing token is a non-negative integer", value);
  if (!optionalString(lock)) return fail("a fenced write's lock must be a string", value);
  return { ok: true, value: { token, lock: lock ?? null } };
}
