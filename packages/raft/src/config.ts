// RaftConfig with every default filled in and every dependency between fields checked.

import type { RaftConfig } from "./contract.js";
import { NO_NODE } from "./types.js";

export const DEFAULT_MAX_APPEND_BYTES = 1024 * 1024;
export const DEFAULT_MAX_INFLIGHT_APPENDS = 256;
export const DEFAULT_MAX_UNCOMMITTED_BYTES = 64 * 1024 * 1024;
export const DEFAULT_SNAPSHOT_CHUNK_BYTES = 256 * 1024;
export const DEFAULT_MAX_APPLY_BYTES = 4 * 1024 * 1024;
export const DEFAULT_MAX_PENDING_READS = 4096;
export const DEFAULT_MAX_SNAPSHOT_BYTES = 1024 * 1024 * 1024;
/** ReadIndex contexts are map keys and travel in every heartbeat: keep them small. */
export const MAX_READ_CONTEXT_BYTES = 1024;

export interface Limits {
  readonly maxAppendBytes: number;
  readonly maxInflightAppends: number;
  readonly maxUncommittedBytes: number;
  readonly snapshotChunkBytes: number;
  readonly maxApplyBytes: number;
  readonly maxPendingReads: number;
  readonly maxSnapshotBytes: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
}

export function resolveLimits(config: RaftConfig): Limits {
  if (config.id === NO_NODE || !Number.isInteger(config.id) || config.id < 0) throw new Error(`raft config: bad id ${config.id}`);
  positive("electionTicks", config.electionTicks);
  positive("heartbeatTicks", config.heartbeatTicks);
  if (config.electionTicks <= config.heartbeatTicks) {
    throw new Error(`raft config: electionTicks (${config.electionTicks}) must exceed heartbeatTicks (${config.heartbeatTicks})`);
  }
  const limits: Limits = {
    maxAppendBytes: config.maxAppendBytes ?? DEFAULT_MAX_APPEND_BYTES,
    maxInflightAppends: config.maxInflightAppends ?? DEFAULT_MAX_INFLIGHT_APPENDS,
    maxUncommittedBytes: config.maxUncommittedBytes ?? DEFAULT_MAX_UNCOMMITTED_BYTES,
    snapshotChunkBytes: config.snapshotChunkBytes ?? DEFAULT_SNAPSHOT_CHUNK_BYTES,
    maxApplyBytes: config.maxApplyBytes ?? DEFAULT_MAX_APPLY_BYTES,
    maxPendingReads: config.maxPendingReads ?? DEFAULT_MAX_PENDING_READS,
    maxSnapshotBytes: config.maxSnapshotBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES,
    preVote: config.preVote ?? true,
    checkQuorum: config.checkQuorum ?? true,
  };
  for (const [name, value] of Object.entries(limits)) if (typeof value === "number") positive(name, value);
  return limits;
}

function positive(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`raft config: ${name} must be a positive integer, got ${value}`);
}
