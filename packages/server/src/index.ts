// The public entry of @geolock/server: the node and the pieces tests and tools reuse.

export { EXIT, LOCAL_DEV_SECRET, NodeStartError, parseNodeArgs, USAGE, type NodeOptions } from "./args.js";
export { MonotonicClock, type Clock } from "./clock.js";
export { GeolockNode, RAFT_TIMING } from "./geolock-node.js";
export { localTopology, parseTopology, peerName, LOCAL_REGIONS, type Topology, type RegionSpec, type NodeAddress } from "./topology.js";
