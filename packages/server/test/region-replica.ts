// One region replica's application, in process, for tests of the lock service: a lock
// service and a global service (single-region Paxos on an in-memory transport that nothing
// else uses) behind a RegionApplication. Each test attaches its own stub Raft node.
import { asRegionId, paxosConfig } from "@geolock/paxos";
import { MemoryTransportNetwork, type MemoryTransport } from "@geolock/transport";
import { pino } from "pino";
import { DEFAULT_GLOBAL_TIMING, GlobalService } from "../src/global-service.js";
import { LockService } from "../src/lock-service.js";
import { PaxosPeers } from "../src/paxos-peers.js";
import { RegionApplication } from "../src/region-application.js";
import type { Topology } from "../src/topology.js";

export const REPLICA_REGION = "us-east";
const topology: Topology = { clusterId: "test", regions: [{ name: REPLICA_REGION, id: 1, nodes: [{ id: 1, host: "127.0.0.1", port: 9100 }] }] };
const logger = pino({ level: "silent" });
const clock = { nowMs: () => 1_000_000 };

export interface RegionReplica {
  readonly locks: LockService;
  readonly app: RegionApplication;
  readonly transport: MemoryTransport;
}

/** A replica whose lock service proposes a tick every `tickCommandMs` while it leads. */
export function regionReplica(tickCommandMs: number, proposalTimeoutMs = 5_000): RegionReplica {
  const transport = new MemoryTransportNetwork().create(`${REPLICA_REGION}/1`);
  const region = asRegionId(REPLICA_REGION);
  const paxos = paxosConfig([region]);
  const peerNameOf = (id: number): string => `${REPLICA_REGION}/${id}`;
  const peers = new PaxosPeers({ topology, region, self: transport.self, paxos }, transport);
  const global = new GlobalService({ ...DEFAULT_GLOBAL_TIMING, region, paxos, seed: 1, peerNameOf }, clock, peers, logger);
  const locks = new LockService({ region: REPLICA_REGION, tickCommandMs, proposalTimeoutMs, peerNameOf }, clock, logger);
  return { locks, app: new RegionApplication(locks, global), transport };
}
