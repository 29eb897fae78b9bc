// Targeted fault patterns. Random faults rarely hit the few moments where a Raft bug turns
// into a safety violation; these patterns aim at them, reacting to what the cluster just
// did:
//
//  - new leader: a leader is struck as soon as it is elected (isolated at once, so its
//    no-op and first proposals exist only on its disk) or while it still brings followers
//    up to date with earlier terms' entries (isolated or crashed within a short delay).
//    Chained over a few terms this builds the divergent logs of the paper's Figure 8.
//  - vote crash: a node that has just granted a vote crashes before the vote's fsync and
//    restarts quickly. A correct driver loses an unsent answer; one that answered before
//    persisting has promised a vote it no longer remembers.

import { NO_NODE } from "@geolock/raft";
import type { NodeId, Ready, SeededRng } from "@geolock/raft";
import { msToUs } from "./clock.js";
import type { FaultConfig } from "./config.js";
import { describeFault } from "./faults.js";
import type { FaultAction } from "./faults.js";
import { uniformUs } from "./network.js";
import type { SimNode } from "./sim-node.js";

export type TargetedFault =
  | { readonly kind: "crashVoter"; readonly node: NodeId; readonly life: number }
  | { readonly kind: "strikeLeader"; readonly node: NodeId; readonly term: number; readonly how: "crash" | "isolate" };

/** What the patterns need from the simulation. */
export interface FaultHost {
  readonly nodeIds: readonly NodeId[];
  node(id: NodeId): SimNode;
  /** False once the faults have stopped (liveness phase). */
  faultsActive(): boolean;
  scheduleTargeted(delayUs: number, fault: TargetedFault): void;
  applyFault(action: FaultAction): void;
}

export class TargetedFaults {
  /** The highest term in which a leader was seen: only newer leaders are "new". */
  private lastLeaderTerm = 0;

  constructor(
    private readonly host: FaultHost,
    private readonly config: FaultConfig,
    private readonly rng: SeededRng,
  ) {}

  /** A node took a Ready; if it grants a vote not yet on its disk, maybe crash it. */
  readyTaken(node: SimNode, ready: Ready): void {
    // Nothing else is in flight when a Ready is taken, so the disk holds the previous hard state.
    const hard = ready.hardState;
    const durable = node.disk.storage.hardState();
    const granted = hard !== undefined && hard.vote !== NO_NODE && hard.vote !== node.id;
    if (!granted || (hard.vote === durable.vote && hard.term === durable.term)) return;
    if (!this.host.faultsActive() || !this.rng.chance(this.config.voteCrashProbability)) return;
    this.host.scheduleTargeted(0, { kind: "crashVoter", node: node.id, life: node.life });
  }

  /** A node was seen leading `term`; if it is a new leader, maybe strike it. */
  leaderSeen(id: NodeId, term: number): void {
    if (term <= this.lastLeaderTerm) return;
    this.lastLeaderTerm = term;
    if (!this.host.faultsActive() || !this.rng.chance(this.config.newLeaderFaultProbability)) return;
    const choice = this.rng.nextInt(3);
    const how = choice === 2 ? "crash" : "isolate";
    const delayUs = choice === 0 ? 0 : uniformUs(this.rng, 0, this.config.newLeaderFaultMsMax);
    this.host.scheduleTargeted(delayUs, { kind: "strikeLeader", node: id, term, how });
  }

  /** Executes a scheduled pattern, if it still applies; returns what happened, for the trace. */
  run(fault: TargetedFault): string {
    const node = this.host.node(fault.node);
    const what = fault.kind === "crashVoter" ? `crash voter n${fault.node}` : `${fault.how} new leader n${fault.node} of t${fault.term}`;
    if (!this.host.faultsActive() || !node.isUp()) return `${what}: not up`;
    let action: FaultAction | string;
    if (fault.kind === "crashVoter") action = node.life === fault.life ? this.crash(fault.node, this.config.quickRestartMsMax) : "restarted since";
    else action = this.strike(node, fault.term, fault.how);
    if (typeof action === "string") return `${what}: ${action}`;
    this.host.applyFault(action);
    return `${what}: ${describeFault(action)}`;
  }

  private strike(node: SimNode, term: number, how: "crash" | "isolate"): FaultAction | string {
    const status = node.rawNode().status();
    if (status.role !== "leader" || status.term !== term) return "no longer leads";
    if (how === "crash") {
      const quick = this.rng.chance(this.config.quickRestartProbability);
      return this.crash(node.id, quick ? this.config.quickRestartMsMax : this.config.restartMsMax);
    }
    const others = this.host.nodeIds.filter((other) => other !== node.id);
    const healAfterUs = 1 + this.rng.nextInt(msToUs(this.config.partitionMsMax));
    return { kind: "partition", partition: { kind: "isolate", left: [node.id], right: others }, healAfterUs };
  }

  private crash(id: NodeId, restartMsMax: number): FaultAction | string {
    const down = this.host.nodeIds.filter((other) => !this.host.node(other).isUp()).length;
    if (down >= this.config.downNodesMax) return "enough nodes down";
    return { kind: "crash", node: id, restartAfterUs: 1 + this.rng.nextInt(msToUs(restartMsMax)) };
  }
}
