// The public entry of @geolock/raft.

export * from "./types.js";
export * from "./contract.js";
export { SeededRng } from "./rng.js";
export { MemoryStorage, CompactedError, ENTRY_OVERHEAD_BYTES, EMPTY_CONF_STATE, emptySnapshot, entryBytes } from "./memory-storage.js";
export { RawNode } from "./raw-node.js";
export { Raft } from "./raft.js";
export type { RaftStatus, PeerProgress } from "./status.js";
export type { ProgressState } from "./progress.js";
export { encodeConfChange, decodeConfChange, applyConfChange, CONF_CHANGE_BYTES } from "./conf-change.js";
export {
  DEFAULT_MAX_APPEND_BYTES,
  DEFAULT_MAX_INFLIGHT_APPENDS,
  DEFAULT_MAX_UNCOMMITTED_BYTES,
  DEFAULT_SNAPSHOT_CHUNK_BYTES,
  DEFAULT_MAX_APPLY_BYTES,
  DEFAULT_MAX_PENDING_READS,
  DEFAULT_MAX_SNAPSHOT_BYTES,
  MAX_READ_CONTEXT_BYTES,
} from "./config.js";
