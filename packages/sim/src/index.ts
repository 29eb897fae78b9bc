// The public entry of @geolock/sim.

export { runSimulation, Simulation } from "./simulation.js";
export type { SimOptions, SimResult, SimEvent } from "./simulation.js";
export { paramsForSeed, PROFILES } from "./config.js";
export type { Profile, SimParams, ParamOverrides, FaultConfig, ClientConfig, LivenessConfig } from "./config.js";
export { SimNode } from "./sim-node.js";
export type { SimNodeConfig, SimNodeDeps, NodeEnv, NodeObserver, RaftTuning } from "./sim-node.js";
export type { Application, ApplicationFactory } from "./application.js";
export { KvApp, encodeSet } from "./kv-app.js";
export { chooseFault, describeFault } from "./faults.js";
export type { ClusterView, FaultAction } from "./faults.js";
export { EventQueue } from "./event-queue.js";
export type { Scheduled } from "./event-queue.js";
export { VirtualClock, msToUs } from "./clock.js";
export { SimNetwork } from "./network.js";
export type { NetworkConfig, Partition, SendOutcome, DropReason } from "./network.js";
export { SimDisk } from "./disk.js";
export type { DiskConfig, DiskWrite } from "./disk.js";
export { SafetyChecker } from "./safety.js";
export { LogChains } from "./log-chain.js";
export { Trace } from "./trace.js";
export { InvariantViolation } from "./violation.js";
export type { Invariant, Violation } from "./violation.js";
export { replayCommand } from "./replay.js";
export { runCli } from "./cli-run.js";
export type { CliOutput } from "./cli-run.js";
export { parseArgs } from "./cli-args.js";
export type { CliArgs } from "./cli-args.js";
