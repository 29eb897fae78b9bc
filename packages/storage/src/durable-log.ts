// The two faces of a node's durable log: on LevelDB for the server, on a MemoryDisk for
// tests and the simulator. Both run the same code (NodeLog) over a different record store,
// so the in-memory twin encodes, checksums, validates and recovers exactly as the real one.

import type { NodeIdentity } from "./errors.js";
import { LevelRecordStore } from "./level-store.js";
import { NodeLog } from "./node-log.js";
import type { DurableLogOptions } from "./node-log.js";
import type { MemoryDisk, RecordStore } from "./record-store.js";

/** A node's log, hard state and snapshots in one LevelDB database per data directory. */
export class DurableLog extends NodeLog {
  /**
   * Opens (creating if empty) the database in `dir`, refuses it if it belongs to another
   * node (IdentityMismatchError) or fails validation (StorageCorruptionError), and rebuilds
   * the view. LevelDB's lock file refuses a second opener of the same directory.
   */
  static async open(dir: string, identity: NodeIdentity, options: DurableLogOptions = {}): Promise<DurableLog> {
    const store = await LevelRecordStore.open(dir);
    return NodeLog.recover(store, identity, options, (state, fresh, limits) => new DurableLog(store, identity, state, fresh, limits));
  }

  /** The same log over any record store (an instrumented one in tests). */
  static async openStore(store: RecordStore, identity: NodeIdentity, options: DurableLogOptions = {}): Promise<DurableLog> {
    return NodeLog.recover(store, identity, options, (state, fresh, limits) => new DurableLog(store, identity, state, fresh, limits));
  }
}

/** The in-memory twin: the same log over a MemoryDisk that outlives close() and reopen. */
export class MemoryDurableLog extends NodeLog {
  static async open(disk: MemoryDisk, identity: NodeIdentity, options: DurableLogOptions = {}): Promise<MemoryDurableLog> {
    const store = disk.open();
    return NodeLog.recover(store, identity, options, (state, fresh, limits) => new MemoryDurableLog(store, identity, state, fresh, limits));
  }
}
