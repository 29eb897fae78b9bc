// @geolock/client: the TypeScript client library of geolock. See README.md.

export { GeolockClient, type AcquireOptions, type ClientDependencies, type ConnectOptions, type ForkOptions } from "./client.js";
export { LockHandle, type HandleState } from "./lock-handle.js";
export { LockWatch, type GlobalWatchEvent, type GlobalWatchListener, type WatchEvent, type WatchListener } from "./lock-watch.js";
export { GeolockError, isGeolockError, LOCAL_ERROR_CODES, type GeolockErrorCode, type GeolockErrorDetails, type HolderInfo, type LocalErrorCode } from "./errors.js";
export { FencedResource, type FenceResult, type FencedResourceOptions } from "./fenced-resource.js";
export type { ClusterNode, ClusterRegion, ClusterView, GlobalHolder, GlobalLockStatus, HolderStatus, LockMode, LockRefInfo, LockStatus, WaiterStatus } from "./decode.js";
export { GLOBAL_PREFIX, isGlobalName } from "./global-locks.js";
export { clientUrl, localEndpoints, LOCAL_REGIONS, type EndpointSpec } from "./endpoint-pool.js";
export { CLOCK_DRIFT_RATIO, conservativeDeadline, DEADLINE_SLACK_MS, safetyMarginMs } from "./session.js";
export { conservativeClock, type Clock } from "./clock.js";
export { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from "./connection.js";
export { DEFAULT_RETRY_LIMITS, type RetryLimits } from "./caller.js";
export { formatDuration, parseDuration } from "./duration.js";
export { SILENT_LOGGER, type ClientLogger } from "./logger.js";
