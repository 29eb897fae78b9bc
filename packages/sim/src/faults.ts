// The fault schedule. At seeded intervals the simulation asks for the next fault and this
// module picks one from what the cluster looks like right now: crash a node (preferably one
// whose write is still waiting for its fsync, the moment a crash hurts most), cut the
// network (isolate a node, split a minority from a majority, or a bridge where one node
// still sees two sides that cannot see each other), heal, move leadership, or change
// membership one node at a time (remove a voter, add it back as a learner, promote it).

import type { ConfChange, ConfState, NodeId, SeededRng } from "@geolock/raft";
import type { FaultConfig } from "./config.js";
import { msToUs } from "./clock.js";
import type { Partition } from "./network.js";

/** What the scheduler may look at. */
export interface ClusterView {
  readonly nodeIds: readonly NodeId[];
  isUp(id: NodeId): boolean;
  hasPendingWrite(id: NodeId): boolean;
  /** The live leader with the highest term, with its membership, if any. */
  leader(): { readonly id: NodeId; readonly conf: ConfState } | undefined;
}

export type FaultAction =
  | { readonly kind: "crash"; readonly node: NodeId; readonly restartAfterUs: number }
  | { readonly kind: "partition"; readonly partition: Partition; readonly healAfterUs: number }
  | { readonly kind: "heal" }
  | { readonly kind: "transfer"; readonly leader: NodeId; readonly to: NodeId }
  | { readonly kind: "confChange"; readonly leader: NodeId; readonly change: ConfChange }
  | { readonly kind: "none"; readonly why: string };

export function chooseFault(view: ClusterView, config: FaultConfig, rng: SeededRng): FaultAction {
  const weights = [config.crashWeight, config.partitionWeight, config.healWeight, config.transferWeight, config.membershipWeight];
  switch (weightedIndex(weights, rng)) {
    case -1:
      return { kind: "none", why: "every fault weight is zero" };
    case 0:
      return chooseCrash(view, config, rng);
    case 1:
      return choosePartition(view, config, rng);
    case 2:
      return { kind: "heal" };
    case 3:
      return chooseTransfer(view, rng);
    default:
      return chooseConfChange(view, rng);
  }
}

function chooseCrash(view: ClusterView, config: FaultConfig, rng: SeededRng): FaultAction {
  const up = view.nodeIds.filter((id) => view.isUp(id));
  if (view.nodeIds.length - up.length >= config.downNodesMax) return { kind: "none", why: "enough nodes down" };
  if (up.length === 0) return { kind: "none", why: "no node up" };
  const syncing = up.filter((id) => view.hasPendingWrite(id));
  const leader = view.leader();
  let pool = up;
  if (leader !== undefined && rng.chance(config.leaderTargetProbability)) pool = [leader.id];
  else if (syncing.length > 0 && rng.chance(config.crashDuringFsyncProbability)) pool = syncing;
  const quick = rng.chance(config.quickRestartProbability);
  const restartAfterUs = 1 + rng.nextInt(msToUs(quick ? config.quickRestartMsMax : config.restartMsMax));
  return { kind: "crash", node: pickOne(pool, rng), restartAfterUs };
}

function choosePartition(view: ClusterView, config: FaultConfig, rng: SeededRng): FaultAction {
  const ids = shuffled(view.nodeIds, rng);
  const leader = view.leader();
  if (leader !== undefined && rng.chance(config.leaderTargetProbability)) {
    // The leader goes first: it is the one isolated, or on the minority side.
    ids.splice(ids.indexOf(leader.id), 1);
    ids.unshift(leader.id);
  }
  const healAfterUs = 1 + rng.nextInt(msToUs(config.partitionMsMax));
  const kind = ids.length >= 3 ? pickOne(["isolate", "split", "bridge"] as const, rng) : "isolate";
  if (ids.length < 2) return { kind: "none", why: "one node cannot be partitioned" };
  if (kind === "isolate") return { kind: "partition", partition: { kind, left: ids.slice(0, 1), right: ids.slice(1) }, healAfterUs };
  if (kind === "split") {
    const minority = 1 + rng.nextInt(Math.floor((ids.length - 1) / 2));
    return { kind: "partition", partition: { kind, left: ids.slice(0, minority), right: ids.slice(minority) }, healAfterUs };
  }
  // Bridge: ids[0] sees everyone; the others form two sides that cannot see each other.
  const rest = ids.slice(1);
  const cut = 1 + rng.nextInt(rest.length - 1);
  const bridge = ids[0] as NodeId;
  return { kind: "partition", partition: { kind, left: rest.slice(0, cut), right: rest.slice(cut), bridge }, healAfterUs };
}

function chooseTransfer(view: ClusterView, rng: SeededRng): FaultAction {
  const leader = view.leader();
  if (leader === undefined) return { kind: "none", why: "no leader to transfer from" };
  const targets = leader.conf.voters.filter((id) => id !== leader.id);
  if (targets.length === 0) return { kind: "none", why: "no other voter" };
  return { kind: "transfer", leader: leader.id, to: pickOne(targets, rng) };
}

/** One step towards or away from full membership, never below a majority of the nodes. */
function chooseConfChange(view: ClusterView, rng: SeededRng): FaultAction {
  const leader = view.leader();
  if (leader === undefined) return { kind: "none", why: "no leader for a membership change" };
  const { voters, learners } = leader.conf;
  const strangers = view.nodeIds.filter((id) => !voters.includes(id) && !learners.includes(id));
  const options: ConfChange[] = [];
  for (const id of strangers) options.push({ type: "addLearner", nodeId: id });
  for (const id of learners) options.push({ type: "addVoter", nodeId: id });
  if (voters.length > Math.floor(view.nodeIds.length / 2) + 1) {
    for (const id of voters) options.push({ type: "removeNode", nodeId: id });
  }
  if (options.length === 0) return { kind: "none", why: "no membership change possible" };
  return { kind: "confChange", leader: leader.id, change: pickOne(options, rng) };
}

export function describeFault(action: FaultAction): string {
  switch (action.kind) {
    case "crash":
      return `crash n${action.node} restart in ${action.restartAfterUs}us`;
    case "partition": {
      const p = action.partition;
      const bridge = p.bridge === undefined ? "" : ` bridge n${p.bridge}`;
      return `${p.kind} [${p.left.join(",")}] | [${p.right.join(",")}]${bridge} heal in ${action.healAfterUs}us`;
    }
    case "heal":
      return "heal";
    case "transfer":
      return `transfer leadership n${action.leader} -> n${action.to}`;
    case "confChange":
      return `${action.change.type} n${action.change.nodeId} via n${action.leader}`;
    case "none":
      return `no fault (${action.why})`;
  }
}

function weightedIndex(weights: readonly number[], rng: SeededRng): number {
  const total = weights.reduce((a, b) => a + b, 0);
  if (total <= 0) return -1;
  let r = rng.nextFloat() * total;
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i] as number;
    if (r < 0) return i;
  }
  return weights.length - 1;
}

export function pickOne<T>(items: readonly T[], rng: SeededRng): T {
  if (items.length === 0) throw new Error("pickOne: no items");
  return items[rng.nextInt(items.length)] as T;
}

function shuffled<T>(items: readonly T[], rng: SeededRng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const tmp = out[i] as T;
    out[i] = out[j] as T;
    out[j] = tmp;
  }
  return out;
}
