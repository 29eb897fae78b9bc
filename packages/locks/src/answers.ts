// What apply hands back: the answer for the command's issuer and events for other parties.
// Answers are remembered by the dedup table and therefore travel in snapshots, so this file
// also decodes them (decodeAnswer) when a snapshot is restored.

import { array, check, integer, oneOf, record, text, type Fields } from "./decode.js";
import { ERROR_CODES, ERROR_MESSAGE_CHARS_MAX, type ErrorAnswer } from "./errors.js";
import { NAME_BYTES_MAX, OWNER_BYTES_MAX } from "./text.js";
import { asFencingToken, asSessionId, LOCK_MODES, type FencingToken, type LockMode, type LockRef, type SessionId } from "./types.js";

/** A holder as a try-lock refusal reports it. */
export interface HolderRef {
  readonly sessionId: SessionId;
  readonly owner: string;
  readonly mode: LockMode;
  readonly token: FencingToken;
}

/** A `held` answer lists at most this many holders (a shared lock may have thousands). */
export const HELD_ANSWER_HOLDERS_MAX = 8;

export type LockAnswer =
  | { readonly type: "sessionOpened"; readonly sessionId: SessionId; readonly ttlMs: number }
  | { readonly type: "keptAlive"; readonly sessionId: SessionId; readonly ttlMs: number }
  /** Lists the locks the close released, in name order. */
  | { readonly type: "sessionClosed"; readonly sessionId: SessionId; readonly released: readonly LockRef[] }
  /** The lock is held by the session: just granted, or already held in this mode (same token). */
  | { readonly type: "granted"; readonly name: string; readonly mode: LockMode; readonly token: FencingToken }
  /** Try-lock refused: the lock is held in `mode`, or others wait for it first. */
  | {
      readonly type: "held";
      readonly name: string;
      readonly mode: LockMode;
      readonly holders: readonly HolderRef[];
      readonly holderCount: number;
      readonly waiterCount: number;
    }
  /** Queued at 1-based `position`; a `granted` or `waitTimedOut` event follows. */
  | { readonly type: "queued"; readonly name: string; readonly mode: LockMode; readonly position: number }
  | { readonly type: "released"; readonly name: string; readonly token: FencingToken }
  | { readonly type: "waitCancelled"; readonly name: string }
  | { readonly type: "ticked" }
  | ErrorAnswer;

export type ReleaseReason = "released" | "closed" | "expired";

export type LockEvent =
  /** To a waiter (and watchers): its queued acquire is granted. Its session was alive at that instant. */
  | {
      readonly type: "granted";
      readonly sessionId: SessionId;
      readonly clientId: string;
      readonly name: string;
      readonly owner: string;
      readonly mode: LockMode;
      readonly token: FencingToken;
    }
  /** To a waiter: its wait deadline passed; the server reports TIMEOUT. */
  | { readonly type: "waitTimedOut"; readonly sessionId: SessionId; readonly clientId: string; readonly name: string; readonly mode: LockMode }
  /** To a session's client: the session expired; it lost these locks and waits (name order). */
  | {
      readonly type: "sessionExpired";
      readonly sessionId: SessionId;
      readonly clientId: string;
      readonly lost: readonly LockRef[];
      readonly cancelledWaits: readonly string[];
    }
  /** For watchers and audit: a holder is gone, for the given reason. */
  | {
      readonly type: "released";
      readonly sessionId: SessionId;
      readonly clientId: string;
      readonly name: string;
      readonly owner: string;
      readonly mode: LockMode;
      readonly token: FencingToken;
      readonly reason: ReleaseReason;
    }
  ;

export interface ApplyResult {
  readonly answer: LockAnswer;
  readonly events: readonly LockEvent[];
}

const ANSWER_TYPES = [
  "sessionOpened",
  "keptAlive",
  "sessionClosed",
  "granted",
  "held",
  "queued",
  "released",
  "waitCancelled",
  "ticked",
  "error",
] as const;
type AnswerType = (typeof ANSWER_TYPES)[number];

const ANSWER_KEYS: Readonly<Record<AnswerType, readonly string[]>> = {
  sessionOpened: ["type", "sessionId", "ttlMs"],
  keptAlive: ["type", "sessionId", "ttlMs"],
  sessionClosed: ["type", "sessionId", "released"],
  granted: ["type", "name", "mode", "token"],
  held: ["type", "name", "mode", "holders", "holderCount", "waiterCount"],
  queued: ["type", "name", "mode", "position"],
  released: ["type", "name", "token"],
  waitCancelled: ["type", "name"],
  ticked: ["type"],
  error: ["type", "code", "message"],
};

const COUNT_MAX = Number.MAX_SAFE_INTEGER;

const sessionIdAt = (v: unknown, path: string): SessionId => asSessionId(integer(v, path, 1, COUNT_MAX));
const tokenAt = (v: unknown, path: string): FencingToken => asFencingToken(integer(v, path, 1, COUNT_MAX));
const nameAt = (v: unknown, path: string): string => text(v, path, 1, NAME_BYTES_MAX);
const modeAt = (v: unknown, path: string): LockMode => oneOf(v, path, LOCK_MODES);

export function decodeLockRef(value: unknown, path: string): LockRef {
  const f = record(value, path, ["name", "mode", "token"]);
  return { name: nameAt(f["name"], `${path}.name`), mode: modeAt(f["mode"], `${path}.mode`), token: tokenAt(f["token"], `${path}.token`) };
}

function decodeHolderRef(value: unknown, path: string): HolderRef {
  const f = record(value, path, ["sessionId", "owner", "mode", "token"]);
  return {
    sessionId: sessionIdAt(f["sessionId"], `${path}.sessionId`),
    owner: text(f["owner"], `${path}.owner`, 0, OWNER_BYTES_MAX),
    mode: modeAt(f["mode"], `${path}.mode`),
    token: tokenAt(f["token"], `${path}.token`),
  };
}

/** Decodes an answer remembered in a snapshot's dedup table. `locksMax` bounds list lengths. */
export function decodeAnswer(value: unknown, path: string, locksMax: number): LockAnswer {
  const type = oneOf(typeof value === "object" && value !== null ? (value as Fields)["type"] : undefined, `${path}.type`, ANSWER_TYPES);
  const f = record(value, path, ANSWER_KEYS[type]);
  switch (type) {
    case "sessionOpened":
    case "keptAlive":
      return { type, sessionId: sessionIdAt(f["sessionId"], `${path}.sessionId`), ttlMs: integer(f["ttlMs"], `${path}.ttlMs`, 1, COUNT_MAX) };
    case "sessionClosed": {
      const released = array(f["released"], `${path}.released`, locksMax).map((r, i) => decodeLockRef(r, `${path}.released[${i}]`));
      return { type, sessionId: sessionIdAt(f["sessionId"], `${path}.sessionId`), released };
    }
    case "granted":
      return { type, name: nameAt(f["name"], `${path}.name`), mode: modeAt(f["mode"], `${path}.mode`), token: tokenAt(f["token"], `${path}.token`) };
    case "held":
      return decodeHeld(f, path);
    case "queued":
      return {
        type,
        name: nameAt(f["name"], `${path}.name`),
        mode: modeAt(f["mode"], `${path}.mode`),
        position: integer(f["position"], `${path}.position`, 1, COUNT_MAX),
      };
    case "released":
      return { type, name: nameAt(f["name"], `${path}.name`), token: tokenAt(f["token"], `${path}.token`) };
    case "waitCancelled":
      return { type, name: nameAt(f["name"], `${path}.name`) };
    case "ticked":
      return { type };
    case "error":
      return { type, code: oneOf(f["code"], `${path}.code`, ERROR_CODES), message: errorMessage(f["message"], `${path}.message`) };
  }
}

function decodeHeld(f: Fields, path: string): LockAnswer {
  const holders = array(f["holders"], `${path}.holders`, HELD_ANSWER_HOLDERS_MAX).map((h, i) => decodeHolderRef(h, `${path}.holders[${i}]`));
  const holderCount = integer(f["holderCount"], `${path}.holderCount`, holders.length, COUNT_MAX);
  const waiterCount = integer(f["waiterCount"], `${path}.waiterCount`, 0, COUNT_MAX);
  check(holders.length > 0, () => `${path}: a held answer names at least one holder`);
  return { type: "held", name: nameAt(f["name"], `${path}.name`), mode: modeAt(f["mode"], `${path}.mode`), holders, holderCount, waiterCount };
}

/** Messages are informational: any string within the bound errorAnswer enforces. */
function errorMessage(value: unknown, path: string): string {
  check(
    typeof value === "string" && value.length <= ERROR_MESSAGE_CHARS_MAX,
    () => `${path}: expected a string of at most ${ERROR_MESSAGE_CHARS_MAX} characters`,
  );
  return value;
}
