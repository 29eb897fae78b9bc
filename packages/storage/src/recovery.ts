// Reading a node's database back at startup. Every record is decoded and checked on its
// own (checksum, shape), then the records are checked against each other: entries continue
// the log start without holes, terms never decrease, the snapshot sits inside the log with
// the right term, and the hard state agrees with both. The first problem stops recovery
// with an error that names the record; nothing is skipped or repaired.

import { MemoryStorage } from "@geolock/raft";
import type { Entry, HardState, Snapshot, Term } from "@geolock/raft";
import { crc32 } from "node:zlib";
import { sameIdentity } from "./checks.js";
import { IdentityMismatchError, UnsupportedFormatError } from "./errors.js";
import type { NodeIdentity } from "./errors.js";
import { chunkKey, entryKey, HARD_STATE_KEY, IDENTITY_KEY, LOG_START_KEY, parseKey, SNAPSHOT_META_KEY, VERSION_KEY } from "./keys.js";
import {
  corruption,
  decodeChunk,
  decodeEntry,
  decodeHardState,
  decodeIdentity,
  decodeLogStart,
  decodeSnapshotMeta,
  decodeVersion,
} from "./records.js";
import type { LogStart, StoredSnapshotMeta } from "./records.js";
import type { RecordStore } from "./record-store.js";
import { FORMAT_VERSION } from "./write-ops.js";

/** Everything durable about a node, validated. */
export interface DiskState {
  readonly identity: NodeIdentity;
  readonly hardState: HardState;
  readonly logStart: LogStart;
  readonly snapshot: Snapshot;
  readonly snapshotChunkCount: number;
  /** Entries logStart.index + 1 .. last, in order. */
  readonly entries: readonly Entry[];
}

interface Collected {
  hardState?: HardState;
  logStart?: LogStart;
  snapshotMeta?: StoredSnapshotMeta;
  readonly chunks: Uint8Array[];
  readonly entries: Entry[];
}

/**
 * Reads and validates the whole database. Returns null for an empty database (a fresh
 * node), which the caller bootstraps.
 */
export async function readDiskState(store: RecordStore, expected: NodeIdentity, recordsMax: number): Promise<DiskState | null> {
  const versionValue = await store.get(VERSION_KEY);
  if (versionValue === undefined) {
    const count = await countRecords(store, 1);
    if (count === 0) return null;
    throw corruption(VERSION_KEY, "missing, yet the database holds records (not a geolock data directory, or damaged)");
  }
  const version = decodeVersion(VERSION_KEY, versionValue);
  if (version !== FORMAT_VERSION) throw new UnsupportedFormatError(version, FORMAT_VERSION);
  const identity = await readIdentity(store, expected);
  const collected = await collect(store, recordsMax);
  return assemble(identity, collected);
}

async function readIdentity(store: RecordStore, expected: NodeIdentity): Promise<NodeIdentity> {
  const value = await store.get(IDENTITY_KEY);
  if (value === undefined) throw corruption(IDENTITY_KEY, "missing");
  const found = decodeIdentity(IDENTITY_KEY, value);
  if (!sameIdentity(found, expected)) throw new IdentityMismatchError(expected, found);
  return found;
}

async function countRecords(store: RecordStore, limit: number): Promise<number> {
  let count = 0;
  for await (const _record of store.scan()) {
    count += 1;
    if (count >= limit) break;
  }
  return count;
}

/** One pass over the database in key order, decoding and checking each record on its own. */
async function collect(store: RecordStore, recordsMax: number): Promise<Collected> {
  const collected: Collected = { chunks: [], entries: [] };
  let count = 0;
  for await (const [key, value] of store.scan()) {
    count += 1;
    if (count > recordsMax) throw new Error(`storage: the database holds more than recordsMax ${recordsMax} records`);
    collectRecord(collected, key, value);
  }
  return collected;
}

function collectRecord(collected: Collected, key: Uint8Array, value: Uint8Array): void {
  const parsed = parseKey(key);
  switch (parsed.kind) {
    case "entry":
      collected.entries.push(decodeEntry(key, value));
      return;
    case "chunk":
      // Keys arrive in order, so chunk n must be the n-th chunk seen.
      if (parsed.chunk !== collected.chunks.length) {
        throw corruption(chunkKey(collected.chunks.length), `missing: the next chunk found is ${parsed.chunk}`);
      }
      collected.chunks.push(decodeChunk(key, value));
      return;
    case "hardState":
      collected.hardState = decodeHardState(key, value);
      return;
    case "logStart":
      collected.logStart = decodeLogStart(key, value);
      return;
    case "snapshotMeta":
      collected.snapshotMeta = decodeSnapshotMeta(key, value);
      return;
    case "version":
    case "identity":
      return; // Already read and checked before the scan.
    case "unknown":
      throw corruption(key, "unknown key: this database holds records geolock did not write");
  }
}

function required<T>(value: T | undefined, key: Uint8Array): T {
  if (value === undefined) throw corruption(key, "missing");
  return value;
}

function assemble(identity: NodeIdentity, collected: Collected): DiskState {
  const hardState = required(collected.hardState, HARD_STATE_KEY);
  const logStart = required(collected.logStart, LOG_START_KEY);
  const meta = required(collected.snapshotMeta, SNAPSHOT_META_KEY);
  const snapshot: Snapshot = { metadata: meta.metadata, data: joinChunks(meta, collected.chunks) };
  const lastTerm = checkEntries(logStart, collected.entries);
  const lastIndex = logStart.index + collected.entries.length;
  checkSnapshotPlacement(meta, logStart, collected.entries, lastIndex);
  checkHardState(hardState, meta, lastIndex, lastTerm);
  return { identity, hardState, logStart, snapshot, snapshotChunkCount: meta.chunkCount, entries: collected.entries };
}

function joinChunks(meta: StoredSnapshotMeta, chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length > meta.chunkCount) throw corruption(chunkKey(meta.chunkCount), `stale: the snapshot has ${meta.chunkCount} chunks`);
  if (chunks.length < meta.chunkCount) throw corruption(chunkKey(chunks.length), `missing: the snapshot has ${meta.chunkCount} chunks`);
  const data = new Uint8Array(meta.totalBytes);
  let offset = 0;
  for (const chunk of chunks) {
    if (offset + chunk.length > meta.totalBytes) {
      throw corruption(SNAPSHOT_META_KEY, `chunks hold more than the ${meta.totalBytes} bytes recorded`);
    }
    data.set(chunk, offset);
    offset += chunk.length;
  }
  if (offset !== meta.totalBytes) throw corruption(SNAPSHOT_META_KEY, `chunks hold ${offset} bytes, ${meta.totalBytes} recorded`);
  const computed = crc32(data);
  if (computed !== meta.dataCrc) {
    throw corruption(SNAPSHOT_META_KEY, `snapshot data checksum mismatch (recorded 0x${meta.dataCrc.toString(16)}, computed 0x${computed.toString(16)})`);
  }
  return data;
}

/** Entries continue the log start one index at a time with terms never decreasing; returns the last term. */
function checkEntries(logStart: LogStart, entries: readonly Entry[]): Term {
  let expected = logStart.index + 1;
  let previousTerm: Term = logStart.term;
  for (const entry of entries) {
    if (entry.index !== expected) {
      const what = entry.index < expected ? "stale: at or below the log start or a duplicate" : `a hole: entry ${expected} is missing`;
      throw corruption(entryKey(entry.index), `${what} (log starts after ${logStart.index})`);
    }
    if (entry.term < previousTerm) {
      throw corruption(entryKey(entry.index), `term ${entry.term} is lower than term ${previousTerm} before it`);
    }
    previousTerm = entry.term;
    expected += 1;
  }
  return previousTerm;
}

function checkSnapshotPlacement(meta: StoredSnapshotMeta, logStart: LogStart, entries: readonly Entry[], lastIndex: number): void {
  const { index, term } = meta.metadata;
  if (index < logStart.index) {
    throw corruption(SNAPSHOT_META_KEY, `snapshot index ${index} is below the log start ${logStart.index}: compacted entries are covered by nothing`);
  }
  if (index > lastIndex) throw corruption(SNAPSHOT_META_KEY, `snapshot index ${index} is beyond the last index ${lastIndex}`);
  const logTerm = index === logStart.index ? logStart.term : entries[index - logStart.index - 1]?.term;
  if (logTerm !== term) throw corruption(SNAPSHOT_META_KEY, `snapshot term ${term} at index ${index}, but the log has term ${String(logTerm)} there`);
}

function checkHardState(hardState: HardState, meta: StoredSnapshotMeta, lastIndex: number, lastTerm: Term): void {
  if (hardState.commit > lastIndex) throw corruption(HARD_STATE_KEY, `commit ${hardState.commit} is beyond the last index ${lastIndex}`);
  if (hardState.commit < meta.metadata.index) {
    throw corruption(HARD_STATE_KEY, `commit ${hardState.commit} is below the snapshot index ${meta.metadata.index}`);
  }
  if (hardState.term < lastTerm) throw corruption(HARD_STATE_KEY, `term ${hardState.term} is below the last entry's term ${lastTerm}`);
}

/**
 * Builds the RaftStorage view of a validated state. MemoryStorage can only move its log
 * start by installing a snapshot, so a log start below the snapshot index is set by a
 * placeholder snapshot at the log start, replaced by the real one once the entries are in.
 */
export function buildView(state: DiskState): MemoryStorage {
  const { logStart, snapshot } = state;
  const confState = snapshot.metadata.confState;
  const view = new MemoryStorage(confState);
  if (logStart.index > 0) {
    const start = logStart.index === snapshot.metadata.index ? snapshot : placeholderSnapshot(logStart, snapshot);
    view.applySnapshot(start);
  }
  view.append(state.entries);
  if (snapshot.metadata.index > logStart.index) {
    view.createSnapshot(snapshot.metadata.index, confState, snapshot.data);
  }
  view.setHardState(state.hardState);
  return view;
}

function placeholderSnapshot(logStart: LogStart, snapshot: Snapshot): Snapshot {
  return { metadata: { index: logStart.index, term: logStart.term, confState: snapshot.metadata.confState }, data: new Uint8Array(0) };
}
