// The LevelDB-backed record store. Every batch is written with { sync: true }: LevelDB
// appends it to its write-ahead log and fsyncs before the promise resolves, so one batch
// costs one fsync however many records it holds.

import { Level } from "level";
import { StorageCorruptionError } from "./errors.js";
import type { RecordStore, StoreOp } from "./record-store.js";

type Db = Level<Uint8Array, Uint8Array>;

export class LevelRecordStore implements RecordStore {
  private constructor(private readonly db: Db) {}

  static async open(dir: string): Promise<LevelRecordStore> {
    const db: Db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: "view", valueEncoding: "view" });
    try {
      await db.open({ createIfMissing: true });
    } catch (error) {
      throw translateLevelError(error, "database open");
    }
    return new LevelRecordStore(db);
  }

  async write(ops: readonly StoreOp[], sync = true): Promise<void> {
    if (ops.length === 0) return;
    // A chained batch, not db.batch(array): abstract-level clones and re-validates every
    // operation object of an array batch, which cost about 3x the CPU per batch (measured
    // with 65 puts: ~1,100 us against ~370 us); the chained form writes the same atomic batch.
    const batch = this.db.batch();
    for (const op of ops) {
      if (op.type === "put") batch.put(op.key, op.value);
      else batch.del(op.key);
    }
    await batch.write({ sync });
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    try {
      return await this.db.get(key);
    } catch (error) {
      throw translateLevelError(error, "database read");
    }
  }

  async *scan(): AsyncIterable<readonly [Uint8Array, Uint8Array]> {
    try {
      for await (const [key, value] of this.db.iterator()) yield [key, value];
    } catch (error) {
      throw translateLevelError(error, "database scan");
    }
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

/** LevelDB's own block checksums caught damage below our records: report it as corruption. */
function translateLevelError(error: unknown, what: string): unknown {
  const code = typeof error === "object" && error !== null && "code" in error ? (error as { code: unknown }).code : undefined;
  if (code === "LEVEL_CORRUPTION") {
    const message = error instanceof Error ? error.message : String(error);
    return new StorageCorruptionError(what, "", `LevelDB reports corruption: ${message}`);
  }
  return error;
}
