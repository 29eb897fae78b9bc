// The narrow interface between the log and a key-value store, and the in-memory store the
// twin uses. The log needs only three things from a store: an atomic batch made durable with
// one fsync, a read of one key, and a scan of everything in key order at startup.

export type StoreOp =
  | { readonly type: "put"; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: "del"; readonly key: Uint8Array };

export interface RecordStore {
  /**
   * Applies every op in order, atomically. With `sync` (the default) it resolves once the
   * batch is durable (one fsync); without, once the store has it (it may be lost in a crash,
   * but never reordered after a later synced batch).
   */
  write(ops: readonly StoreOp[], sync?: boolean): Promise<void>;
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  /** Every record in bytewise key order. */
  scan(): AsyncIterable<readonly [Uint8Array, Uint8Array]>;
  close(): Promise<void>;
}

/**
 * A "disk" in memory that outlives the logs opened on it, so a test or the simulator can
 * close a MemoryDurableLog and open it again, or flip bytes in a record. Every write is
 * durable the moment it resolves, as a synced LevelDB batch is. Like LevelDB's LOCK file,
 * it refuses a second opener while one is open.
 */
export class MemoryDisk {
  /** Keys are byte strings (one char per byte), so JS string order is bytewise order. */
  private readonly records = new Map<string, Uint8Array>();
  private opened = false;
  /** Number of batches written, for tests that count fsyncs. */
  writeBatches = 0;
  /** When set, the next writes fail with this error (fault injection). */
  failWrites: Error | null = null;

  open(): RecordStore {
    if (this.opened) throw new Error("storage: memory disk is already open (lock held)");
    this.opened = true;
    return new MemoryRecordStore(this, () => {
      this.opened = false;
    });
  }

  get size(): number {
    return this.records.size;
  }

  read(key: Uint8Array): Uint8Array | undefined {
    const value = this.records.get(toByteString(key));
    return value === undefined ? undefined : new Uint8Array(value);
  }

  /** Raw write for fault injection: bypasses batches and checksums. */
  overwrite(key: Uint8Array, value: Uint8Array | undefined): void {
    if (value === undefined) this.records.delete(toByteString(key));
    else this.records.set(toByteString(key), new Uint8Array(value));
  }

  keys(): Uint8Array[] {
    return [...this.records.keys()].sort().map(fromByteString);
  }

  apply(ops: readonly StoreOp[]): void {
    if (this.failWrites !== null) throw this.failWrites;
    for (const op of ops) {
      if (op.type === "put") this.records.set(toByteString(op.key), new Uint8Array(op.value));
      else this.records.delete(toByteString(op.key));
    }
    this.writeBatches += 1;
  }
}

class MemoryRecordStore implements RecordStore {
  private closed = false;

  constructor(private readonly disk: MemoryDisk, private readonly release: () => void) {}

  write(ops: readonly StoreOp[]): Promise<void> {
    this.assertOpen();
    try {
      this.disk.apply(ops);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return Promise.resolve();
  }

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.assertOpen();
    return Promise.resolve(this.disk.read(key));
  }

  async *scan(): AsyncIterable<readonly [Uint8Array, Uint8Array]> {
    this.assertOpen();
    for (const key of this.disk.keys()) {
      const value = this.disk.read(key);
      if (value !== undefined) yield [key, value];
    }
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.release();
    }
    return Promise.resolve();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("storage: memory record store is closed");
  }
}

function toByteString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
}

function fromByteString(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "latin1"));
}
