// The public entry of @geolock/server: the node and the pieces tests and tools reuse.

export { EXIT, LOCAL_DEV_SECRET, NodeStartError, parseNodeArgs, USAGE, type NodeOptions } from "./args.js";
export { MonotonicClock, type Clock } from "./clock.js";
export { GeolockNode, RAFT_TIMING } from "./geolock-node.js";
export { localTopology, parseTopology, peerName, LOCAL_REGIONS, type Topology, type RegionSpec, type NodeAddress } from "./topology.js";
// The pieces of a node's request path, for in-process benchmarks (bench/src/suites/lock-path.ts).
export { LockService, type LockServiceNode, type LockServiceOptions } from "./lock-service.js";
export { RegionApplication } from "./region-application.js";
export { RequestRouter, type RouterOptions } from "./request-router.js";
export { GlobalService, DEFAULT_GLOBAL_TIMING, type GlobalServiceOptions } from "./global-service.js";
export { PaxosPeers, type PaxosPeersOptions } from "./paxos-peers.js";
export { CLIENT_FRAME_DECODE_DEPTH, DEFAULT_CLIENT_LIMITS, type ClientEndpointLimits } from "./client-endpoint.js";
