// Commands the state machine applies, and validateCommand: the one place where an
// untrusted value (a decoded client request stamped by the leader, or a decoded log entry)
// becomes a typed command. The server calls it before proposing, to answer bad requests
// without a round trip; apply calls it again, because the log is a boundary too.

import { DEFAULT_LOCK_CONFIG, type LockConfig } from "./config.js";
import { DecodeError, integer, oneOf, record, text, type Fields } from "./decode.js";
import { errorAnswer, type ErrorAnswer } from "./errors.js";
import { CLIENT_ID_BYTES_MAX, NAME_BYTES_MAX, OWNER_BYTES_MAX } from "./text.js";
import { asSessionId, LOCK_MODES, TIME_MS_MAX, type LockMode, type SessionId } from "./types.js";

/**
 * Every command carries nowMs: the reading of the current leader's monotonic clock (in ms,
 * an integer), taken by the leader when it proposes the command. Never a follower's clock,
 * never a wall clock.
 */
interface Stamped {
  readonly nowMs: number;
}

/**
 * Client commands carry (clientId, seq) for exactly-once application: a command whose pair
 * was applied before answers the first answer again and changes nothing.
 */
interface FromClient extends Stamped {
  readonly clientId: string;
  readonly seq: number;
}

export interface OpenSessionCommand extends FromClient {
  readonly type: "openSession";
  readonly ttlMs: number;
}

export interface KeepAliveCommand extends FromClient {
  readonly type: "keepAlive";
  readonly sessionId: SessionId;
}

export interface CloseSessionCommand extends FromClient {
  readonly type: "closeSession";
  readonly sessionId: SessionId;
}

export interface AcquireCommand extends FromClient {
  readonly type: "acquire";
  readonly sessionId: SessionId;
  readonly name: string;
  readonly mode: LockMode;
  /** 0: try-lock, answer at once. Otherwise queue for at most this long. */
  readonly waitMs: number;
  /** A label for the holder, shown by status (e.g. "worker-7 pid 4242"). */
  readonly owner: string;
}

/** Releases a held lock, or withdraws the session's wait on it. */
export interface ReleaseCommand extends FromClient {
  readonly type: "release";
  readonly sessionId: SessionId;
  readonly name: string;
}

/** Proposed by the leader periodically: lets time pass, so that what is due expires. */
export interface TickCommand extends Stamped {
  readonly type: "tick";
}

export type ClientCommand = OpenSessionCommand | KeepAliveCommand | CloseSessionCommand | AcquireCommand | ReleaseCommand;
export type LockCommand = ClientCommand | TickCommand;
export type CommandType = LockCommand["type"];

export const COMMAND_TYPES: readonly CommandType[] = ["openSession", "keepAlive", "closeSession", "acquire", "release", "tick"];

export type ValidateResult = { readonly ok: true; readonly command: LockCommand } | { readonly ok: false; readonly error: ErrorAnswer };

const CLIENT_KEYS = ["type", "nowMs", "clientId", "seq"] as const;
/**
 * Each command type's fields, in the order a log entry's rows carry them (the server's
 * `lockRows` entries: one array per command instead of a map, about half the bytes and a
 * third of the decoding). Part of the log format: append a new type, never reorder.
 */
export const COMMAND_FIELDS: Readonly<Record<CommandType, readonly string[]>> = {
  openSession: [...CLIENT_KEYS, "ttlMs"],
  keepAlive: [...CLIENT_KEYS, "sessionId"],
  closeSession: [...CLIENT_KEYS, "sessionId"],
  acquire: [...CLIENT_KEYS, "sessionId", "name", "mode", "waitMs", "owner"],
  release: [...CLIENT_KEYS, "sessionId", "name"],
  tick: ["type", "nowMs"],
};

/**
 * Checks that `raw` is exactly one well-formed command within the config's bounds. Answers
 * INVALID_NAME for a bad lock name and INVALID_ARGUMENT for anything else; never throws.
 */
export function validateCommand(raw: unknown, config: LockConfig = DEFAULT_LOCK_CONFIG): ValidateResult {
  try {
    return { ok: true, command: decodeCommand(raw, config) };
  } catch (error) {
    if (error instanceof DecodeError) return { ok: false, error: errorAnswer(error.code, error.message) };
    throw error;
  }
}

function decodeCommand(raw: unknown, config: LockConfig): LockCommand {
  const type = typeof raw === "object" && raw !== null && !Array.isArray(raw) ? (raw as Fields)["type"] : undefined;
  const kind = oneOf(type, "command.type", COMMAND_TYPES);
  const f = record(raw, `${kind} command`, COMMAND_FIELDS[kind]);
  const nowMs = integer(f["nowMs"], "nowMs", 0, TIME_MS_MAX);
  if (kind === "tick") return { type: kind, nowMs };
  const clientId = text(f["clientId"], "clientId", 1, CLIENT_ID_BYTES_MAX);
  const seq = integer(f["seq"], "seq", 0, Number.MAX_SAFE_INTEGER);
  // One literal per type, not a spread of shared fields: this runs for every command applied.
  switch (kind) {
    case "openSession":
      return { type: kind, nowMs, clientId, seq, ttlMs: integer(f["ttlMs"], "ttlMs", config.sessionTtlMsMin, config.sessionTtlMsMax) };
    case "keepAlive":
    case "closeSession":
      return { type: kind, nowMs, clientId, seq, sessionId: sessionId(f["sessionId"]) };
    case "release":
      return { type: kind, nowMs, clientId, seq, sessionId: sessionId(f["sessionId"]), name: lockName(f["name"]) };
    case "acquire":
      return {
        type: kind,
        nowMs,
        clientId,
        seq,
        sessionId: sessionId(f["sessionId"]),
        name: lockName(f["name"]),
        mode: oneOf(f["mode"], "mode", LOCK_MODES),
        waitMs: integer(f["waitMs"], "waitMs", 0, config.waitMsMax),
        owner: text(f["owner"], "owner", 0, OWNER_BYTES_MAX),
      };
  }
}

function sessionId(value: unknown): SessionId {
  return asSessionId(integer(value, "sessionId", 1, Number.MAX_SAFE_INTEGER));
}

/** Lock names: 1..256 UTF-8 bytes, well-formed, no control characters (see text.ts). */
export function lockName(value: unknown): string {
  return text(value, "name", 1, NAME_BYTES_MAX, "INVALID_NAME");
}
