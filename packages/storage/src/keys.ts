// The key layout of a node's database. Keys are bytes; LevelDB orders them bytewise, so a
// big-endian index makes the entries of the log iterate in index order.
//
//   m/version        format version
//   m/identity       cluster id, region, node id
//   m/hard           hard state (term, vote, commit)
//   m/logstart       index and term of the last compacted entry (the log's "offset")
//   s/meta           snapshot metadata, size, chunk count and checksum of the data
//   s/c/<u32 BE>     snapshot data chunk n
//   e/<u64 BE>       log entry at that index

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

export const VERSION_KEY = ascii("m/version");
export const IDENTITY_KEY = ascii("m/identity");
export const HARD_STATE_KEY = ascii("m/hard");
export const LOG_START_KEY = ascii("m/logstart");
export const SNAPSHOT_META_KEY = ascii("s/meta");
const ENTRY_PREFIX = ascii("e/");
const CHUNK_PREFIX = ascii("s/c/");

const TWO_POW_32 = 2 ** 32;

export function entryKey(index: number): Uint8Array {
  if (!Number.isSafeInteger(index) || index < 0) throw new Error(`storage: entry key for invalid index ${index}`);
  const key = new Uint8Array(ENTRY_PREFIX.length + 8);
  key.set(ENTRY_PREFIX, 0);
  const view = new DataView(key.buffer);
  view.setUint32(ENTRY_PREFIX.length, Math.floor(index / TWO_POW_32));
  view.setUint32(ENTRY_PREFIX.length + 4, index % TWO_POW_32);
  return key;
}

export function chunkKey(chunk: number): Uint8Array {
  if (!Number.isInteger(chunk) || chunk < 0 || chunk >= TWO_POW_32) throw new Error(`storage: chunk key for invalid chunk ${chunk}`);
  const key = new Uint8Array(CHUNK_PREFIX.length + 4);
  key.set(CHUNK_PREFIX, 0);
  new DataView(key.buffer).setUint32(CHUNK_PREFIX.length, chunk);
  return key;
}

type SingleKind = "version" | "identity" | "hardState" | "logStart" | "snapshotMeta";

export type ParsedKey =
  | { readonly kind: SingleKind | "unknown" }
  | { readonly kind: "entry"; readonly index: number }
  | { readonly kind: "chunk"; readonly chunk: number };

const SINGLE_KEYS: readonly [Uint8Array, SingleKind][] = [
  [VERSION_KEY, "version"],
  [IDENTITY_KEY, "identity"],
  [HARD_STATE_KEY, "hardState"],
  [LOG_START_KEY, "logStart"],
  [SNAPSHOT_META_KEY, "snapshotMeta"],
];

export function parseKey(key: Uint8Array): ParsedKey {
  if (hasPrefix(key, ENTRY_PREFIX) && key.length === ENTRY_PREFIX.length + 8) {
    const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
    const index = view.getUint32(ENTRY_PREFIX.length) * TWO_POW_32 + view.getUint32(ENTRY_PREFIX.length + 4);
    // Indexes beyond 2^53 cannot be written by this code; such a key is not ours.
    return Number.isSafeInteger(index) ? { kind: "entry", index } : { kind: "unknown" };
  }
  if (hasPrefix(key, CHUNK_PREFIX) && key.length === CHUNK_PREFIX.length + 4) {
    const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
    return { kind: "chunk", chunk: view.getUint32(CHUNK_PREFIX.length) };
  }
  for (const [single, kind] of SINGLE_KEYS) {
    if (bytesEqual(key, single)) return { kind };
  }
  return { kind: "unknown" };
}

/** A human name for a record, used in error messages ("entry 17", "hard state"). */
export function describeKey(key: Uint8Array): string {
  const parsed = parseKey(key);
  switch (parsed.kind) {
    case "entry":
      return `entry ${parsed.index}`;
    case "chunk":
      return `snapshot chunk ${parsed.chunk}`;
    case "version":
      return "format version";
    case "identity":
      return "node identity";
    case "hardState":
      return "hard state";
    case "logStart":
      return "log start";
    case "snapshotMeta":
      return "snapshot metadata";
    case "unknown":
      return "unknown record";
  }
}

export function keyHex(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("hex");
}

function hasPrefix(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
