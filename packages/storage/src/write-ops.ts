// Builders for the store operations of each kind of update. Pure: they encode (running the
// pre-write shape checks) and return ops; the log decides when to write them.

import { asIndex, asTerm, NO_NODE } from "@geolock/raft";
import type { ConfState, Entry, HardState, Snapshot } from "@geolock/raft";
import { crc32 } from "node:zlib";
import type { NodeIdentity } from "./errors.js";
import {
  chunkKey,
  entryKey,
  HARD_STATE_KEY,
  IDENTITY_KEY,
  LOG_START_KEY,
  SNAPSHOT_META_KEY,
  VERSION_KEY,
} from "./keys.js";
import {
  encodeChunk,
  encodeEntry,
  encodeHardState,
  encodeIdentity,
  encodeLogStart,
  encodeSnapshotMeta,
  encodeVersion,
} from "./records.js";
import type { LogStart } from "./records.js";
import type { StoreOp } from "./record-store.js";

/** The on-disk format this build writes and reads. */
export const FORMAT_VERSION = 1;

export function put(key: Uint8Array, value: Uint8Array): StoreOp {
  return { type: "put", key, value };
}

export function hardStateOp(hardState: HardState): StoreOp {
  return put(HARD_STATE_KEY, encodeHardState(HARD_STATE_KEY, hardState));
}

export function logStartOp(start: LogStart): StoreOp {
  return put(LOG_START_KEY, encodeLogStart(LOG_START_KEY, start));
}

export function entryOps(entries: readonly Entry[]): StoreOp[] {
  return entries.map((entry) => {
    const key = entryKey(entry.index);
    return put(key, encodeEntry(key, entry));
  });
}

/** Deletes the entry keys in [from, to] (inclusive); nothing when from > to. */
export function entryDeleteOps(from: number, to: number): StoreOp[] {
  const ops: StoreOp[] = [];
  for (let index = from; index <= to; index++) ops.push({ type: "del", key: entryKey(index) });
  return ops;
}

/** The chunk count a snapshot of `totalBytes` is split into. */
export function chunkCountFor(totalBytes: number, chunkBytes: number): number {
  return Math.ceil(totalBytes / chunkBytes);
}

/**
 * Writes a snapshot as its metadata record plus data chunks of at most chunkBytes, and
 * deletes the chunks of the previous snapshot beyond the new chunk count, in the same batch.
 */
export function snapshotOps(snapshot: Snapshot, chunkBytes: number, previousChunkCount: number): StoreOp[] {
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1) throw new Error(`storage: invalid snapshotChunkBytes ${chunkBytes}`);
  const data = snapshot.data;
  const chunkCount = chunkCountFor(data.length, chunkBytes);
  const ops: StoreOp[] = [];
  for (let chunk = 0; chunk < chunkCount; chunk++) {
    const key = chunkKey(chunk);
    ops.push(put(key, encodeChunk(key, data.subarray(chunk * chunkBytes, (chunk + 1) * chunkBytes))));
  }
  for (let chunk = chunkCount; chunk < previousChunkCount; chunk++) ops.push({ type: "del", key: chunkKey(chunk) });
  const meta = { metadata: snapshot.metadata, totalBytes: data.length, chunkCount, dataCrc: crc32(data) };
  ops.push(put(SNAPSHOT_META_KEY, encodeSnapshotMeta(SNAPSHOT_META_KEY, meta)));
  return ops;
}

/** The records of a fresh data directory: version, identity, and an empty log with `confState`. */
export function bootstrapOps(identity: NodeIdentity, confState: ConfState): StoreOp[] {
  const snapshot: Snapshot = { metadata: { index: asIndex(0), term: asTerm(0), confState }, data: new Uint8Array(0) };
  return [
    put(VERSION_KEY, encodeVersion(VERSION_KEY, FORMAT_VERSION)),
    put(IDENTITY_KEY, encodeIdentity(IDENTITY_KEY, identity)),
    hardStateOp({ term: asTerm(0), vote: NO_NODE, commit: asIndex(0) }),
    logStartOp({ index: asIndex(0), term: asTerm(0) }),
    ...snapshotOps(snapshot, 1, 0),
  ];
}

export function opBytes(ops: readonly StoreOp[]): number {
  let bytes = 0;
  for (const op of ops) bytes += op.key.length + (op.type === "put" ? op.value.length : 0);
  return bytes;
}
