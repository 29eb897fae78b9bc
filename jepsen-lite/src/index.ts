// @geolock/jepsen-lite: history format, models, and the linearizability, fencing and
// mutual exclusion checkers.

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
