// The WebSocket peer transport. The server owns the HTTP server and routes upgrades on
// /peer to handleUpgrade(); this class owns everything after that: authentication, one
// PeerLink per configured peer, framing, validation and back-pressure.

import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { performance } from "node:perf_hooks";
import { WebSocket, WebSocketServer } from "ws";
import { ChannelRegistry } from "./channels.js";
import { AcceptorHandshake, CloseCode, dials, type RandomBytes } from "./handshake.js";
import { PeerLink, type LinkHost } from "./peer-link.js";
import { runHandshake } from "./socket-handshake.js";
import {
  isPeerId,
  resolveLimits,
  SILENT_LOGGER,
  type ChannelValidator,
  type MessageHandler,
  type PeerId,
  type PeerStats,
  type PeerTransport,
  type SendOutcome,
  type TransportLimits,
  type TransportLogger,
  type TransportStats,
} from "./types.js";

export interface WsTransportOptions {
  readonly self: PeerId;
  /** The shared cluster secret; at least 16 bytes (32 random bytes recommended). */
  readonly secret: Uint8Array;
  /** Every other node this one talks to, with the ws:// URL of its /peer endpoint. */
  readonly peers: ReadonlyMap<PeerId, string>;
  readonly limits?: Partial<TransportLimits>;
  readonly logger?: TransportLogger;
  /**
   * The local address outgoing links are bound to. With one loopback address per node
   * (127.0.0.11, 127.0.0.12, ...) a fault harness can cut links between nodes with packet
   * filter rules on address pairs (see jepsen-lite).
   */
  readonly localAddress?: string;
}

/** Replaceable sources of time and randomness (tests pin them; defaults are the real ones). */
export interface WsTransportDependencies {
  /** Uniform in [0, 1): reconnect jitter. */
  readonly random?: () => number;
  /** Handshake nonces; must be cryptographically random outside tests. */
  readonly randomBytes?: RandomBytes;
  /** Monotonic milliseconds: heartbeat deadlines. */
  readonly now?: () => number;
}

const MIN_SECRET_BYTES = 16;

export class WsTransport implements PeerTransport {
  readonly self: PeerId;
  private readonly limits: TransportLimits;
  private readonly logger: TransportLogger;
  private readonly registry = new ChannelRegistry();
  private readonly links = new Map<PeerId, PeerLink>();
  private readonly wss: WebSocketServer;
  private readonly host: LinkHost;
  /** Every socket not yet closed, inbound or outbound, authenticated or not. */
  private readonly sockets = new Set<WebSocket>();
  private readonly closeTimers = new Set<NodeJS.Timeout>();
  private handshakesRefused = 0;
  private state: "new" | "started" | "closed" = "new";
  private closing: Promise<void> | undefined;

  constructor(options: WsTransportOptions, dependencies: WsTransportDependencies = {}) {
    checkOptions(options);
    this.self = options.self;
    this.limits = resolveLimits(options.limits);
    this.logger = options.logger ?? SILENT_LOGGER;
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.limits.maxFrameBytes, perMessageDeflate: false, clientTracking: false });
    const secret = new Uint8Array(options.secret);
    this.host = {
      self: this.self,
      identity: dependencies.randomBytes === undefined ? { self: this.self, secret } : { self: this.self, secret, randomBytes: dependencies.randomBytes },
      limits: this.limits,
      logger: this.logger,
      registry: this.registry,
      random: dependencies.random ?? Math.random,
      now: dependencies.now ?? (() => performance.now()),
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
      track: (ws) => this.track(ws),
      closeSocket: (ws, code, reason) => this.closeSocket(ws, code, reason),
    };
    for (const [peer, url] of options.peers) {
      this.links.set(peer, new PeerLink(peer, url, dials(this.self, peer), this.host));
    }
  }

  registerChannel<T>(name: string, validate: ChannelValidator<T>, onMessage: MessageHandler<T>): void {
    if (this.state !== "new") throw new Error(`register channel ${name} before start() (transport is ${this.state})`);
    this.registry.register(name, validate, onMessage);
  }

  /** Starts dialing the peers this node dials and accepting upgrades. Register channels first. */
  start(): void {
    if (this.state !== "new") throw new Error(`start() on a transport that is ${this.state}`);
    this.state = "started";
    for (const link of this.links.values()) link.start();
  }

  send(to: PeerId, channel: string, message: unknown): SendOutcome {
    const link = this.links.get(to);
    if (link === undefined) throw new Error(`send to unknown peer ${to} from ${this.self}`);
    this.registry.assertRegistered(channel);
    return link.send(channel, message);
  }

  flush(): void {
    for (const link of this.links.values()) link.flushNow();
  }

  isConnected(peer: PeerId): boolean {
    return this.links.get(peer)?.connected ?? false;
  }

  stats(): TransportStats {
    const peers = new Map<PeerId, PeerStats>();
    for (const [peer, link] of this.links) peers.set(peer, link.stats());
    return { peers, handshakesRefused: this.handshakesRefused };
  }

  /** Takes a WebSocket upgrade request routed here by the server (path /peer). */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.state !== "started") {
      socket.destroy();
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.onInbound(ws, request.socket.remoteAddress ?? "unknown"));
  }

  private onInbound(ws: WebSocket, remote: string): void {
    this.track(ws);
    if (this.state !== "started") {
      ws.terminate();
      return;
    }
    let link: PeerLink | undefined;
    ws.on("error", (error) => {
      if (link !== undefined) link.onSocketError(ws, error);
      else this.logger.debug({ remote, error: error.message }, "inbound socket error before authentication");
    });
    const handshake = new AcceptorHandshake(this.host.identity, (peer) => this.links.has(peer));
    runHandshake(ws, handshake, this.limits.handshakeTimeoutMs, {
      authenticated: (peer) => {
        link = this.links.get(peer);
        if (link === undefined) throw new Error(`handshake authenticated unconfigured peer ${peer}`);
        link.attach(ws);
      },
      refused: (code, reason, peer) => {
        const known = peer === undefined ? undefined : this.links.get(peer);
        if (known !== undefined) known.counters.authFailures += 1;
        else this.handshakesRefused += 1;
        this.logger.warn({ remote, peer, code, reason }, "inbound peer handshake refused");
        this.closeSocket(ws, code, reason);
      },
    });
  }

  private track(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.once("close", () => this.sockets.delete(ws));
  }

  private closeSocket(ws: WebSocket, code: number, reason: string): void {
    if (ws.readyState === WebSocket.CLOSED) return;
    ws.close(code, reason.slice(0, 100));
    const timer = setTimeout(() => ws.terminate(), this.limits.closeGraceMs);
    this.closeTimers.add(timer);
    ws.once("close", () => {
      clearTimeout(timer);
      this.closeTimers.delete(timer);
    });
  }

  /** Closes every link and socket; resolves when no socket and no timer is left. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.state = "closed";
    for (const link of this.links.values()) link.close();
    const closed = [...this.sockets].map(
      (ws) => new Promise<void>((resolve) => (ws.readyState === WebSocket.CLOSED ? resolve() : ws.once("close", () => resolve()))),
    );
    for (const ws of this.sockets) {
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else this.closeSocket(ws, CloseCode.goingAway, "shutting down");
    }
    await Promise.all(closed);
    for (const timer of this.closeTimers) clearTimeout(timer);
    this.closeTimers.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

function checkOptions(options: WsTransportOptions): void {
  if (!isPeerId(options.self)) throw new Error(`self ${JSON.stringify(options.self)} is not a PeerId (region/node)`);
  if (options.secret.length < MIN_SECRET_BYTES) {
    throw new Error(`cluster secret has ${options.secret.length} bytes, at least ${MIN_SECRET_BYTES} required`);
  }
  for (const [peer, url] of options.peers) {
    if (!isPeerId(peer)) throw new Error(`peer ${JSON.stringify(peer)} is not a PeerId (region/node)`);
    if (peer === options.self) throw new Error(`peer list of ${options.self} contains itself`);
    const protocol = URL.canParse(url) ? new URL(url).protocol : "";
    if (protocol !== "ws:" && protocol !== "wss:") throw new Error(`peer ${peer} has URL ${url}, expected ws:// or wss://`);
  }
}
