// The typed errors of the storage package. Expected conditions a caller can act on (a data
// directory that belongs to another node, a corrupt record, an overloaded queue) are
// distinct classes with a code, so the server can refuse to start with a precise message
// instead of guessing from text.

export type StorageErrorCode =
  | "CORRUPT_RECORD"
  | "IDENTITY_MISMATCH"
  | "UNSUPPORTED_FORMAT"
  | "CLOSED"
  | "FAILED"
  | "OVERLOADED";

/** Who a data directory belongs to. Written once when the directory is created. */
export interface NodeIdentity {
  readonly clusterId: string;
  readonly region: string;
  readonly nodeId: number;
}

export function formatIdentity(identity: NodeIdentity): string {
  return `cluster ${JSON.stringify(identity.clusterId)} region ${JSON.stringify(identity.region)} node ${identity.nodeId}`;
}

/**
 * A record read from disk failed its checksum, its shape, or a cross-record invariant.
 * `record` names it ("entry 17", "hard state", "snapshot chunk 2"), `keyHex` is its key,
 * `index` the log index where one applies. Recovery stops here: it never drops or invents
 * entries to get past a bad record.
 */
export class StorageCorruptionError extends Error {
  readonly code = "CORRUPT_RECORD" as const;
  constructor(
    readonly record: string,
    readonly keyHex: string,
    readonly reason: string,
    readonly index: number | null = null,
  ) {
    super(`storage: corrupt record ${record} (key ${keyHex}): ${reason}`);
    this.name = "StorageCorruptionError";
  }
}

/** The data directory was created for another node; using it would merge two nodes' logs. */
export class IdentityMismatchError extends Error {
  readonly code = "IDENTITY_MISMATCH" as const;
  constructor(readonly expected: NodeIdentity, readonly found: NodeIdentity) {
    super(`storage: data directory belongs to ${formatIdentity(found)}, not to ${formatIdentity(expected)}`);
    this.name = "IdentityMismatchError";
  }
}

/** The directory was written by a format version this code does not read. */
export class UnsupportedFormatError extends Error {
  readonly code = "UNSUPPORTED_FORMAT" as const;
  constructor(readonly found: number, readonly supported: number) {
    super(`storage: format version ${found} is not supported (this build reads version ${supported})`);
    this.name = "UnsupportedFormatError";
  }
}

export class StorageClosedError extends Error {
  readonly code = "CLOSED" as const;
  constructor() {
    super("storage: the log is closed");
    this.name = "StorageClosedError";
  }
}

/**
 * A write failed or an update broke an invariant. The in-memory state may no longer match
 * the disk, so the log refuses every later call: the node must restart and recover from
 * what is durable.
 */
export class StorageFailedError extends Error {
  readonly code = "FAILED" as const;
  constructor(override readonly cause: unknown) {
    super(`storage: the log has failed and refuses further writes: ${describeCause(cause)}`);
    this.name = "StorageFailedError";
  }
}

/** Too many calls are waiting for their fsync; the caller should slow down. */
export class StorageOverloadedError extends Error {
  readonly code = "OVERLOADED" as const;
  constructor(readonly pendingCalls: number, readonly pendingCallsMax: number) {
    super(`storage: ${pendingCalls} calls are already waiting (pendingCallsMax ${pendingCallsMax})`);
    this.name = "StorageOverloadedError";
  }
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
