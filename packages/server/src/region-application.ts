// The region's replicated application: what RegionNode applies, snapshots and restores. The
// Raft log carries regional lock commands and Paxos replica commands in tagged envelopes
// (region-entry.ts); this dispatches each committed entry to LockService or GlobalService in
// log order, and snapshots both together, so a snapshot is one consistent point of the log.

import type { Entry, NodeId, Role, Term } from "@geolock/raft";
import { decodePlain, encodeValue } from "@geolock/transport";
import type { GlobalService } from "./global-service.js";
import type { LockService } from "./lock-service.js";
import { decodeEntry } from "./region-entry.js";
import type { RaftApplication } from "./region-node.js";

const SNAPSHOT_VERSION = 1;
/** Nesting of a snapshot: the envelope plus the replica snapshot's deepest field. */
const SNAPSHOT_DECODE_DEPTH = 24;

export class RegionApplication implements RaftApplication {
  constructor(
    private readonly locks: LockService,
    private readonly global: GlobalService,
  ) {}

  applyEntry(entry: Entry): void {
    // A leader applying its own proposal skips decoding the bytes it encoded (about a third of
    // an entry's apply); everything else is decoded from its bytes, which are untrusted.
    const decoded = this.locks.ownEntry(entry) ?? decodeEntry(entry.data);
    switch (decoded.kind) {
      case "paxos":
        return this.global.applyCommand(decoded.command);
      case "lock":
        return this.locks.applyCommand(entry, { ok: true, value: decoded.command });
      case "lockBatch":
        return this.locks.applyBatch(entry, decoded.commands);
      case "undecodable":
        // The lock machine answers garbage deterministically (and records the index).
        return this.locks.applyCommand(entry, { ok: false, reason: decoded.reason });
    }
  }

  /** { v, locks: <lock machine snapshot bytes>, global: <replica snapshot> }. */
  snapshot(): Uint8Array {
    return encodeValue({ v: SNAPSHOT_VERSION, locks: this.locks.snapshot(), global: this.global.snapshot() });
  }

  /** Validates the snapshot; one that does not validate throws, which stops the node (never a half-trusted state). */
  restore(data: Uint8Array): void {
    const decoded = decodePlain(data, SNAPSHOT_DECODE_DEPTH);
    if (!decoded.ok) throw new Error(`region snapshot is not MessagePack: ${decoded.reason}`);
    const value = decoded.value;
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("region snapshot must be a map");
    const fields = value as Record<string, unknown>;
    const keys = Object.keys(fields).sort().join(",");
    if (fields["v"] !== SNAPSHOT_VERSION || keys !== "global,locks,v") {
      throw new Error(`region snapshot: expected version ${SNAPSHOT_VERSION} with fields global,locks,v; got v=${String(fields["v"])} fields ${keys} (a data directory from before global locks: start it fresh)`);
    }
    const locks = fields["locks"];
    if (!(locks instanceof Uint8Array)) throw new Error("region snapshot: locks must be bytes");
    this.global.restore(fields["global"]);
    this.locks.restore(locks);
  }

  onLeadership(role: Role, leader: NodeId, term: Term): void {
    this.locks.onLeadership(role, leader);
    this.global.onLeadership(role, leader, term);
  }
}
