// The record format: every value is
//
//   bytes 0..3   CRC32 (big-endian) of the record's key bytes followed by its payload
//   bytes 4..    payload: MessagePack for structured records, raw bytes for snapshot chunks
//
// Covering the key as well as the payload means a value that ends up under the wrong key
// (a misdirected write, a bug in key encoding) fails its checksum like a flipped bit does.
// Decoders check the checksum, then the MessagePack framing, then the shape with the same
// checks the writer ran before encoding; only then is the value used.

import { asIndex, asNodeId, asTerm } from "@geolock/raft";
import type { ConfState, Entry, EntryKind, HardState, Index, SnapshotMetadata, Term } from "@geolock/raft";
import { crc32 } from "node:zlib";
import { Packr } from "msgpackr";
import {
  confStateProblem,
  entryProblem,
  hardStateProblem,
  identityProblem,
  snapshotMetadataProblem,
} from "./checks.js";
import { StorageCorruptionError } from "./errors.js";
import type { NodeIdentity } from "./errors.js";
import { describeKey, keyHex, parseKey } from "./keys.js";

export const RECORD_HEADER_BYTES = 4;

// Plain MessagePack maps and arrays: no msgpackr record extension, so the bytes on disk do
// not depend on msgpackr's structure cache and any MessagePack reader can inspect them.
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** The last compacted entry: entries start right after it. (0, 0) when nothing was compacted. */
export interface LogStart {
  readonly index: Index;
  readonly term: Term;
}

/** What the snapshot metadata record holds besides the Raft metadata. */
export interface StoredSnapshotMeta {
  readonly metadata: SnapshotMetadata;
  readonly totalBytes: number;
  readonly chunkCount: number;
  /** CRC32 of the whole snapshot data, checked after the chunks are joined. */
  readonly dataCrc: number;
}

export function recordChecksum(key: Uint8Array, payload: Uint8Array): number {
  return crc32(payload, crc32(key));
}

export function frame(key: Uint8Array, payload: Uint8Array): Uint8Array {
  const value = new Uint8Array(RECORD_HEADER_BYTES + payload.length);
  new DataView(value.buffer).setUint32(0, recordChecksum(key, payload));
  value.set(payload, RECORD_HEADER_BYTES);
  return value;
}

export function corruption(key: Uint8Array, reason: string): StorageCorruptionError {
  const parsed = parseKey(key);
  const index = parsed.kind === "entry" ? parsed.index : null;
  return new StorageCorruptionError(describeKey(key), keyHex(key), reason, index);
}

/** Checks the frame and checksum and returns the payload (a view into `value`). */
export function unframe(key: Uint8Array, value: Uint8Array): Uint8Array {
  if (value.length < RECORD_HEADER_BYTES) {
    throw corruption(key, `value of ${value.length} bytes is shorter than the ${RECORD_HEADER_BYTES}-byte header`);
  }
  const stored = new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(0);
  const payload = value.subarray(RECORD_HEADER_BYTES);
  const computed = recordChecksum(key, payload);
  if (stored !== computed) {
    throw corruption(key, `checksum mismatch (stored 0x${hex32(stored)}, computed 0x${hex32(computed)})`);
  }
  return payload;
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, "0");
}

function pack(value: unknown): Uint8Array {
  return packr.pack(value);
}

function unpack(key: Uint8Array, payload: Uint8Array): unknown {
  try {
    return packr.unpack(payload);
  } catch (error) {
    throw corruption(key, `undecodable MessagePack: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function readMap(key: Uint8Array, value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw corruption(key, "payload is not a map");
  }
  return value as Record<string, unknown>;
}

function readNumber(key: Uint8Array, map: Record<string, unknown>, field: string): number {
  const value = map[field];
  if (typeof value !== "number") throw corruption(key, `field ${field} is ${typeof value}, not a number`);
  return value;
}

function readString(key: Uint8Array, map: Record<string, unknown>, field: string): string {
  const value = map[field];
  if (typeof value !== "string") throw corruption(key, `field ${field} is ${typeof value}, not a string`);
  return value;
}

function readIdList(key: Uint8Array, value: unknown, field: string): number[] {
  if (!Array.isArray(value)) throw corruption(key, `field ${field} is not an array`);
  return value.map((id: unknown) => {
    if (typeof id !== "number") throw corruption(key, `field ${field} holds a ${typeof id}, not a node id`);
    return id;
  });
}

/** Copies decoded bytes into a plain Uint8Array that owns its memory (msgpackr hands out Buffers). */
function ownBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

function checked<T>(key: Uint8Array, value: T, problem: string | null): T {
  if (problem !== null) throw corruption(key, problem);
  return value;
}

// ---- format version

export function encodeVersion(key: Uint8Array, version: number): Uint8Array {
  return frame(key, pack(version));
}

export function decodeVersion(key: Uint8Array, value: Uint8Array): number {
  const version = unpack(key, unframe(key, value));
  if (typeof version !== "number" || !Number.isSafeInteger(version)) throw corruption(key, "version is not an integer");
  return version;
}

// ---- identity

export function encodeIdentity(key: Uint8Array, identity: NodeIdentity): Uint8Array {
  assertNoProblem("identity", identityProblem(identity));
  return frame(key, pack({ clusterId: identity.clusterId, region: identity.region, nodeId: identity.nodeId }));
}

export function decodeIdentity(key: Uint8Array, value: Uint8Array): NodeIdentity {
  const map = readMap(key, unpack(key, unframe(key, value)));
  const identity: NodeIdentity = {
    clusterId: readString(key, map, "clusterId"),
    region: readString(key, map, "region"),
    nodeId: readNumber(key, map, "nodeId"),
  };
  return checked(key, identity, identityProblem(identity));
}

// ---- hard state

export function encodeHardState(key: Uint8Array, hardState: HardState): Uint8Array {
  assertNoProblem("hard state", hardStateProblem(hardState));
  return frame(key, pack({ term: hardState.term, vote: hardState.vote, commit: hardState.commit }));
}

export function decodeHardState(key: Uint8Array, value: Uint8Array): HardState {
  const map = readMap(key, unpack(key, unframe(key, value)));
  const hardState: HardState = {
    term: asTerm(readNumber(key, map, "term")),
    vote: asNodeId(readNumber(key, map, "vote")),
    commit: asIndex(readNumber(key, map, "commit")),
  };
  return checked(key, hardState, hardStateProblem(hardState));
}

// ---- log start

function logStartProblem(start: LogStart): string | null {
  if (!Number.isSafeInteger(start.index) || start.index < 0) return `log start index ${start.index} is not an integer >= 0`;
  if (!Number.isSafeInteger(start.term) || start.term < 0) return `log start term ${start.term} is not an integer >= 0`;
  return (start.index === 0) === (start.term === 0) ? null : `log start ${start.index}/${start.term}: index and term must both be 0 or both positive`;
}

export function encodeLogStart(key: Uint8Array, start: LogStart): Uint8Array {
  assertNoProblem("log start", logStartProblem(start));
  return frame(key, pack({ index: start.index, term: start.term }));
}

export function decodeLogStart(key: Uint8Array, value: Uint8Array): LogStart {
  const map = readMap(key, unpack(key, unframe(key, value)));
  const start: LogStart = { index: asIndex(readNumber(key, map, "index")), term: asTerm(readNumber(key, map, "term")) };
  return checked(key, start, logStartProblem(start));
}

// ---- snapshot metadata and chunks

function storedSnapshotProblem(meta: StoredSnapshotMeta): string | null {
  const { totalBytes, chunkCount, dataCrc } = meta;
  if (!Number.isSafeInteger(totalBytes) || totalBytes < 0) return `snapshot size ${totalBytes} is not an integer >= 0`;
  if (!Number.isSafeInteger(chunkCount) || chunkCount < 0) return `chunk count ${chunkCount} is not an integer >= 0`;
  if ((totalBytes === 0) !== (chunkCount === 0)) return `${totalBytes} bytes cannot be held in ${chunkCount} chunks`;
  if (chunkCount > totalBytes) return `${chunkCount} chunks for ${totalBytes} bytes leaves empty chunks`;
  if (!Number.isInteger(dataCrc) || dataCrc < 0 || dataCrc > 0xffffffff) return `data checksum ${dataCrc} is not a u32`;
  return snapshotMetadataProblem(meta.metadata);
}

export function encodeSnapshotMeta(key: Uint8Array, meta: StoredSnapshotMeta): Uint8Array {
  assertNoProblem("snapshot metadata", storedSnapshotProblem(meta));
  const { index, term, confState } = meta.metadata;
  return frame(
    key,
    pack({
      index,
      term,
      voters: [...confState.voters],
      learners: [...confState.learners],
      totalBytes: meta.totalBytes,
      chunkCount: meta.chunkCount,
      dataCrc: meta.dataCrc,
    }),
  );
}

export function decodeSnapshotMeta(key: Uint8Array, value: Uint8Array): StoredSnapshotMeta {
  const map = readMap(key, unpack(key, unframe(key, value)));
  const confState: ConfState = {
    voters: readIdList(key, map["voters"], "voters").map(asNodeId),
    learners: readIdList(key, map["learners"], "learners").map(asNodeId),
  };
  const meta: StoredSnapshotMeta = {
    metadata: { index: asIndex(readNumber(key, map, "index")), term: asTerm(readNumber(key, map, "term")), confState },
    totalBytes: readNumber(key, map, "totalBytes"),
    chunkCount: readNumber(key, map, "chunkCount"),
    dataCrc: readNumber(key, map, "dataCrc"),
  };
  return checked(key, meta, storedSnapshotProblem(meta) ?? confStateProblem(confState));
}

export function encodeChunk(key: Uint8Array, chunk: Uint8Array): Uint8Array {
  if (chunk.length === 0) throw new Error("storage: a snapshot chunk must not be empty");
  return frame(key, chunk);
}

export function decodeChunk(key: Uint8Array, value: Uint8Array): Uint8Array {
  const chunk = unframe(key, value);
  if (chunk.length === 0) throw corruption(key, "snapshot chunk is empty");
  return chunk;
}

// ---- entries

const KIND_CODES: readonly EntryKind[] = ["normal", "confChange"];

export function encodeEntry(key: Uint8Array, entry: Entry): Uint8Array {
  assertNoProblem(`entry ${entry.index}`, entryProblem(entry));
  return frame(key, pack([entry.index, entry.term, KIND_CODES.indexOf(entry.kind), entry.data]));
}

export function decodeEntry(key: Uint8Array, value: Uint8Array): Entry {
  const fields = unpack(key, unframe(key, value));
  if (!Array.isArray(fields) || fields.length !== 4) throw corruption(key, "payload is not a 4-element entry array");
  const [index, term, kindCode, data] = fields as unknown[];
  if (typeof index !== "number" || typeof term !== "number") throw corruption(key, "entry index or term is not a number");
  const kind = typeof kindCode === "number" ? KIND_CODES[kindCode] : undefined;
  if (kind === undefined) throw corruption(key, `entry kind code ${String(kindCode)} is unknown`);
  if (!(data instanceof Uint8Array)) throw corruption(key, "entry data is not bytes");
  const entry: Entry = { index: asIndex(index), term: asTerm(term), kind, data: ownBytes(data) };
  checked(key, entry, entryProblem(entry));
  const parsed = parseKey(key);
  if (parsed.kind !== "entry" || parsed.index !== index) throw corruption(key, `entry claims index ${index}`);
  return entry;
}

function assertNoProblem(what: string, problem: string | null): void {
  if (problem !== null) throw new Error(`storage: refusing to write ${what}: ${problem}`);
}
