// Public entry of @geolock/bench: the pieces a benchmark suite is built from.

export type { BenchOptions, BenchSuite, RunSample, ScenarioResult } from "./suite.js";
export { Histogram, HISTOGRAM_MAX_MICROS } from "./histogram.js";
export { fairnessOf, runClosedLoop, summarize } from "./load.js";
export type { Fairness, LatencySummary, LoadOptions, LoadResult, Operation } from "./load.js";
export { BASELINE_CONCURRENCIES, fairnessExtra, measureScenario, median } from "./scenario.js";
export type { ScenarioSpec } from "./scenario.js";
export { EtcdClient } from "./etcd-client.js";
export { ETCD_BINARY, requireEtcd, startEtcdCluster } from "./etcd-cluster.js";
export type { EtcdCluster, EtcdClusterOptions } from "./etcd-cluster.js";
export { RespClient, RespError, RespParser, encodeCommand } from "./resp.js";
export type { RespValue } from "./resp.js";
export { commandOutput, freePort, onInterrupt, startServer, waitUntil } from "./processes.js";
export type { ServerProcess } from "./processes.js";
