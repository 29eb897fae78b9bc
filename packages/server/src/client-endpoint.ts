// The client-facing WebSocket endpoint (`/client`). Each frame from a client is a
// MessagePack array of requests; each is validated, routed, and answered. Answers that are
// ready in the same turn share one frame. A malformed frame closes the connection; a
// malformed request inside a good frame gets an INVALID_ARGUMENT answer.

import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { decodePlain, encodeValue } from "@geolock/transport";
import type { Logger } from "pino";
import { WebSocketServer, type WebSocket } from "ws";
import { isWatchRequest, parseClientRequest, requestIdOf, RequestError, type ClientPush, type ClientResponse } from "@geolock/transport";
import type { WatchSink } from "./lock-watches.js";
import type { RequestRouter } from "./request-router.js";

export interface ClientEndpointLimits {
  readonly maxFrameBytes: number;
  readonly requestsPerFrameMax: number;
  /** Requests a connection may have unanswered at once; more are refused with OVERLOADED. */
  readonly inFlightPerConnectionMax: number;
  readonly connectionsMax: number;
  /** Client ids a connection is remembered for, to route sessionExpired pushes (clients sharing one connection). */
  readonly clientIdsPerConnectionMax: number;
  /**
   * Client ids remembered over all connections: what bounds this table's memory when a
   * client sends requests under made-up ids. A client not remembered still learns of an
   * expired session from its next keep-alive.
   */
  readonly clientIdsMax: number;
  /** A connection that answers no ping for this long is dropped. */
  readonly idleTimeoutMs: number;
  /**
   * Bytes a connection may have waiting to be sent when a watch push comes: a watcher that
   * does not read is disconnected (its client watches again, with a fresh status) rather
   * than buffered without bound. Answers need no such bound: requests in flight bound them.
   */
  readonly pushBufferBytesMax: number;
}

/** Nesting a client frame may have: the frame array, a request map, and no deeper. */
export const CLIENT_FRAME_DECODE_DEPTH = 8;

export const DEFAULT_CLIENT_LIMITS: ClientEndpointLimits = {
  maxFrameBytes: 1 << 20,
  requestsPerFrameMax: 1024,
  inFlightPerConnectionMax: 4096,
  connectionsMax: 10_000,
  clientIdsPerConnectionMax: 1_024,
  clientIdsMax: 100_000,
  idleTimeoutMs: 10_000,
  pushBufferBytesMax: 8 << 20,
};

interface Connection {
  readonly socket: WebSocket;
  inFlight: number;
  outbox: unknown[];
  flushScheduled: boolean;
  alive: boolean;
  readonly clientIds: Set<string>;
  /** Where the watches of this connection push, made at its first watch. */
  watchSink?: WatchSink;
}

export interface ClientEndpointCounters {
  requests: number;
  errors: number;
  framesRejected: number;
}

export class ClientEndpoint {
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  private readonly byClientId = new Map<string, Set<Connection>>();
  private readonly pinger: NodeJS.Timeout;
  readonly counters: ClientEndpointCounters = { requests: 0, errors: 0, framesRejected: 0 };

  constructor(
    private readonly router: RequestRouter,
    private readonly logger: Logger,
    private readonly limits: ClientEndpointLimits = DEFAULT_CLIENT_LIMITS,
  ) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxFrameBytes, perMessageDeflate: false });
    this.pinger = setInterval(() => this.pingAll(), Math.max(100, Math.floor(limits.idleTimeoutMs / 2)));
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.connections.size >= this.limits.connectionsMax) {
      socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n");
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws));
  }

  /** Sends a push to every connection that has used this client id. */
  push(clientId: string, message: ClientPush): void {
    for (const connection of this.byClientId.get(clientId) ?? []) this.enqueue(connection, message);
  }

  connectionCount(): number {
    return this.connections.size;
  }

  close(): void {
    clearInterval(this.pinger);
    for (const c of this.connections) c.socket.terminate();
    this.connections.clear();
    this.byClientId.clear();
    this.wss.close();
  }

  private accept(socket: WebSocket): void {
    const connection: Connection = { socket, inFlight: 0, outbox: [], flushScheduled: false, alive: true, clientIds: new Set() };
    this.connections.add(connection);
    socket.binaryType = "nodebuffer";
    socket.on("pong", () => {
      connection.alive = true;
    });
    socket.on("message", (data: Buffer, isBinary: boolean) => this.onFrame(connection, data, isBinary));
    socket.on("close", () => this.forget(connection));
    socket.on("error", (error) => this.logger.debug({ err: error }, "client socket error"));
  }

  private onFrame(connection: Connection, data: Buffer, isBinary: boolean): void {
    connection.alive = true;
    const decoded = isBinary ? decodePlain(data, CLIENT_FRAME_DECODE_DEPTH) : ({ ok: false, reason: "text frame" } as const);
    if (!decoded.ok || !Array.isArray(decoded.value) || decoded.value.length > this.limits.requestsPerFrameMax) {
      this.counters.framesRejected += 1;
      const reason = decoded.ok ? "a frame must be an array of at most requestsPerFrameMax requests" : decoded.reason;
      this.logger.warn({ reason }, "closing client connection after a malformed frame");
      connection.socket.close(1008, "malformed frame");
      return;
    }
    for (const item of decoded.value) this.onRequest(connection, item);
  }

  private onRequest(connection: Connection, item: unknown): void {
    this.counters.requests += 1;
    let request;
    try {
      request = parseClientRequest(item);
    } catch (error) {
      this.counters.errors += 1;
      const id = requestIdOf(item);
      if (id !== undefined && error instanceof RequestError) this.enqueue(connection, { id, ok: false, error: error.toClientError() });
      return;
    }
    if (connection.inFlight >= this.limits.inFlightPerConnectionMax) {
      this.enqueue(connection, { id: request.id, ok: false, error: { code: "OVERLOADED", message: "too many requests in flight on this connection" } });
      return;
    }
    if ("clientId" in request) this.remember(connection, request.clientId);
    connection.inFlight += 1;
    const answered = isWatchRequest(request) ? this.router.serveWatch(request, this.watchSinkOf(connection)) : this.router.handle(request);
    void answered.then((response: ClientResponse) => {
      connection.inFlight -= 1;
      if (!response.ok) this.counters.errors += 1;
      this.enqueue(connection, response);
    });
  }

  private watchSinkOf(connection: Connection): WatchSink {
    connection.watchSink ??= {
      push: (message) => {
        if (connection.socket.readyState !== connection.socket.OPEN) return;
        if (connection.socket.bufferedAmount <= this.limits.pushBufferBytesMax) this.enqueue(connection, message);
        else this.dropSlowWatcher(connection);
      },
    };
    return connection.watchSink;
  }

  private dropSlowWatcher(connection: Connection): void {
    const buffered = connection.socket.bufferedAmount;
    this.logger.warn({ buffered, limit: this.limits.pushBufferBytesMax }, "dropping a client connection that does not read its watch pushes");
    // Not close(): its close frame would queue behind what the client does not read.
    connection.socket.terminate();
    this.forget(connection);
  }

  private remember(connection: Connection, clientId: string): void {
    if (connection.clientIds.has(clientId) || connection.clientIds.size >= this.limits.clientIdsPerConnectionMax) return;
    let set = this.byClientId.get(clientId);
    if (set === undefined) {
      if (this.byClientId.size >= this.limits.clientIdsMax) return;
      this.byClientId.set(clientId, (set = new Set()));
    }
    connection.clientIds.add(clientId);
    set.add(connection);
  }

  private enqueue(connection: Connection, message: unknown): void {
    if (connection.socket.readyState !== connection.socket.OPEN) return;
    connection.outbox.push(message);
    if (connection.flushScheduled) return;
    connection.flushScheduled = true;
    // At the end of this turn, once every promise it settled has run: an answer goes out
    // with the others of its batch, without waiting for the next turn of the loop.
    process.nextTick(() => {
      connection.flushScheduled = false;
      const batch = connection.outbox;
      connection.outbox = [];
      if (batch.length > 0 && connection.socket.readyState === connection.socket.OPEN) connection.socket.send(encodeValue(batch));
    });
  }

  private forget(connection: Connection): void {
    // Once: a terminated socket still emits "close" afterwards.
    if (!this.connections.delete(connection)) return;
    if (connection.watchSink !== undefined) this.router.dropWatches(connection.watchSink);
    for (const id of connection.clientIds) {
      const set = this.byClientId.get(id);
      set?.delete(connection);
      if (set?.size === 0) this.byClientId.delete(id);
    }
  }

  private pingAll(): void {
    for (const connection of this.connections) {
      if (!connection.alive) {
        connection.socket.terminate();
        this.forget(connection);
        continue;
      }
      connection.alive = false;
      connection.socket.ping();
    }
  }
}
