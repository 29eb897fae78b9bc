// Command-line arguments of `node dist/node.js`, resolved against the topology into the
// one node this process is. Every way to get it wrong ends in a NodeStartError with a
// distinct exit code, so scripts and operators can tell the failures apart.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { findRegion, localTopology, parseTopology, type NodeAddress, type RegionSpec, type Topology } from "./topology.js";
import { parseWanSpec, WanSpecError, type WanDelays } from "./wan.js";

/** Exit codes of a node that could not start. */
export const EXIT = {
  usage: 2,
  badConfig: 3,
  portInUse: 4,
  dataDirMismatch: 5,
  storage: 6,
} as const;

export class NodeStartError extends Error {
  override readonly name = "NodeStartError";
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

/**
 * The local cluster's shared secret. It is public, so it only protects a cluster on
 * loopback from accidents; any other deployment must pass GEOLOCK_SECRET or --secret-file.
 */
export const LOCAL_DEV_SECRET = "geolock-local-development-secret";

export interface NodeOptions {
  readonly topology: Topology;
  readonly region: RegionSpec;
  readonly self: NodeAddress;
  readonly dataDir: string;
  readonly secret: Uint8Array;
  readonly usingBuiltInTopology: boolean;
  readonly logLevel: string;
  /** One-way delays added to messages to other regions (WAN emulation); empty when off. */
  readonly wan: WanDelays;
  /** Applied entries between two snapshots of the region's state (then the log is compacted). */
  readonly snapshotEveryEntries: number;
}

export const DEFAULT_SNAPSHOT_EVERY_ENTRIES = 10_000;
/** Bounds of --snapshot-every: a snapshot per entry at most, and one at least every 10 million. */
export const SNAPSHOT_EVERY_MIN = 1;
export const SNAPSHOT_EVERY_MAX = 10_000_000;

export const USAGE = `usage: node dist/node.js --region NAME [--node N] [--config cluster.json] [--data DIR]
                          [--secret-file FILE] [--log-level info] [--wan SPEC]
                          [--snapshot-every N]

  --region       the region this node belongs to (local topology: us-east, us-west, eu-west)
  --node         the node's id within its region (default 1)
  --config       a cluster topology JSON file (default: 3 regions x 3 nodes on 127.0.0.1,
                 region r node n on port 70rn, e.g. us-east/1 on 7011, eu-west/3 on 7033)
  --data         the data directory (default ./data/<region>-<node>)
  --secret-file  a file holding the cluster secret (or set GEOLOCK_SECRET); the built-in
                 local topology falls back to a public development secret
  --log-level    pino level: trace, debug, info, warn, error (default info)
  --wan          emulate WAN latency on links to other regions: "realistic" (one way:
                 us-east/us-west 30 ms, us-east/eu-west 40 ms, us-west/eu-west 70 ms) or
                 "regionA:regionB=ms,..."; also GEOLOCK_WAN. Off by default.
  --snapshot-every  snapshot the region's state and compact the log after this many applied
                 entries (default 10000, like etcd's --snapshot-count); the log keeps the
                 last min(N, 1000) entries for followers that lag behind`;

export function parseNodeArgs(argv: readonly string[], env: NodeJS.ProcessEnv): NodeOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        region: { type: "string" },
        node: { type: "string" },
        config: { type: "string" },
        data: { type: "string" },
        "secret-file": { type: "string" },
        "log-level": { type: "string" },
        wan: { type: "string" },
        "snapshot-every": { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new NodeStartError(`${(error as Error).message}\n${USAGE}`, EXIT.usage);
  }
  if (values.region === undefined) throw new NodeStartError(`--region is required\n${USAGE}`, EXIT.usage);

  const topology = values.config === undefined ? localTopology() : loadTopology(values.config);
  const region = findRegion(topology, values.region);
  if (region === undefined) {
    const known = topology.regions.map((r) => r.name).join(", ");
    throw new NodeStartError(`unknown region "${values.region}" (known: ${known})`, EXIT.usage);
  }
  const nodeId = values.node === undefined ? 1 : Number(values.node);
  const self = region.nodes.find((n) => n.id === nodeId);
  if (self === undefined) {
    const known = region.nodes.map((n) => n.id).join(", ");
    throw new NodeStartError(`unknown node "${values.node}" in region ${region.name} (known: ${known})`, EXIT.usage);
  }
  const logLevel = values["log-level"] ?? "info";
  if (!["trace", "debug", "info", "warn", "error", "fatal", "silent"].includes(logLevel)) {
    throw new NodeStartError(`unknown --log-level "${logLevel}"`, EXIT.usage);
  }
  const wanSpec = values.wan ?? env["GEOLOCK_WAN"];
  let wan: WanDelays = new Map();
  if (wanSpec !== undefined && wanSpec !== "" && wanSpec !== "off") {
    try {
      wan = parseWanSpec(wanSpec, topology.regions.map((r) => r.name));
    } catch (error) {
      if (error instanceof WanSpecError) throw new NodeStartError(error.message, EXIT.usage);
      throw error;
    }
  }
  const snapshotEveryEntries = parseSnapshotEvery(values["snapshot-every"]);
  return {
    topology,
    region,
    self,
    wan,
    snapshotEveryEntries,
    dataDir: resolve(values.data ?? `data/${region.name}-${self.id}`),
    secret: loadSecret(values["secret-file"], env, values.config === undefined),
    usingBuiltInTopology: values.config === undefined,
    logLevel,
  };
}

function parseSnapshotEvery(text: string | undefined): number {
  if (text === undefined) return DEFAULT_SNAPSHOT_EVERY_ENTRIES;
  const n = /^[0-9]+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < SNAPSHOT_EVERY_MIN || n > SNAPSHOT_EVERY_MAX) {
    throw new NodeStartError(`--snapshot-every must be a whole number of entries from ${SNAPSHOT_EVERY_MIN} to ${SNAPSHOT_EVERY_MAX}, got "${text}"`, EXIT.usage);
  }
  return n;
}

function loadTopology(path: string): Topology {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new NodeStartError(`cannot read --config ${path}: ${(error as Error).message}`, EXIT.badConfig);
  }
  try {
    return parseTopology(JSON.parse(text));
  } catch (error) {
    throw new NodeStartError(`bad --config ${path}: ${(error as Error).message}`, EXIT.badConfig);
  }
}

const MIN_SECRET_BYTES = 16;

function loadSecret(file: string | undefined, env: NodeJS.ProcessEnv, builtIn: boolean): Uint8Array {
  let secret: string | undefined;
  if (file !== undefined) {
    try {
      secret = readFileSync(file, "utf8").trim();
    } catch (error) {
      throw new NodeStartError(`cannot read --secret-file ${file}: ${(error as Error).message}`, EXIT.badConfig);
    }
  } else {
    secret = env["GEOLOCK_SECRET"] ?? (builtIn ? LOCAL_DEV_SECRET : undefined);
  }
  if (secret === undefined) {
    throw new NodeStartError("a cluster secret is required with --config: set GEOLOCK_SECRET or --secret-file", EXIT.badConfig);
  }
  const bytes = new TextEncoder().encode(secret);
  if (bytes.byteLength < MIN_SECRET_BYTES) {
    throw new NodeStartError(`the cluster secret must be at least ${MIN_SECRET_BYTES} bytes`, EXIT.badConfig);
  }
  return bytes;
}
