// One geolock node: opens its durable log, joins its region's Raft group over the peer
// transport, runs the lock service, and serves clients and HTTP on a single port:
//   /peer    WebSocket, authenticated peers (Raft, forwarded requests)
//   /client  WebSocket, clients
//   /health  200 while the process is up
//   /ready   200 when the region has a leader and this node has applied what it knows committed
//   /status  JSON: role, term, leader, commit, applied, peers' match and lag
//   /metrics Prometheus text

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { asRegionId, paxosConfig } from "@geolock/paxos";
import { asNodeId, type NodeId } from "@geolock/raft";
import { DurableLog, IdentityMismatchError } from "@geolock/storage";
import { WsTransport, type LinkCounters } from "@geolock/transport";
import type { Logger } from "pino";
import { EXIT, NodeStartError, type NodeOptions } from "./args.js";
import { ClientEndpoint } from "./client-endpoint.js";
import type { Clock } from "./clock.js";
import { DEFAULT_GLOBAL_TIMING, GlobalService } from "./global-service.js";
import { LockService } from "./lock-service.js";
import { MetricsRegistry } from "./metrics.js";
import { PaxosPeers } from "./paxos-peers.js";
import { RegionApplication } from "./region-application.js";
import { RegionNode } from "./region-node.js";
import { RequestRouter } from "./request-router.js";
import { nodeUrl, peerName, type PeerName } from "./topology.js";
import { wanDelayMs, WanTransport } from "./wan.js";

/** Timing of the Raft group. Election timeouts are drawn from [300, 600) ms. */
export const RAFT_TIMING = { tickMs: 10, heartbeatTicks: 5, electionTicks: 30 } as const;
/** A follower within this many entries of its commit index counts as caught up for /ready. */
const READY_LAG_ENTRIES_MAX = 1_000;
/** After a snapshot the log keeps this many entries at most, so a follower a little behind catches up from the log. */
const SNAPSHOT_KEEP_TAIL_ENTRIES_MAX = 1_000;

type PeerTransportLike = { close(): Promise<void> };

export interface NodeDependencies {
  readonly clock: Clock;
  readonly logger: Logger;
}

export class GeolockNode {
  private readonly http: Server;
  private readonly metrics = new MetricsRegistry();
  private closing: Promise<void> | undefined;

  private constructor(
    readonly options: NodeOptions,
    private readonly log: DurableLog,
    private readonly transport: WsTransport,
    private readonly peerTransport: PeerTransportLike,
    readonly raft: RegionNode,
    private readonly service: LockService,
    private readonly global: GlobalService,
    private readonly router: RequestRouter,
    private readonly clients: ClientEndpoint,
    private readonly logger: Logger,
  ) {
    this.http = createServer((req, res) => this.route(req, res));
    this.http.on("upgrade", (req: IncomingMessage, socket, head: Buffer) => {
      const path = (req.url ?? "").split("?")[0];
      if (path === "/peer") transport.handleUpgrade(req, socket, head);
      else if (path === "/client") clients.handleUpgrade(req, socket, head);
      else socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
    });
    this.registerMetrics();
  }

  /** Opens storage and binds the port; throws NodeStartError with a distinct exit code. */
  static async start(options: NodeOptions, deps: NodeDependencies): Promise<GeolockNode> {
    const { region, self, topology } = options;
    const logger = deps.logger;
    const members = new Map<NodeId, PeerName>(region.nodes.map((n) => [asNodeId(n.id), peerName(region.name, n.id)]));
    const selfName = peerName(region.name, self.id);
    let log: DurableLog;
    try {
      log = await DurableLog.open(
        options.dataDir,
        { clusterId: topology.clusterId, region: region.name, nodeId: self.id },
        { initialConfState: { voters: [...members.keys()], learners: [] } },
      );
    } catch (error) {
      if (error instanceof IdentityMismatchError) throw new NodeStartError(`data directory ${options.dataDir}: ${error.message}`, EXIT.dataDirMismatch);
      throw new NodeStartError(`cannot open data directory ${options.dataDir}: ${(error as Error).message}`, EXIT.storage);
    }
    const peers = new Map<string, string>();
    for (const r of topology.regions) {
      for (const n of r.nodes) {
        const name = peerName(r.name, n.id);
        if (name !== selfName) peers.set(name, nodeUrl(n, "/peer"));
      }
    }
    const transport = new WsTransport({
      self: selfName,
      secret: options.secret,
      peers,
      logger: logger.child({ component: "transport" }),
      // On loopback, each node's links leave from its own address, so that a partition can
      // be made with packet filter rules per address pair (jepsen-lite).
      ...(self.host.startsWith("127.") ? { localAddress: self.host } : {}),
    });
    const regionOfPeer = (peer: string): string => peer.slice(0, peer.indexOf("/"));
    const peerTransport =
      options.wan.size === 0 ? transport : new WanTransport(transport, (peer) => wanDelayMs(options.wan, region.name, regionOfPeer(peer)));
    if (options.wan.size > 0) logger.info({ wan: Object.fromEntries(options.wan) }, "WAN emulation on: one-way delays to other regions");
    const service = new LockService(
      { region: region.name, tickCommandMs: 100, proposalTimeoutMs: 5_000, peerNameOf: (id) => peerName(region.name, id) },
      deps.clock,
      logger.child({ component: "locks" }),
    );
    const regionId = asRegionId(region.name);
    const paxos = paxosConfig(topology.regions.map((r) => asRegionId(r.name)));
    const paxosPeers = new PaxosPeers({ topology, region: regionId, self: selfName, paxos }, peerTransport);
    const global = new GlobalService(
      { ...DEFAULT_GLOBAL_TIMING, region: regionId, paxos, seed: (self.port * 104_729 + Number(process.pid)) >>> 0, peerNameOf: (id) => peerName(region.name, id) },
      deps.clock,
      paxosPeers,
      logger.child({ component: "global" }),
      service.watches,
    );
    const raft = new RegionNode(
      {
        nodeId: asNodeId(self.id),
        members,
        ...RAFT_TIMING,
        snapshotEveryEntries: options.snapshotEveryEntries,
        snapshotKeepTailEntries: Math.min(options.snapshotEveryEntries, SNAPSHOT_KEEP_TAIL_ENTRIES_MAX),
        seed: (self.port * 7919 + Number(process.pid)) >>> 0,
      },
      log,
      peerTransport,
      new RegionApplication(service, global),
      logger.child({ component: "raft" }),
    );
    service.attach(raft);
    global.attach(raft);
    const router = new RequestRouter(
      { topology, region: region.name, self: selfName, forwardHopsMax: 3, forwardTimeoutMs: 5_000, forwardsInFlightMax: 10_000 },
      service,
      global,
      peerTransport,
    );
    const clients = new ClientEndpoint(router, logger.child({ component: "clients" }));
    service.onPush((clientId, push) => clients.push(clientId, push));
    const node = new GeolockNode(options, log, transport, peerTransport, raft, service, global, router, clients, logger);
    await node.listen();
    transport.start();
    raft.start((error) => {
      logger.fatal({ err: error }, "fatal error; exiting");
      process.exit(1);
    });
    logger.info({ port: self.port, dataDir: options.dataDir, recovered: log.recovered.lastIndex }, "node started");
    return node;
  }

  /**
   * Stops gracefully: hands leadership to the most caught-up peer (bounded wait), then
   * closes clients, peers and storage.
   */
  stop(transferTimeoutMs = 2_000): Promise<void> {
    this.closing ??= this.shutdown(transferTimeoutMs);
    return this.closing;
  }

  private async shutdown(transferTimeoutMs: number): Promise<void> {
    await this.transferLeadership(transferTimeoutMs);
    this.clients.close();
    this.router.stop();
    this.service.stop();
    this.global.stop();
    await this.raft.stop();
    await this.peerTransport.close();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeAllConnections();
    await this.log.close();
  }

  private async transferLeadership(timeoutMs: number): Promise<void> {
    const status = this.raft.status();
    if (status.role !== "leader") return;
    const best = status.progress.filter((p) => p.id !== status.id).sort((a, b) => b.match - a.match)[0];
    if (best === undefined || !this.raft.transferLeader(best.id)) return;
    this.logger.info({ term: status.term, to: best.id }, "transferring leadership before exit");
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && this.raft.status().role === "leader") await new Promise((r) => setTimeout(r, 20));
  }

  private listen(): Promise<void> {
    const { host, port } = this.options.self;
    return new Promise((resolve, reject) => {
      this.http.once("error", (error: NodeJS.ErrnoException) => {
        void this.log.close();
        if (error.code === "EADDRINUSE") reject(new NodeStartError(`port ${port} on ${host} is already in use`, EXIT.portInUse));
        else reject(new NodeStartError(`cannot listen on ${host}:${port}: ${error.message}`, EXIT.portInUse));
      });
      this.http.listen(port, host, () => resolve());
    });
  }

  /** The JSON served at /status. */
  statusView(): Record<string, unknown> {
    const s = this.raft.status();
    const role = s.isLearner ? "learner" : s.role === "preCandidate" ? "candidate" : s.role;
    return {
      node: peerName(this.options.region.name, this.options.self.id),
      region: this.options.region.name,
      role,
      term: s.term,
      leader: s.leader === 0 ? null : peerName(this.options.region.name, s.leader),
      commit: s.commit,
      applied: this.raft.appliedIndex(),
      peers: s.progress
        .filter((p) => p.id !== s.id)
        .map((p) => ({ node: peerName(this.options.region.name, p.id), match: p.match, lag: Math.max(0, s.commit - p.match), state: p.state })),
      locks: this.service.stats(),
      global: this.global.stats(),
      clients: this.clients.connectionCount(),
    };
  }

  isReady(): boolean {
    const s = this.raft.status();
    return s.leader !== 0 && s.commit - this.raft.appliedIndex() <= READY_LAG_ENTRIES_MAX && s.commit > 0;
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? "").split("?")[0];
    if (req.method !== "GET") return reply(res, 405, "text/plain", "method not allowed\n");
    switch (path) {
      case "/health":
        return reply(res, 200, "text/plain", "ok\n");
      case "/ready":
        return this.isReady() ? reply(res, 200, "text/plain", "ready\n") : reply(res, 503, "text/plain", "not ready\n");
      case "/status":
        return reply(res, 200, "application/json", `${JSON.stringify(this.statusView())}\n`);
      case "/metrics":
        return reply(res, 200, "text/plain; version=0.0.4", this.metrics.render());
      default:
        return reply(res, 404, "text/plain", "not found\n");
    }
  }

  private registerMetrics(): void {
    const labels = { region: this.options.region.name, node: String(this.options.self.id) };
    const m = this.metrics;
    m.gauge("geolock_raft_term", "Current Raft term", () => [[labels, this.raft.status().term]]);
    m.gauge("geolock_raft_commit_index", "Highest index known committed", () => [[labels, this.raft.status().commit]]);
    m.gauge("geolock_raft_applied_index", "Highest index applied", () => [[labels, this.raft.appliedIndex()]]);
    m.gauge("geolock_raft_is_leader", "1 when this node leads its region", () => [[labels, this.raft.status().role === "leader" ? 1 : 0]]);
    m.counterOf("geolock_storage_sync_batches_total", "fsync batches written", () => [[labels, this.log.stats().syncBatches]]);
    m.counterOf("geolock_storage_synced_calls_total", "persist calls made durable", () => [[labels, this.log.stats().syncedCalls]]);
    m.gauge("geolock_locks_sessions", "Open sessions", () => [[labels, this.service.stats().sessions]]);
    m.gauge("geolock_locks_held", "Lock holders", () => [[labels, this.service.stats().holders]]);
    m.gauge("geolock_locks_waiters", "Queued waiters", () => [[labels, this.service.stats().waiters]]);
    m.gauge("geolock_lock_watches", "Lock watches this node serves to its client connections", () => [[labels, this.service.watches.size]]);
    m.gauge("geolock_global_keys", "Global keys in this region's table", () => [[labels, this.global.stats().keys]]);
    m.gauge("geolock_global_waiting", "Global requests waiting for their command to be chosen", () => [[labels, this.global.stats().waiting]]);
    m.counterOf("geolock_global_phase1_total", "Paxos phase 1 attempts by this leader's proposer", () => [[labels, this.global.stats().proposer?.phase1Started ?? 0]]);
    m.counterOf("geolock_global_decided_total", "Paxos instances decided by this leader's proposer", () => [[labels, this.global.stats().proposer?.instancesDecided ?? 0]]);
    const perPeer = (read: (counters: LinkCounters) => number) => (): Array<readonly [Record<string, string>, number]> =>
      [...this.transport.stats().peers].map(([peer, stats]) => [{ ...labels, peer }, read(stats.counters)] as const);
    m.counterOf("geolock_peer_frames_sent_total", "Data frames written to a peer (messages of one turn share a frame)", perPeer((c) => c.framesSent));
    m.counterOf("geolock_peer_messages_sent_total", "Messages written to a peer", perPeer((c) => c.messagesSent));
    m.counterOf("geolock_peer_frames_received_total", "Data frames accepted from a peer", perPeer((c) => c.framesReceived));
    m.counterOf("geolock_peer_messages_received_total", "Messages accepted from a peer", perPeer((c) => c.messagesReceived));
    m.gauge("geolock_client_connections", "Open client connections", () => [[labels, this.clients.connectionCount()]]);
    m.counterOf("geolock_client_requests_total", "Client requests received", () => [[labels, this.clients.counters.requests]]);
    m.counterOf("geolock_client_errors_total", "Client requests answered with an error", () => [[labels, this.clients.counters.errors]]);
  }
}

function reply(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
}
