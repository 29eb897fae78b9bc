// Everything a run is parameterised by. Most knobs are drawn from the seed itself, within
// ranges (swarm testing, as FoundationDB's simulator does): one seed runs a lossy network
// with tiny append batches, the next a clean network with a slow disk and frequent
// snapshots, so a fixed number of seeds covers far more corners than one tuned profile.

import { SeededRng } from "@geolock/raft";
import type { DiskConfig } from "./disk.js";
import type { NetworkConfig } from "./network.js";
import type { RaftTuning } from "./sim-node.js";

export interface FaultConfig {
  /** Time between fault decisions, uniform in [intervalMsMin, intervalMsMax]. */
  readonly intervalMsMin: number;
  readonly intervalMsMax: number;
  /** Relative weights of the kinds of fault. */
  readonly crashWeight: number;
  readonly partitionWeight: number;
  readonly healWeight: number;
  readonly transferWeight: number;
  readonly membershipWeight: number;
  /**
   * Probability that a crash or an isolation aims at the current leader. Leader churn with
   * divergent uncommitted tails is where commit rules go wrong (the paper's Figure 8).
   */
  readonly leaderTargetProbability: number;
  /**
   * Probability that a newly elected leader is isolated at once, or isolated or crashed
   * within newLeaderFaultMsMax of its election, while it still brings followers up to date.
   */
  readonly newLeaderFaultProbability: number;
  readonly newLeaderFaultMsMax: number;
  /**
   * Probability that a node that has just granted a vote crashes before the vote's fsync
   * completes, then restarts within quickRestartMsMax: the moment a vote is most fragile.
   */
  readonly voteCrashProbability: number;
  /** Probability that a crash picks a node whose write is not yet fsynced, if there is one. */
  readonly crashDuringFsyncProbability: number;
  /** Probability of a quick restart (within quickRestartMsMax) rather than one within restartMsMax. */
  readonly quickRestartProbability: number;
  readonly quickRestartMsMax: number;
  readonly restartMsMax: number;
  /** How long a partition lasts at most before it heals by itself. */
  readonly partitionMsMax: number;
  /** Nodes down at once, at most. */
  readonly downNodesMax: number;
}

export interface ClientConfig {
  /** Time between client requests, uniform in [intervalMsMin, intervalMsMax]. */
  readonly intervalMsMin: number;
  readonly intervalMsMax: number;
  /** Proposals per client request, taken by the leader in one turn (one Ready, one fsync). */
  readonly batchMax: number;
  /** Probability that a request is a ReadIndex read rather than a proposal. */
  readonly readProbability: number;
  /** Proposals awaiting their outcome; the clients propose no more until some complete. */
  readonly outstandingMax: number;
  /** A proposal not acknowledged within this time is given up (and its slot freed). */
  readonly timeoutMs: number;
}

export interface LivenessConfig {
  /** Virtual time after the faults stop within which the cluster must recover. */
  readonly timeoutMs: number;
  /** Proposals made after the faults stopped that must commit. */
  readonly proposals: number;
  /** Time between client requests after the faults stopped. */
  readonly clientIntervalMs: number;
}

export interface SimParams {
  /** The profile this seed was drawn with (never "mixed"). */
  readonly profile: Profile;
  readonly nodes: number;
  /** Virtual time between ticks; each node's clock runs off by up to tickDriftPpm. */
  readonly tickMs: number;
  readonly tickDriftPpm: number;
  readonly raft: RaftTuning;
  readonly network: NetworkConfig;
  readonly disk: DiskConfig;
  readonly faults: FaultConfig;
  readonly client: ClientConfig;
  readonly liveness: LivenessConfig;
  /** Whether drivers send the leader's replication traffic before their fsync (SimNodeConfig). */
  readonly earlyReplication: boolean;
  /** Whether drivers apply entries committed while their own write is in flight (SimNodeConfig). */
  readonly applyDuringWrite: boolean;
  readonly snapshotEveryEntries: number;
  readonly snapshotKeepTailEntries: number;
  readonly inboxMessagesMax: number;
  readonly readiesPerTurnMax: number;
  /** Upper bounds that keep a run's memory finite. */
  readonly eventsMax: number;
  readonly entriesMax: number;
  readonly recentTraceLines: number;
}

/** Deep-partial overrides of the drawn parameters (tests use them to aim at a corner). */
export type ParamOverrides = {
  readonly [K in keyof SimParams]?: SimParams[K] extends object ? Partial<SimParams[K]> : SimParams[K];
};

/**
 * `swarm` draws every knob independently from the seed. `leaderChurn` is the targeted
 * pattern for commit-rule bugs: one entry per append and one append in flight (so a new
 * leader brings followers up to date entry by entry), and faults that strike leaders,
 * above all new ones. `mixed` (the default) runs a quarter of the seeds as leaderChurn.
 */
export type Profile = "mixed" | "swarm" | "leaderChurn";

export const PROFILES: readonly Profile[] = ["mixed", "swarm", "leaderChurn"];

/** The replicated application the nodes run: the key-value store, or the lock state machine. */
export type AppKind = "kv" | "locks";

export const APP_KINDS: readonly AppKind[] = ["kv", "locks"];

// Tuned by measuring how often a leader that counts earlier terms' replicas (the Figure 8
// bug) is caught: long partitions and restarts let a divergent tail survive until its
// owner can win again, a busy client makes those tails long, and short election timeouts
// make leaders change often.
const LEADER_CHURN: ParamOverrides = {
  // Shorter election timeouts: twice the leader changes for the same number of events.
  raft: { maxAppendBytes: 64, maxInflightAppends: 1, electionTicks: 5 },
  faults: {
    newLeaderFaultProbability: 0.9,
    newLeaderFaultMsMax: 100,
    leaderTargetProbability: 0.9,
    partitionMsMax: 1500,
    restartMsMax: 1500,
  },
  client: { intervalMsMax: 10 },
};

export function paramsForSeed(seed: number, nodes: number, profile: Profile = "mixed", overrides: ParamOverrides = {}): SimParams {
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 9) throw new Error(`sim: nodes must be 1..9, got ${nodes}`);
  // A stream of its own, so that the parameters do not shift the run's other streams.
  const rng = new SeededRng(new SeededRng(seed).nextUint32() ^ 0x5eed);
  const pick = <T>(choices: readonly T[]): T => choices[rng.nextInt(choices.length)] as T;
  const churn = profile === "leaderChurn" || (profile === "mixed" && rng.nextInt(4) === 0);
  const drawn: SimParams = {
    profile: churn ? "leaderChurn" : "swarm",
    nodes,
    tickMs: 10,
    tickDriftPpm: pick([0, 1_000, 20_000]),
    raft: {
      electionTicks: 10,
      heartbeatTicks: pick([1, 2, 3]),
      // 64 bytes forces one entry per append: commits then advance entry by entry, which is
      // what exposes a leader that counts replicas of an older term's entry (Figure 8).
      maxAppendBytes: pick([64, 512, 64 * 1024]),
      maxInflightAppends: pick([1, 4, 64]),
      snapshotChunkBytes: pick([48, 1024, 64 * 1024]),
      preVote: pick([true, true, false]),
      checkQuorum: pick([true, true, false]),
      // The clients never wait, so this is their back-pressure: it bounds the backlog a
      // leader can build faster than it replicates (the liveness phase must drain it).
      maxUncommittedBytes: pick([2 * 1024, 8 * 1024, 64 * 1024]),
    },
    network: {
      dropProbability: pick([0, 0.01, 0.05]),
      duplicateProbability: pick([0, 0.02, 0.1]),
      delayMsMin: 0.2,
      delayMsMax: pick([2, 5, 15]),
      longTailProbability: pick([0.005, 0.02, 0.05]),
      longTailMsMax: pick([60, 200, 400]),
      inFlightMessagesMax: 10_000,
    },
    disk: {
      fsyncMsMin: 0.1,
      fsyncMsMax: pick([0.5, 2, 8]),
      slowFsyncProbability: pick([0.01, 0.05, 0.15]),
      slowFsyncMsMax: pick([20, 80, 250]),
    },
    faults: {
      intervalMsMin: 20,
      intervalMsMax: pick([150, 400, 1000]),
      crashWeight: 4,
      partitionWeight: 3,
      healWeight: 1,
      transferWeight: 1,
      membershipWeight: pick([0, 2, 4]),
      leaderTargetProbability: pick([0, 0.5, 0.9]),
      newLeaderFaultProbability: pick([0, 0.3, 0.6]),
      newLeaderFaultMsMax: pick([10, 40, 150]),
      voteCrashProbability: pick([0, 0.1, 0.5]),
      crashDuringFsyncProbability: pick([0.3, 0.7]),
      quickRestartProbability: 0.5,
      quickRestartMsMax: 30,
      restartMsMax: pick([300, 1500]),
      partitionMsMax: pick([300, 1500]),
      downNodesMax: Math.floor(nodes / 2) + 1,
    },
    client: {
      intervalMsMin: 1,
      intervalMsMax: pick([10, 40]),
      batchMax: pick([1, 4, 16]),
      readProbability: 0.1,
      outstandingMax: pick([8, 32, 128]),
      timeoutMs: 2000,
    },
    liveness: { timeoutMs: 30_000, proposals: 3, clientIntervalMs: 100 },
    earlyReplication: pick([true, false]),
    snapshotEveryEntries: pick([8, 40, 200]),
    snapshotKeepTailEntries: pick([0, 5, 50]),
    inboxMessagesMax: 1024,
    readiesPerTurnMax: 1000,
    eventsMax: 100_000,
    entriesMax: 1_000_000,
    recentTraceLines: 60,
    // Drawn last: the draws above, and so every earlier seed's parameters, stay as they were.
    applyDuringWrite: pick([true, false]),
  };
  return applyOverrides(churn ? applyOverrides(drawn, LEADER_CHURN) : drawn, overrides);
}

function applyOverrides(drawn: SimParams, overrides: ParamOverrides): SimParams {
  const { raft, network, disk, faults, client, liveness, ...scalars } = overrides;
  return {
    ...drawn,
    ...scalars,
    raft: { ...drawn.raft, ...raft },
    network: { ...drawn.network, ...network },
    disk: { ...drawn.disk, ...disk },
    faults: { ...drawn.faults, ...faults },
    client: { ...drawn.client, ...client },
    liveness: { ...drawn.liveness, ...liveness },
  };
}
