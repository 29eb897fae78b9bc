// Validation of Raft messages read from the wire. Every field of every message type in
// @geolock/raft's types.ts is checked: the discriminator, integer ranges, byte-string sizes,
// entry counts and kinds, snapshot metadata and membership, plus the few cross-field rules
// that hold for any correct sender (consecutive entry indexes, no log term above the
// message term, a snapshot chunk inside its snapshot). The result is a freshly built object
// holding only known fields, with plain Uint8Array copies of every byte string.

import type {
  ConfState,
  Entry,
  EntryKind,
  Index,
  Message,
  MessageType,
  NodeId,
  SnapshotMetadata,
  Term,
} from "@geolock/raft";
import type { ChannelValidator, PeerId, ValidationError, ValidationErrorCode, ValidationResult } from "./types.js";

/** Size bounds for Raft messages; keep them consistent with the node's Raft config. */
export interface RaftWireLimits {
  /** Most entries in one append (Raft's maxAppendBytes usually binds first). */
  readonly maxEntriesPerAppend: number;
  /** Largest `data` of a single entry. */
  readonly maxEntryBytes: number;
  /** Largest sum of entry `data` in one append; at least maxEntryBytes (one entry always fits). */
  readonly maxAppendBytes: number;
  /** Largest ReadIndex / heartbeat context. */
  readonly maxContextBytes: number;
  /** Largest snapshot chunk. */
  readonly maxSnapshotChunkBytes: number;
  /** Largest whole snapshot (`totalBytes`). */
  readonly maxSnapshotBytes: number;
  /** Most voters plus learners in a ConfState. */
  readonly maxMembers: number;
}

export const DEFAULT_RAFT_WIRE_LIMITS: RaftWireLimits = {
  maxEntriesPerAppend: 4096,
  maxEntryBytes: 1024 * 1024,
  maxAppendBytes: 4 * 1024 * 1024,
  maxContextBytes: 1024,
  maxSnapshotChunkBytes: 4 * 1024 * 1024,
  maxSnapshotBytes: 4 * 1024 * 1024 * 1024,
  maxMembers: 64,
};

/** Message keys per type, beyond the header (type, from, to, term). Exhaustive by construction. */
const BODY_KEYS: { readonly [K in MessageType]: readonly string[] } = {
  preVote: ["lastLogIndex", "lastLogTerm"],
  vote: ["lastLogIndex", "lastLogTerm", "transfer"],
  preVoteResp: ["reject"],
  voteResp: ["reject"],
  append: ["prevLogIndex", "prevLogTerm", "entries", "commit"],
  appendResp: ["index", "reject", "rejectHint", "hintTerm"],
  heartbeat: ["commit", "context"],
  heartbeatResp: ["context"],
  snapshot: ["metadata", "offset", "totalBytes", "chunk"],
  snapshotResp: ["snapshotIndex", "nextOffset", "reject"],
  timeoutNow: [],
  readIndex: ["context"],
  readIndexResp: ["context", "index"],
};

const HEADER_KEYS = ["type", "from", "to", "term"] as const;
const ENTRY_KEYS = ["term", "index", "kind", "data"] as const;
const ENTRY_KINDS: readonly EntryKind[] = ["normal", "confChange"];

/**
 * The reason a field was refused. Readers throw it and validateRaftMessage turns it into
 * a returned ValidationError: field readers stay one line each, the API stays exception-free.
 */
class FieldError extends Error {
  constructor(
    readonly code: ValidationErrorCode,
    readonly path: string,
    readonly detail: string,
  ) {
    super(`${path}: ${detail}`);
  }
}

type Fields = Readonly<Record<string, unknown>>;

/** Checks `value` against every rule of the Raft wire format; never throws. */
export function validateRaftMessage(
  value: unknown,
  limits: RaftWireLimits = DEFAULT_RAFT_WIRE_LIMITS,
): ValidationResult<Message> {
  try {
    return { ok: true, value: readMessage(value, limits) };
  } catch (error) {
    if (error instanceof FieldError) {
      return { ok: false, error: { code: error.code, path: error.path, detail: error.detail } };
    }
    throw error;
  }
}

/**
 * The validator for the Raft channel of one node. Besides validateRaftMessage it ties the
 * message to the authenticated link: `from` must be the NodeId of the peer the frame came
 * from (per `nodeIdOf`, which the server derives from its group membership) and `to` must
 * be this node. A peer outside this node's Raft group (another region) maps to nothing
 * and every Raft message from it is refused.
 */
export function raftChannelValidator(options: {
  readonly self: NodeId;
  readonly nodeIdOf: (peer: PeerId) => NodeId | undefined;
  readonly limits?: RaftWireLimits;
}): ChannelValidator<Message> {
  const limits = options.limits ?? DEFAULT_RAFT_WIRE_LIMITS;
  checkLimits(limits);
  return (payload, from) => {
    const result = validateRaftMessage(payload, limits);
    if (!result.ok) return result;
    const expectedFrom = options.nodeIdOf(from);
    if (expectedFrom === undefined || result.value.from !== expectedFrom) {
      return refusal("wrongPeer", "from", `node ${result.value.from} arrived on the link of ${from} (node ${String(expectedFrom)})`);
    }
    if (result.value.to !== options.self) {
      return refusal("wrongPeer", "to", `addressed to node ${result.value.to}, this is node ${options.self}`);
    }
    return result;
  };
}

function refusal(code: ValidationErrorCode, path: string, detail: string): { ok: false; error: ValidationError } {
  return { ok: false, error: { code, path, detail } };
}

/** Throws when the limits contradict each other or are not positive integers. */
export function checkLimits(limits: RaftWireLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`raft wire limit ${name} must be a positive integer, got ${String(value)}`);
  }
  if (limits.maxAppendBytes < limits.maxEntryBytes) {
    throw new Error(`maxAppendBytes (${limits.maxAppendBytes}) must be at least maxEntryBytes (${limits.maxEntryBytes})`);
  }
}

function readMessage(value: unknown, limits: RaftWireLimits): Message {
  const fields = record(value, "");
  const type = fields["type"];
  if (typeof type !== "string" || !Object.hasOwn(BODY_KEYS, type)) {
    throw new FieldError("unknownKind", "type", `unknown message type ${describe(type)}`);
  }
  const messageType = type as MessageType;
  exactKeys(fields, "", [...HEADER_KEYS, ...BODY_KEYS[messageType]]);
  const from = nodeId(fields, "from");
  const to = nodeId(fields, "to");
  if (from === to) throw new FieldError("inconsistent", "to", `message from node ${from} to itself`);
  const term = integer(fields, "term") as Term;
  const header = { from, to, term };
  switch (messageType) {
    case "preVote":
      return { type: messageType, ...header, ...lastLog(fields, term) };
    case "vote":
      return { type: messageType, ...header, ...lastLog(fields, term), transfer: boolean(fields, "transfer") };
    case "preVoteResp":
    case "voteResp":
      return { type: messageType, ...header, reject: boolean(fields, "reject") };
    case "append":
      return readAppend(fields, header, limits);
    case "appendResp":
      return {
        type: messageType,
        ...header,
        index: integer(fields, "index") as Index,
        reject: boolean(fields, "reject"),
        rejectHint: integer(fields, "rejectHint") as Index,
        hintTerm: integer(fields, "hintTerm") as Term,
      };
    case "heartbeat":
      return { type: messageType, ...header, commit: integer(fields, "commit") as Index, context: bytes(fields, "context", limits.maxContextBytes) };
    case "heartbeatResp":
    case "readIndex":
      return { type: messageType, ...header, context: bytes(fields, "context", limits.maxContextBytes) };
    case "readIndexResp":
      return {
        type: messageType,
        ...header,
        context: bytes(fields, "context", limits.maxContextBytes),
        index: integer(fields, "index") as Index,
      };
    case "snapshot":
      return readSnapshotChunk(fields, header, limits);
    case "snapshotResp":
      return {
        type: messageType,
        ...header,
        snapshotIndex: integer(fields, "snapshotIndex") as Index,
        nextOffset: integer(fields, "nextOffset"),
        reject: boolean(fields, "reject"),
      };
    case "timeoutNow":
      return { type: messageType, ...header };
  }
}

interface Header {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: Term;
}

function lastLog(fields: Fields, term: Term): { lastLogIndex: Index; lastLogTerm: Term } {
  const lastLogIndex = integer(fields, "lastLogIndex") as Index;
  const lastLogTerm = integer(fields, "lastLogTerm") as Term;
  if (lastLogTerm > term) throw new FieldError("inconsistent", "lastLogTerm", `last log term ${lastLogTerm} above message term ${term}`);
  return { lastLogIndex, lastLogTerm };
}

function readAppend(fields: Fields, header: Header, limits: RaftWireLimits): Message {
  const prevLogIndex = integer(fields, "prevLogIndex") as Index;
  const prevLogTerm = integer(fields, "prevLogTerm") as Term;
  if (prevLogTerm > header.term) {
    throw new FieldError("inconsistent", "prevLogTerm", `prevLogTerm ${prevLogTerm} above message term ${header.term}`);
  }
  const raw = fields["entries"];
  if (!Array.isArray(raw)) throw new FieldError("wrongType", "entries", `expected an array, got ${describe(raw)}`);
  if (raw.length > limits.maxEntriesPerAppend) {
    throw new FieldError("tooLarge", "entries", `${raw.length} entries, limit ${limits.maxEntriesPerAppend}`);
  }
  const entries: Entry[] = [];
  let dataBytes = 0;
  let previousTerm = prevLogTerm;
  for (let i = 0; i < raw.length; i++) {
    const entry = readEntry(raw[i], `entries[${i}]`, limits);
    if (entry.index !== prevLogIndex + 1 + i) {
      throw new FieldError("inconsistent", `entries[${i}].index`, `index ${entry.index} after prevLogIndex ${prevLogIndex} at position ${i}`);
    }
    if (entry.term < previousTerm || entry.term > header.term) {
      throw new FieldError("inconsistent", `entries[${i}].term`, `term ${entry.term} outside [${previousTerm}, ${header.term}]`);
    }
    dataBytes += entry.data.length;
    if (dataBytes > limits.maxAppendBytes) {
      throw new FieldError("tooLarge", "entries", `more than maxAppendBytes ${limits.maxAppendBytes} of entry data`);
    }
    previousTerm = entry.term;
    entries.push(entry);
  }
  return { type: "append", ...header, prevLogIndex, prevLogTerm, entries, commit: integer(fields, "commit") as Index };
}

function readEntry(value: unknown, path: string, limits: RaftWireLimits): Entry {
  const fields = record(value, path);
  exactKeys(fields, path, ENTRY_KEYS);
  const kind = fields["kind"];
  if (!ENTRY_KINDS.includes(kind as EntryKind)) {
    throw new FieldError("unknownKind", `${path}.kind`, `unknown entry kind ${describe(kind)}`);
  }
  return {
    term: integer(fields, "term", path) as Term,
    index: positive(fields, "index", path) as Index,
    kind: kind as EntryKind,
    data: bytes(fields, "data", limits.maxEntryBytes, path),
  };
}

function readSnapshotChunk(fields: Fields, header: Header, limits: RaftWireLimits): Message {
  const metadata = readSnapshotMetadata(fields["metadata"], limits);
  if (metadata.term > header.term) {
    throw new FieldError("inconsistent", "metadata.term", `snapshot term ${metadata.term} above message term ${header.term}`);
  }
  const offset = integer(fields, "offset");
  const totalBytes = integer(fields, "totalBytes");
  if (totalBytes > limits.maxSnapshotBytes) {
    throw new FieldError("tooLarge", "totalBytes", `snapshot of ${totalBytes} bytes, limit ${limits.maxSnapshotBytes}`);
  }
  const chunk = bytes(fields, "chunk", limits.maxSnapshotChunkBytes);
  if (offset + chunk.length > totalBytes) {
    throw new FieldError("inconsistent", "chunk", `chunk [${offset}, ${offset + chunk.length}) beyond totalBytes ${totalBytes}`);
  }
  return { type: "snapshot", ...header, metadata, offset, totalBytes, chunk };
}

function readSnapshotMetadata(value: unknown, limits: RaftWireLimits): SnapshotMetadata {
  const fields = record(value, "metadata");
  exactKeys(fields, "metadata", ["index", "term", "confState"]);
  return {
    index: integer(fields, "index", "metadata") as Index,
    term: integer(fields, "term", "metadata") as Term,
    confState: readConfState(fields["confState"], "metadata.confState", limits),
  };
}

function readConfState(value: unknown, path: string, limits: RaftWireLimits): ConfState {
  const fields = record(value, path);
  exactKeys(fields, path, ["voters", "learners"]);
  const voters = nodeIdList(fields["voters"], `${path}.voters`, limits.maxMembers);
  const learners = nodeIdList(fields["learners"], `${path}.learners`, limits.maxMembers);
  if (voters.length + learners.length > limits.maxMembers) {
    throw new FieldError("tooLarge", path, `${voters.length + learners.length} members, limit ${limits.maxMembers}`);
  }
  const seen = new Set<NodeId>();
  for (const id of [...voters, ...learners]) {
    if (seen.has(id)) throw new FieldError("inconsistent", path, `node ${id} listed twice`);
    seen.add(id);
  }
  return { voters, learners };
}

function nodeIdList(value: unknown, path: string, maxCount: number): NodeId[] {
  if (!Array.isArray(value)) throw new FieldError("wrongType", path, `expected an array, got ${describe(value)}`);
  if (value.length > maxCount) throw new FieldError("tooLarge", path, `${value.length} ids, limit ${maxCount}`);
  const ids: NodeId[] = [];
  for (let i = 0; i < value.length; i++) ids.push(checkPositive(value[i], `${path}[${i}]`) as NodeId);
  return ids;
}

/** A plain object: not null, not an array, prototype Object.prototype or null. */
function record(value: unknown, path: string): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new FieldError("wrongType", path || "(message)", `expected a map, got ${describe(value)}`);
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    throw new FieldError("wrongType", path || "(message)", "expected a plain map, got an object with a foreign prototype");
  }
  return value as Fields;
}

/** The own enumerable string keys must be exactly `expected`: nothing missing, nothing extra. */
function exactKeys(fields: Fields, path: string, expected: readonly string[]): void {
  for (const key of expected) {
    if (!Object.hasOwn(fields, key)) throw new FieldError("missingField", join(path, key), "required field is absent");
  }
  const keys = Reflect.ownKeys(fields);
  if (keys.length !== expected.length) {
    const extra = keys.find((key) => typeof key !== "string" || !expected.includes(key));
    throw new FieldError("unexpectedField", join(path, String(extra)), "field not part of this message kind");
  }
}

function integer(fields: Fields, key: string, path = ""): number {
  const value = fields[key];
  const at = join(path, key);
  if (typeof value !== "number") throw new FieldError("wrongType", at, `expected an integer, got ${describe(value)}`);
  if (!Number.isSafeInteger(value) || value < 0) throw new FieldError("outOfRange", at, `expected a non-negative safe integer, got ${value}`);
  return value;
}

function positive(fields: Fields, key: string, path = ""): number {
  return checkPositive(fields[key], join(path, key));
}

function checkPositive(value: unknown, at: string): number {
  if (typeof value !== "number") throw new FieldError("wrongType", at, `expected an integer, got ${describe(value)}`);
  if (!Number.isSafeInteger(value) || value < 1) throw new FieldError("outOfRange", at, `expected a positive safe integer, got ${value}`);
  return value;
}

function nodeId(fields: Fields, key: "from" | "to"): NodeId {
  return positive(fields, key) as NodeId;
}

function boolean(fields: Fields, key: string): boolean {
  const value = fields[key];
  if (typeof value !== "boolean") throw new FieldError("wrongType", key, `expected a boolean, got ${describe(value)}`);
  return value;
}

/** A byte string of at most maxBytes, returned as a fresh plain Uint8Array (never a Buffer). */
function bytes(fields: Fields, key: string, maxBytes: number, path = ""): Uint8Array {
  const value = fields[key];
  const at = join(path, key);
  if (!(value instanceof Uint8Array)) throw new FieldError("wrongType", at, `expected bytes, got ${describe(value)}`);
  if (value.length > maxBytes) throw new FieldError("tooLarge", at, `${value.length} bytes, limit ${maxBytes}`);
  const copy = new Uint8Array(value.length);
  copy.set(value);
  return copy;
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return "bytes";
  if (typeof value === "string") return `string ${JSON.stringify(value.slice(0, 32))}`;
  if (typeof value === "number" || typeof value === "boolean") return `${typeof value} ${String(value)}`;
  return typeof value;
}
