// @geolock/locks: the lock state machine (pure, deterministic, no I/O). See README.md.

export type { ApplyResult, HolderRef, LockAnswer, LockEvent, ReleaseReason } from "./answers.js";
export { HELD_ANSWER_HOLDERS_MAX } from "./answers.js";
export type {
  AcquireCommand,
  ClientCommand,
  CloseSessionCommand,
  CommandType,
  KeepAliveCommand,
  LockCommand,
  OpenSessionCommand,
  ReleaseCommand,
  TickCommand,
  ValidateResult,
} from "./commands.js";
export { COMMAND_FIELDS, COMMAND_TYPES, validateCommand } from "./commands.js";
export type { LockConfig } from "./config.js";
export { DEFAULT_LOCK_CONFIG } from "./config.js";
export type { ClientRecordSnapshot } from "./dedup.js";
export type { ErrorAnswer, ErrorCode } from "./errors.js";
export { ERROR_CODES, InvariantError } from "./errors.js";
export type { HolderSnapshot, LockEntrySnapshot, LockSnapshot, SessionSnapshot, WaiterSnapshot } from "./snapshot.js";
export { SNAPSHOT_VERSION } from "./snapshot.js";
export type { HolderView, LockStats, LockStatus, RestoreResult, SessionInfo, WaiterView } from "./state-machine.js";
export { LockStateMachine } from "./state-machine.js";
export { CLIENT_ID_BYTES_MAX, NAME_BYTES_MAX, OWNER_BYTES_MAX, textProblem } from "./text.js";
export type { FencingToken, LockMode, LockRef, LogPosition, SessionId } from "./types.js";
export { asFencingToken, asSessionId, LOCK_MODES } from "./types.js";
