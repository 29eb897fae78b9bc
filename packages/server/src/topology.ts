// The cluster's shape: which regions exist, which nodes each has, and where they listen.
// It comes from a JSON file (`--config cluster.json`) or from the built-in local topology,
// and is validated field by field before anything uses it.

export interface NodeAddress {
  /** The node's id within its region's Raft group (1, 2, 3, ...). */
  readonly id: number;
  readonly host: string;
  readonly port: number;
}

export interface RegionSpec {
  readonly name: string;
  /** A small positive number, unique per region (it orders Paxos ballots later). */
  readonly id: number;
  readonly nodes: readonly NodeAddress[];
}

export interface Topology {
  /** Names the cluster; a data directory made for one cluster is refused by another. */
  readonly clusterId: string;
  readonly regions: readonly RegionSpec[];
}

/** A node's name across the whole cluster, e.g. "us-east/1": also its transport PeerId. */
export type PeerName = `${string}/${number}`;

export const peerName = (region: string, node: number): PeerName => `${region}/${node}`;

export const LOCAL_REGIONS = ["us-east", "us-west", "eu-west"] as const;

/**
 * The built-in local topology: 3 regions x 3 nodes on 127.0.0.1. Region r (1-based, in
 * the order above) node n listens on port 7000 + 10 r + n: us-east/1 on 7011, eu-west/3 on 7033.
 */
export function localTopology(host = "127.0.0.1", basePort = 7000): Topology {
  return {
    clusterId: "geolock-local",
    regions: LOCAL_REGIONS.map((name, r) => ({
      name,
      id: r + 1,
      nodes: [1, 2, 3].map((n) => ({ id: n, host, port: basePort + 10 * (r + 1) + n })),
    })),
  };
}

export class TopologyError extends Error {
  override readonly name = "TopologyError";
}

const REGION_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const HOST = /^[A-Za-z0-9.:[\]-]{1,253}$/;
const MAX_REGIONS = 9;
const MAX_NODES_PER_REGION = 7;

/** Decodes and validates a topology from untrusted JSON. Throws TopologyError naming the field. */
export function parseTopology(input: unknown): Topology {
  const root = record(input, "topology");
  const clusterId = root["clusterId"];
  if (typeof clusterId !== "string" || !/^[A-Za-z0-9._-]{1,64}$/.test(clusterId)) {
    throw new TopologyError("clusterId must be 1-64 characters of [A-Za-z0-9._-]");
  }
  const regionsIn = root["regions"];
  if (!Array.isArray(regionsIn) || regionsIn.length === 0 || regionsIn.length > MAX_REGIONS) {
    throw new TopologyError(`regions must be a non-empty array of at most ${MAX_REGIONS}`);
  }
  const regions = regionsIn.map((r, i) => parseRegion(r, `regions[${i}]`));
  assertUnique(regions.map((r) => r.name), "region name");
  assertUnique(regions.map((r) => String(r.id)), "region id");
  assertUnique(
    regions.flatMap((r) => r.nodes.map((n) => `${n.host}:${n.port}`)),
    "node address",
  );
  return { clusterId, regions };
}

function parseRegion(input: unknown, path: string): RegionSpec {
  const r = record(input, path);
  const name = r["name"];
  if (typeof name !== "string" || !REGION_NAME.test(name) || name === "global") {
    throw new TopologyError(`${path}.name must match ${REGION_NAME} and not be "global"`);
  }
  const id = integer(r["id"], `${path}.id`, 1, MAX_REGIONS);
  const nodesIn = r["nodes"];
  if (!Array.isArray(nodesIn) || nodesIn.length === 0 || nodesIn.length > MAX_NODES_PER_REGION) {
    throw new TopologyError(`${path}.nodes must be a non-empty array of at most ${MAX_NODES_PER_REGION}`);
  }
  const nodes = nodesIn.map((n, i) => parseNode(n, `${path}.nodes[${i}]`));
  assertUnique(nodes.map((n) => String(n.id)), `${path} node id`);
  return { name, id, nodes };
}

function parseNode(input: unknown, path: string): NodeAddress {
  const n = record(input, path);
  const host = n["host"];
  if (typeof host !== "string" || !HOST.test(host)) throw new TopologyError(`${path}.host is not a host name or address`);
  return {
    id: integer(n["id"], `${path}.id`, 1, 255),
    host,
    port: integer(n["port"], `${path}.port`, 1, 65535),
  };
}

function record(input: unknown, path: string): Record<string, unknown> {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new TopologyError(`${path} must be an object`);
  }
  return input as Record<string, unknown>;
}

function integer(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new TopologyError(`${path} must be an integer in [${min}, ${max}]`);
  }
  return value;
}

function assertUnique(values: readonly string[], what: string): void {
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) throw new TopologyError(`duplicate ${what}: ${v}`);
    seen.add(v);
  }
}

export function findRegion(topology: Topology, name: string): RegionSpec | undefined {
  return topology.regions.find((r) => r.name === name);
}

export function nodeUrl(node: NodeAddress, path: string): string {
  const host = node.host.includes(":") && !node.host.startsWith("[") ? `[${node.host}]` : node.host;
  return `ws://${host}:${node.port}${path}`;
}
