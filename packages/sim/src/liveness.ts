// The liveness phase. Safety alone is satisfied by a cluster that does nothing, so after
// the faults stop (network healed and clean, every node restarted) the cluster must, within
// a bounded virtual time: elect a leader, take every node back as a voter (membership
// changes made under faults may have removed some), commit fresh proposals, and bring
// every node's applied index to the leader's commit, with byte-identical application states.

import type { ConfChange, ConfState, NodeId } from "@geolock/raft";
import { msToUs } from "./clock.js";
import { describeStatus } from "./describe.js";
import { FNV_OFFSET, fnvBytes, hex32 } from "./hash.js";
import type { Simulation } from "./simulation.js";
import { violated } from "./violation.js";

/** Events the liveness phase may execute, whatever its virtual deadline. */
const LIVENESS_EVENTS_MAX = 500_000;

interface Progress {
  readonly done: boolean;
  readonly members: readonly NodeId[];
  readonly why: string;
}

export function runLivenessPhase(sim: Simulation): void {
  const config = sim.params.liveness;
  const startUs = sim.clock.nowUs();
  const deadlineUs = startUs + msToUs(config.timeoutMs);
  sim.client.markFresh();
  for (let i = 0; i < LIVENESS_EVENTS_MAX; i++) {
    const progress = measure(sim);
    if (progress.done) {
      checkReplicasIdentical(sim, progress.members);
      return;
    }
    const next = sim.queue.peek();
    if (next === undefined || next.atUs > deadlineUs) {
      violated("liveness", `no recovery within ${config.timeoutMs}ms of healing: ${progress.why}; ${describeCluster(sim)}`);
    }
    const item = sim.queue.pop();
    if (item !== undefined) sim.execute(item);
  }
  violated("liveness", `no recovery within ${LIVENESS_EVENTS_MAX} events: ${describeCluster(sim)}`);
}

function measure(sim: Simulation): Progress {
  const leader = sim.leader();
  if (leader === undefined) return { done: false, members: [], why: "no leader" };
  const members = sim.nodeIds;
  const missing = nextMembershipStep(members, leader.conf);
  if (missing !== undefined) return { done: false, members, why: `membership still needs ${missing.type} n${missing.nodeId}` };
  const fresh = sim.freshWorkDone();
  if (!fresh.done) return { done: false, members, why: fresh.why };
  const commit = leader.node.rawNode().status().commit;
  for (const id of members) {
    const node = sim.node(id);
    if (!node.isUp() || node.isBlocked() || node.applied !== commit) {
      return { done: false, members, why: `n${id} has applied ${node.applied} of leader n${leader.id}'s commit ${commit}` };
    }
  }
  return { done: true, members, why: "recovered" };
}

/** The next change towards every node being a voter: add a stranger as a learner, promote a learner. */
export function nextMembershipStep(nodeIds: readonly NodeId[], conf: ConfState): ConfChange | undefined {
  const stranger = nodeIds.find((id) => !conf.voters.includes(id) && !conf.learners.includes(id));
  if (stranger !== undefined) return { type: "addLearner", nodeId: stranger };
  const learner = conf.learners[0];
  return learner === undefined ? undefined : { type: "addVoter", nodeId: learner };
}

function checkReplicasIdentical(sim: Simulation, members: readonly NodeId[]): void {
  const digests = members.map((id) => ({ id, digest: hex32(fnvBytes(FNV_OFFSET, sim.node(id).application.snapshot())) }));
  const first = digests[0];
  if (first !== undefined && digests.some((d) => d.digest !== first.digest)) {
    violated("stateMachineSafety", `replicas differ after converging: ${digests.map((d) => `n${d.id}=${d.digest}`).join(" ")}`);
  }
}

function describeCluster(sim: Simulation): string {
  const nodes = sim.nodes.map((node) => {
    if (!node.isUp()) return `n${node.id} down`;
    const status = node.rawNode().status();
    const conf = `voters [${status.confState.voters.join(",")}] learners [${status.confState.learners.join(",")}]`;
    const progress = status.progress.map((p) => `n${p.id} match ${p.match} next ${p.next} ${p.state}`).join(", ");
    return `${describeStatus(status)} ${conf}${progress === "" ? "" : ` progress: ${progress}`}`;
  });
  const partition = sim.network.currentPartition();
  return `${nodes.join("; ")}${partition === undefined ? "" : `; partition ${partition.kind}`}`;
}
