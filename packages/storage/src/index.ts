// @geolock/storage: a node's durable Raft log, hard state and snapshots on LevelDB, and an
// in-memory twin with the same code path. See README.md for the layout and the contract.

export { DurableLog, MemoryDurableLog } from "./durable-log.js";
export { NodeLog } from "./node-log.js";
export type { DurableLogOptions, LogStats, RecoveredLog } from "./node-log.js";
export type { LogUpdate } from "./transitions.js";
export { MemoryDisk } from "./record-store.js";
export type { RecordStore, StoreOp } from "./record-store.js";
export { LevelRecordStore } from "./level-store.js";
export {
  IdentityMismatchError,
  StorageClosedError,
  StorageCorruptionError,
  StorageFailedError,
  StorageOverloadedError,
  UnsupportedFormatError,
} from "./errors.js";
export type { NodeIdentity, StorageErrorCode } from "./errors.js";
export { FORMAT_VERSION } from "./write-ops.js";
