// What a simulation with the lock application adds to a plain one: the lock clients, the
// leader's periodic tick command, the nodes' monotonic clocks that stamp every command, and
// the lock checker. As in the server (packages/server/src/lock-service.ts), a command's
// nowMs is read from the clock of the node it is proposed to, the leader, at proposal time;
// a node that leads proposes `tick {nowMs}` every tickCommandMs of its own clock.

import type { LockCommand } from "@geolock/locks";
import type { Entry, NodeId, SeededRng } from "@geolock/raft";
import { encodeLockCommand } from "./lock-app.js";
import { LockChecker } from "./lock-checker.js";
import { LockWorkload, PROBE_NAME } from "./lock-workload.js";
import type { LockWorkloadParams, Proposer } from "./lock-workload.js";
import type { NodeClocks } from "./node-clock.js";
import type { SimNode } from "./sim-node.js";

interface Ticking {
  /** The term the node was seen leading in; a new term starts a new tick schedule. */
  readonly term: number;
  nextMs: number;
}

export class LockHarness {
  readonly checker: LockChecker;
  readonly workload: LockWorkload;
  private readonly ticking = new Map<NodeId, Ticking>();
  private ticksProposed = 0;

  constructor(
    readonly params: LockWorkloadParams,
    workloadRng: SeededRng,
    private readonly clocks: NodeClocks,
    private readonly nowUs: () => number,
  ) {
    this.workload = new LockWorkload(params, workloadRng);
    this.checker = new LockChecker([...params.names, PROBE_NAME]);
  }

  applied(node: SimNode, entry: Entry): void {
    const first = this.checker.applied(node, entry);
    if (first !== undefined) this.workload.learn(first.command, first.result);
  }

  started(node: SimNode): void {
    this.clocks.restart(node.id, this.nowUs());
    this.ticking.delete(node.id);
    this.checker.started(node);
  }

  snapshotRestored(node: SimNode, index: number): void {
    this.checker.snapshotRestored(node, index);
  }

  /** After a node's Raft tick: if it leads and its tick period has passed, it proposes a tick. */
  afterTick(node: SimNode): string {
    if (!node.isUp()) return "";
    const status = node.rawNode().status();
    if (status.role !== "leader") {
      this.ticking.delete(node.id);
      return "";
    }
    const nowMs = this.clocks.nowMs(node.id, this.nowUs());
    const ticking = this.ticking.get(node.id);
    if (ticking === undefined || ticking.term !== status.term) {
      this.ticking.set(node.id, { term: status.term, nextMs: nowMs + this.params.tickCommandMs });
      return "";
    }
    if (nowMs < ticking.nextMs || node.isBlocked()) return "";
    ticking.nextMs = nowMs + this.params.tickCommandMs;
    this.ticksProposed += 1;
    return `; lock tick ${this.propose(node, { type: "tick", nowMs }).text}`;
  }

  /** A client request of the fault phase, proposed to `leader`. */
  clientTurn(leader: SimNode): string {
    return `client ${this.workload.turn(this.nowUs(), this.proposerAt(leader))}`;
  }

  /** The liveness phase's request: the probe's next step. */
  probeTurn(leader: SimNode): string {
    return `client ${this.workload.probeTurn(this.nowUs(), this.proposerAt(leader))}`;
  }

  stats(): Record<string, number> {
    const counters: Record<string, number> = { ...this.checker.model.counters, ...this.workload.counters(), ticksProposed: this.ticksProposed };
    const out: Record<string, number> = {};
    for (const [key, value] of Object.entries(counters)) out[`lock.${key}`] = value;
    return out;
  }

  private proposerAt(leader: SimNode): Proposer {
    return (command) => this.propose(leader, { ...command, nowMs: this.clocks.nowMs(leader.id, this.nowUs()) });
  }

  private propose(node: SimNode, command: LockCommand): { proposed: boolean; text: string } {
    const results = node.propose([encodeLockCommand(command)]);
    const result = results?.[0];
    if (result === undefined) return { proposed: false, text: `n${node.id} busy` };
    if (!result.ok) return { proposed: false, text: `n${node.id} ${result.reason}` };
    return { proposed: true, text: `at n${node.id} ${command.nowMs}ms: ${result.index}@${result.term}` };
  }
}
