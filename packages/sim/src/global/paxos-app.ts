// The region's replicated application in the composed (regions x Raft nodes) simulation:
// every committed normal entry of the region's Raft log is one Paxos ReplicaCommand
// (JSON; validated with decodeReplicaCommand as the server validates its log), applied to
// the node's GlobalReplica (acceptor + learner + global lock table). Empty entries (a new
// leader's no-op) and membership changes leave it alone. Snapshots are the replica's plain
// snapshot as JSON, restored through decodeReplicaSnapshot + GlobalReplica.restore.

import { decodeReplicaCommand, decodeReplicaSnapshot, GlobalReplica } from "@geolock/paxos";
import type { PaxosConfig, RegionId, ReplicaApplyResult, ReplicaCommand } from "@geolock/paxos";
import type { Entry } from "@geolock/raft";
import type { Application } from "../application.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeReplicaCommand(command: ReplicaCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

/** Called after every command the replica applied (on every node, leader or not). */
export type AppliedHook = (command: ReplicaCommand, result: ReplicaApplyResult, index: number) => void;

export class PaxosApp implements Application {
  private current: GlobalReplica;

  constructor(
    private readonly config: PaxosConfig,
    private readonly region: RegionId,
    private readonly hook: AppliedHook,
  ) {
    this.current = new GlobalReplica(config, region);
  }

  /** The replica of this lifetime; replaced on a snapshot restore. */
  get replica(): GlobalReplica {
    return this.current;
  }

  apply(entry: Entry): void {
    if (entry.kind !== "normal" || entry.data.length === 0) return;
    const decoded = decodeReplicaCommand(JSON.parse(decoder.decode(entry.data)) as unknown, this.config);
    if (!decoded.ok) throw new Error(`PaxosApp ${this.region}: bad log entry ${entry.index}: ${decoded.error}`);
    const result = this.current.apply(decoded.value);
    this.current.assertInvariants();
    this.hook(decoded.value, result, entry.index);
  }

  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify(this.current.snapshot()));
  }

  restore(bytes: Uint8Array): void {
    const decoded = decodeReplicaSnapshot(JSON.parse(decoder.decode(bytes)) as unknown, this.config);
    if (!decoded.ok) throw new Error(`PaxosApp ${this.region}: snapshot refused: ${decoded.error}`);
    this.current = GlobalReplica.restore(decoded.value, this.config);
  }
}
