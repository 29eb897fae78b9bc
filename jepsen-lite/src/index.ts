// @geolock/jepsen-lite: history format, models, and the linearizability, fencing and
// mutual exclusion checkers, and the watch stream checker.

export { canonicalJson, type JsonObject, type JsonValue, type Result } from "./json.js";
export {
  DEFAULT_PARSE_LIMITS,
  decodeEvent,
  describeOperation,
  formatEvent,
  formatHistory,
  historyFromEvents,
  parseHistory,
  type EventType,
  type History,
  type HistoryError,
  type HistoryEvent,
  type Operation,
  type Outcome,
  type ParseLimits,
} from "./history.js";
export type { Model, ModelOp, Role } from "./model.js";
export { casRegisterModel, type RegisterInput, type RegisterState } from "./models/cas-register.js";
export { lockModel, type Holder, type LockInput, type LockState } from "./models/lock.js";
export {
  decodeAcquireRequest,
  decodeFencedWrite,
  decodeGrant,
  decodeReleaseRequest,
  decodeStatus,
  type AcquireRequest,
  type FencedWrite,
  type Grant,
  type LockMode,
  type LockStatus,
  type ReleaseRequest,
} from "./lock-values.js";
export {
  checkLinearizability,
  DEFAULT_LINEARIZABILITY_OPTIONS,
  type Counterexample,
  type KeyResult,
  type LinearizabilityOptions,
  type LinearizabilityReport,
  type Verdict,
} from "./linearizability.js";
export type { SearchStop } from "./search.js";
export { checkFencing, type FencingAnomaly, type FencingAnomalyKind, type FencingOptions, type FencingReport } from "./fencing.js";
export { checkWatchStreams, type WatchAnomaly, type WatchAnomalyKind, type WatchRecord, type WatchStreamReport } from "./watch-streams.js";
export {
  checkMutualExclusion,
  criticalSections,
  type CriticalSection,
  type MutualExclusionAnomaly,
  type MutualExclusionReport,
  type SectionEnd,
} from "./mutual-exclusion.js";
export { generateLockHistory, generateRegisterHistory, SeededRng, type GenerateOptions } from "./generate.js";
export { runCheckCli, type CliResult } from "./cli.js";
// The real-process harness (npm run jepsen) and its report; harness/run.ts, which drives
// geolock through @geolock/client, is reached through jepsen-cli.ts only.
export { DEFAULT_OPTIONS, JEPSEN_USAGE, NEMESIS_KINDS, parseJepsenArgs, type HarnessOptions, type NemesisKind, type Target, type Workload } from "./harness/options.js";
export { cutBetween, Firewall, findNft, NFT_TABLE, nftScript, tableExists, type Cut } from "./harness/firewall.js";
export { tcpReachable, type TcpProbe } from "./harness/tcp-probe.js";
export { nodeHost } from "./harness/cluster.js";
export { planFaults, type NemesisEvent, type PlannedFault, type ScheduleOptions, type Variant } from "./harness/nemesis.js";
export { HistoryRecorder, resourceKey } from "./harness/recorder.js";
export { GuardedResource, type WriteDecision } from "./harness/resource.js";
export { decodeFromWorker, type FromWorker, type ToWorker, type WorkerConfig } from "./harness/protocol.js";
export { describeCrash, readNemesisLog, summarize, verdictOf, type RunSummary, type RunVerdict, type SummaryChecks } from "./harness/summary.js";
export { ProcessRegistry, type ProcessCrash, type ProcessSpec } from "./harness/processes.js";
export { renderReport, type ReportInput } from "./report/html.js";
export { decodeUnsafeRequest, serveUnsafe, UnsafeLockServer, type UnsafeRequest } from "./unsafe-server.js";
