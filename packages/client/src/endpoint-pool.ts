// Which node the client talks to. One connection at a time (any node serves any request by
// forwarding it to the right leader), chosen like geo-DNS with health checks would: a node
// of the home region first, then the home region's other nodes, then other regions. On
// connecting, the client asks the node for the cluster's shape (`cluster`), which names
// every node: failover can then reach nodes the caller never listed, a NOT_LEADER hint
// ("region/node") can be turned into an address, and a client whose endpoints did not say
// their regions moves from the first node that answered to one of its home region.

import type { ClientPush, GlobalLockChangedPush, LockChangedPush, SessionExpiredPush, WatchEndedPush } from "@geolock/transport";
import { Connection, type ConnectionLimits } from "./connection.js";
import { decodeClusterView, type ClusterView } from "./decode.js";
import type { ClientLogger } from "./logger.js";

/** The built-in local topology's regions, in port order (packages/server/src/topology.ts). */
export const LOCAL_REGIONS = ["us-east", "us-west", "eu-west"] as const;

/** The built-in local topology: region r node n on port basePort + 10 r + n, e.g. us-east/1 on 7011. */
export function localEndpoints(host = "127.0.0.1", basePort = 7000): EndpointSpec[] {
  return LOCAL_REGIONS.flatMap((region, r) => [1, 2, 3].map((n) => ({ url: clientUrl(host, basePort + 10 * (r + 1) + n), region })));
}

export function clientUrl(host: string, port: number): string {
  const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return `ws://${h}:${port}/client`;
}

/** Known nodes at most: the given endpoints plus what `cluster` reports (9 regions x 7 nodes). */
const KNOWN_NODES_MAX = 256;

interface KnownNode {
  readonly url: string;
  /** "region/node", once some node's cluster view names it. */
  name: string | undefined;
  region: string | undefined;
}

export interface EndpointSpec {
  readonly url: string;
  /** The node's region when known up front (the built-in topology); learned on connect otherwise. */
  readonly region?: string;
}

export interface PoolOptions {
  readonly endpoints: readonly EndpointSpec[];
  /** The home region; without it, the region of the first node reached. */
  readonly region: string | undefined;
}

export interface PoolDependencies {
  readonly logger: ClientLogger;
}

export class EndpointPool {
  private readonly nodes: KnownNode[] = [];
  private current: Connection | undefined;
  private round: Promise<Connection | undefined> | undefined;
  /** Tried first in the next round: a leader hint, or the node after a failing one. */
  private preferredUrl: string | undefined;
  private homeRegion: string | undefined;
  private lastView: ClusterView | undefined;
  /** Pending while connected outside the home region: the next try of its nodes. */
  private homeRetry: NodeJS.Timeout | undefined;
  private closed = false;
  /** Clients sharing this pool (GeolockClient.fork): the connection closes with the last one. */
  private users = 1;
  /** Every sharing client hears every sessionExpired push and keeps those about its own sessions. */
  private readonly pushListeners = new Set<(push: SessionExpiredPush) => void>();
  /** Hear of every connection that closes: what a node kept for it (watches) is gone. */
  private readonly closeListeners = new Set<(connection: Connection) => void>();
  /** Watch ids are per connection on the node, and forks share connections: one counter for all. */
  private nextWatchId = 1;
  /** Where each watch's pushes go, by watch id: a push reaches its one watch, not every listener. */
  private readonly watchHandlers = new Map<number, (push: LockChangedPush | GlobalLockChangedPush | WatchEndedPush) => void>();

  constructor(
    options: PoolOptions,
    private readonly limits: ConnectionLimits,
    private readonly deps: PoolDependencies,
  ) {
    if (options.endpoints.length === 0) throw new Error("at least one endpoint is required");
    for (const e of options.endpoints) this.remember(e.url, undefined, e.region);
    this.homeRegion = options.region;
  }

  get region(): string | undefined {
    return this.homeRegion;
  }

  /** The last cluster view a node gave on connect. */
  get view(): ClusterView | undefined {
    return this.lastView;
  }

  /** The open connection, if there is one now. */
  get openConnection(): Connection | undefined {
    return this.closed || this.current?.isOpen !== true ? undefined : this.current;
  }

  /** The open connection, or the outcome of one round of attempts (every known node once). */
  connection(): Promise<Connection | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    if (this.current?.isOpen === true) return Promise.resolve(this.current);
    this.round ??= this.connectRound().finally(() => (this.round = undefined));
    return this.round;
  }

  /** The node names `hint` ("region/node") as leader: switch to it if it is another known node. */
  followHint(connection: Connection, hint: string): boolean {
    const target = this.nodes.find((n) => n.name === hint);
    if (target === undefined || target.url === connection.url) return false;
    this.preferredUrl = target.url;
    this.drop(connection, `following the leader hint ${hint}`);
    return true;
  }

  /** Gives up on a node that keeps failing requests: the next round starts at the node after it. */
  rotate(connection: Connection, reason: string): void {
    const order = this.order();
    const at = order.findIndex((n) => n.url === connection.url);
    this.preferredUrl = order[(at + 1) % order.length]?.url;
    this.drop(connection, reason);
  }

  drop(connection: Connection, reason: string): void {
    if (this.current === connection) this.current = undefined;
    connection.close(reason);
  }

  onSessionExpired(listener: (push: SessionExpiredPush) => void): () => void {
    this.pushListeners.add(listener);
    return () => this.pushListeners.delete(listener);
  }

  onConnectionClosed(listener: (connection: Connection) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** A fresh watch id, whose pushes go to `handler` until the returned function is called. */
  takeWatchId(handler: (push: LockChangedPush | GlobalLockChangedPush | WatchEndedPush) => void): { readonly watchId: number; readonly stop: () => void } {
    const watchId = this.nextWatchId;
    this.nextWatchId = watchId >= Number.MAX_SAFE_INTEGER ? 1 : watchId + 1;
    this.watchHandlers.set(watchId, handler);
    return { watchId, stop: () => this.watchHandlers.delete(watchId) };
  }

  /** One more client shares the connections; each user calls release() once. */
  retain(): void {
    if (this.closed) throw new Error("endpoint pool retained after it was closed");
    this.users += 1;
  }

  /** A sharing client is done; the last one closes the connection. */
  release(): void {
    if (this.closed) return;
    this.users -= 1;
    if (this.users > 0) return;
    this.closed = true;
    clearTimeout(this.homeRetry);
    this.homeRetry = undefined;
    this.current?.close("client closed");
    this.current = undefined;
  }

  /** Home region first (in the order given), then the others; a preferred node before all. */
  private order(): KnownNode[] {
    const home = this.nodes.filter((n) => this.homeRegion !== undefined && n.region === this.homeRegion);
    const rest = this.nodes.filter((n) => !home.includes(n));
    const ordered = [...home, ...rest];
    const preferred = ordered.find((n) => n.url === this.preferredUrl);
    return preferred === undefined ? ordered : [preferred, ...ordered.filter((n) => n !== preferred)];
  }

  private async connectRound(): Promise<Connection | undefined> {
    const order = this.order();
    const steered = this.preferredUrl !== undefined;
    this.preferredUrl = undefined;
    const tried = new Set<string>();
    for (const node of order) {
      if (this.closed) return undefined;
      tried.add(node.url);
      let connection = await this.tryNode(node.url);
      if (connection === undefined) continue;
      // A hint or a rotation chose this node on purpose; only the default order is corrected.
      if (!steered) connection = await this.preferHome(connection, tried);
      if (this.closed) {
        connection.close("client closed");
        return undefined;
      }
      this.current = connection;
      this.scheduleReturnHome();
      return connection;
    }
    return undefined;
  }

  /**
   * The node that answered is outside the home region, whose nodes were unknown when the
   * round was ordered (endpoints given without their regions): its cluster view names them.
   * The first of them that answers replaces it; if none does, it stays.
   */
  private async preferHome(connection: Connection, tried: ReadonlySet<string>): Promise<Connection> {
    if (!this.isAway(connection)) return connection;
    const home = await this.connectHome(tried, () => !this.closed);
    if (home === undefined) return connection;
    connection.close(`moving to the home region ${this.homeRegion ?? ""}`);
    return home;
  }

  /** Whether the connection is to a node outside the home region (as far as is known). */
  private isAway(connection: Connection): boolean {
    const region = this.nodes.find((n) => n.url === connection.url)?.region;
    return this.homeRegion !== undefined && region !== undefined && region !== this.homeRegion;
  }

  /** While the connection is outside the home region, tries the home region again in homeRetryMs. */
  private scheduleReturnHome(): void {
    const current = this.current;
    if (this.homeRetry !== undefined || this.closed || current === undefined || !this.isAway(current)) return;
    this.homeRetry = setTimeout(() => {
      this.homeRetry = undefined;
      void this.returnHome();
    }, this.limits.homeRetryMs);
    this.homeRetry.unref();
  }

  /**
   * A failover left the client outside its home region, where every request now crosses
   * regions: as soon as a node of the home region answers again, it takes over and the
   * other connection closes (calls in flight on it are retried with their seq). When the
   * connection is gone meanwhile, the next round starts at home anyway.
   */
  private async returnHome(): Promise<void> {
    const away = this.current;
    if (away === undefined || !away.isOpen || !this.isAway(away)) return;
    const stillAway = (): boolean => !this.closed && this.current === away;
    const home = await this.connectHome(new Set(), stillAway);
    if (home === undefined) {
      if (stillAway()) this.scheduleReturnHome();
      return;
    }
    if (!stillAway()) {
      home.close("no longer needed");
      return;
    }
    this.current = home;
    this.deps.logger.debug("back in the home region", { region: this.homeRegion, url: home.url });
    away.close(`returning to the home region ${this.homeRegion ?? ""}`);
  }

  /** The first node of the home region (not in `skip`) that answers, while `wanted()` holds. */
  private async connectHome(skip: ReadonlySet<string>, wanted: () => boolean): Promise<Connection | undefined> {
    for (const node of this.nodes.filter((n) => n.region === this.homeRegion && !skip.has(n.url))) {
      if (!wanted()) return undefined;
      const connection = await this.tryNode(node.url);
      if (connection !== undefined) return connection;
    }
    return undefined;
  }

  /** Opens a connection and asks for the cluster view; a node that cannot answer it is skipped. */
  private async tryNode(url: string): Promise<Connection | undefined> {
    let connection: Connection;
    try {
      connection = await Connection.open(url, this.limits, { onPush: (push) => this.deliverPush(push), onClose: (c, reason) => this.onClose(c, reason) }, this.deps.logger);
    } catch (error) {
      this.deps.logger.debug("cannot connect", { url, error: error instanceof Error ? error.message : String(error) });
      return undefined;
    }
    const outcome = await connection.request({ op: "cluster" }, this.limits.connectTimeoutMs);
    try {
      if (outcome.kind !== "ok") throw new Error(outcome.kind === "error" ? outcome.error.message : outcome.reason);
      this.learn(decodeClusterView(outcome.result));
    } catch (error) {
      this.deps.logger.debug("node did not describe the cluster; skipping it", { url, error: error instanceof Error ? error.message : String(error) });
      connection.close("no cluster view");
      return undefined;
    }
    this.deps.logger.debug("connected", { url, node: this.lastView?.self });
    return connection;
  }

  private learn(view: ClusterView): void {
    this.lastView = view;
    for (const region of view.regions) {
      for (const node of region.nodes) this.remember(clientUrl(node.host, node.port), node.name, region.name);
    }
    this.homeRegion ??= view.region;
  }

  private remember(url: string, name: string | undefined, region: string | undefined): void {
    const known = this.nodes.find((n) => n.url === url);
    if (known !== undefined) {
      known.name = name ?? known.name;
      known.region = region ?? known.region;
    } else if (this.nodes.length < KNOWN_NODES_MAX) {
      this.nodes.push({ url, name, region });
    }
  }

  private deliverPush(push: ClientPush): void {
    if (push.push === "sessionExpired") {
      for (const listener of this.pushListeners) listener(push);
    } else {
      this.watchHandlers.get(push.watchId)?.(push);
    }
  }

  private onClose(connection: Connection, reason: string): void {
    for (const listener of this.closeListeners) listener(connection);
    if (this.current !== connection) return;
    this.current = undefined;
    this.deps.logger.debug("connection lost", { url: connection.url, reason });
  }
}
