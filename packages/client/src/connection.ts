// One WebSocket to one node. Requests get ids and are matched to their responses by id, so
// any number (up to inFlightMax) may be pipelined; requests issued in the same turn of the
// event loop share one frame (a MessagePack array, at most requestsPerFrameMax requests).
// TCP alone notices a dead peer only after minutes, so the connection pings at
// heartbeatIntervalMs and drops itself when a whole interval passes without hearing from
// the node (Chubby moved keep-alives off TCP back-off for the same reason).

import { decodePlain, encodeValue, zeroFrameMask, type ClientError, type ClientPush, type ClientRequestBody } from "@geolock/transport";
import WebSocket from "ws";
import { decodeServerMessage } from "./decode.js";
import { GeolockError } from "./errors.js";
import type { ClientLogger } from "./logger.js";

/** What one attempt of one request came to. "unknown": no answer; it may still take effect. */
export type AttemptOutcome =
  | { readonly kind: "ok"; readonly result: unknown }
  | { readonly kind: "error"; readonly error: ClientError }
  | { readonly kind: "unknown"; readonly reason: string };

export interface ConnectionLimits {
  readonly connectTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /** Requests per frame; 256 requests of the largest legal size stay under the server's 1 MiB frame limit. */
  readonly requestsPerFrameMax: number;
  /** Unanswered requests at once; the server refuses more than 4096 per connection. */
  readonly inFlightMax: number;
  /** Largest frame accepted from the node. */
  readonly receiveFrameBytesMax: number;
  /** While connected outside the home region, how often its nodes are tried again; the first that answers takes over. */
  readonly homeRetryMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  connectTimeoutMs: 2_000,
  heartbeatIntervalMs: 1_000,
  requestsPerFrameMax: 256,
  inFlightMax: 4_096,
  receiveFrameBytesMax: 16 << 20,
  homeRetryMs: 5_000,
};

export interface ConnectionEvents {
  readonly onPush: (push: ClientPush) => void;
  readonly onClose: (connection: Connection, reason: string) => void;
}

interface Pending {
  readonly settle: (outcome: AttemptOutcome) => void;
  /** performance.now() after which the request settles "unknown". */
  readonly deadline: number;
  readonly timeoutMs: number;
}

const REQUEST_ID_MAX = 2 ** 32 - 1;
/** The longest delay setTimeout honours (a 32-bit signed count of milliseconds). */
const TIMER_DELAY_MAX_MS = 2 ** 31 - 1;
const DECODE_DEPTH_MAX = 16;

export class Connection {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private outbox: unknown[] = [];
  private flush: NodeJS.Immediate | undefined;
  private heard = true;
  private readonly heartbeat: NodeJS.Timeout;
  // One timer for every request's deadline, armed for the earliest: a timer per request
  // (created, then cleared by its answer) was a fifth of the client's CPU at c=1.
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweepAt = Number.POSITIVE_INFINITY;
  private closedReason: string | undefined;
  private shut = false;

  private constructor(
    readonly url: string,
    private readonly socket: WebSocket,
    private readonly limits: ConnectionLimits,
    private readonly events: ConnectionEvents,
    private readonly logger: ClientLogger,
  ) {
    socket.on("message", (data: Buffer, isBinary: boolean) => this.onFrame(data, isBinary));
    socket.on("pong", () => (this.heard = true));
    socket.on("ping", () => (this.heard = true));
    socket.on("close", () => this.shutDown(this.closedReason ?? "connection closed by the node"));
    socket.on("error", (error) => logger.debug("connection error", { url, error: error.message }));
    this.heartbeat = setInterval(() => this.beat(), limits.heartbeatIntervalMs);
  }

  /** Opens a connection, or rejects after connectTimeoutMs. */
  static open(url: string, limits: ConnectionLimits, events: ConnectionEvents, logger: ClientLogger): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, {
        perMessageDeflate: false,
        maxPayload: limits.receiveFrameBytesMax,
        handshakeTimeout: limits.connectTimeoutMs,
        generateMask: zeroFrameMask,
      });
      const timer = setTimeout(() => {
        socket.terminate();
        reject(new Error(`connecting to ${url} timed out after ${limits.connectTimeoutMs} ms`));
      }, limits.connectTimeoutMs);
      socket.once("open", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve(new Connection(url, socket, limits, events, logger));
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        socket.terminate();
        reject(error);
      });
    });
  }

  get isOpen(): boolean {
    return this.closedReason === undefined;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Sends one request; settles with its answer, or "unknown" after timeoutMs or on close. Never rejects. */
  request(body: ClientRequestBody, timeoutMs: number): Promise<AttemptOutcome> {
    if (this.closedReason !== undefined) return Promise.resolve({ kind: "unknown", reason: this.closedReason });
    if (this.pending.size >= this.limits.inFlightMax) {
      return Promise.resolve({ kind: "error", error: { code: "OVERLOADED", message: `${this.pending.size} requests in flight on this connection (limit ${this.limits.inFlightMax})` } });
    }
    const id = this.allocateId();
    const deadline = performance.now() + timeoutMs;
    return new Promise((resolve) => {
      this.pending.set(id, { settle: resolve, deadline, timeoutMs });
      if (deadline < this.sweepAt) this.armSweep(deadline);
      this.outbox.push({ id, ...body });
      this.flush ??= setImmediate(() => this.sendOutbox());
    });
  }

  /** Drops the connection; pending requests settle "unknown". */
  close(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    this.socket.terminate();
    this.shutDown(reason);
  }

  private armSweep(at: number): void {
    clearTimeout(this.sweepTimer);
    this.sweepAt = at;
    // Node fires a longer timer after 1 ms: a far deadline waits in steps of the longest delay.
    this.sweepTimer = setTimeout(() => this.sweep(), Math.min(TIMER_DELAY_MAX_MS, Math.max(0, Math.ceil(at - performance.now()))));
  }

  /** Settles every request past its deadline, and arms the timer for the earliest left. */
  private sweep(): void {
    this.sweepTimer = undefined;
    this.sweepAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [id, p] of this.pending) {
      if (p.deadline <= now) {
        this.pending.delete(id);
        p.settle({ kind: "unknown", reason: `no answer from ${this.url} within ${p.timeoutMs} ms` });
      } else if (p.deadline < next) {
        next = p.deadline;
      }
    }
    if (next !== Number.POSITIVE_INFINITY) this.armSweep(next);
  }

  private allocateId(): number {
    // Bounded: at most inFlightMax ids are taken, so a free one is found within inFlightMax + 1 steps.
    for (let i = 0; i <= this.limits.inFlightMax; i++) {
      const id = this.nextId;
      this.nextId = id >= REQUEST_ID_MAX ? 1 : id + 1;
      if (!this.pending.has(id)) return id;
    }
    throw new Error(`no free request id among ${this.pending.size} pending on ${this.url}`);
  }

  private sendOutbox(): void {
    this.flush = undefined;
    const batch = this.outbox;
    this.outbox = [];
    if (this.closedReason !== undefined) return;
    for (let from = 0; from < batch.length; from += this.limits.requestsPerFrameMax) {
      this.socket.send(encodeValue(batch.slice(from, from + this.limits.requestsPerFrameMax)));
    }
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    this.heard = true;
    try {
      if (!isBinary) throw new GeolockError("PROTOCOL", "text frame from the node");
      const decoded = decodePlain(data, DECODE_DEPTH_MAX);
      if (!decoded.ok) throw new GeolockError("PROTOCOL", `undecodable frame: ${decoded.reason}`);
      if (!Array.isArray(decoded.value)) throw new GeolockError("PROTOCOL", "a frame must be an array");
      // Validate the whole frame before acting on any of it.
      const messages = decoded.value.map(decodeServerMessage);
      for (const message of messages) {
        if (message.kind === "push") this.events.onPush(message.push);
        else this.settle(message.id, message.ok ? { kind: "ok", result: message.result } : { kind: "error", error: message.error });
      }
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.warn("dropping the connection after an invalid frame", { url: this.url, reason });
      this.close(`invalid frame from ${this.url}: ${reason}`);
    }
  }

  private settle(id: number, outcome: AttemptOutcome): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return; // answered after its attempt timed out
    this.pending.delete(id);
    pending.settle(outcome);
  }

  private beat(): void {
    if (!this.heard) {
      this.close(`no heartbeat from ${this.url} for ${this.limits.heartbeatIntervalMs} ms`);
      return;
    }
    this.heard = false;
    if (this.socket.readyState === WebSocket.OPEN) this.socket.ping();
  }

  private shutDown(reason: string): void {
    if (this.shut) return;
    this.shut = true;
    this.closedReason ??= reason;
    clearInterval(this.heartbeat);
    clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    if (this.flush !== undefined) clearImmediate(this.flush);
    this.flush = undefined;
    this.outbox = [];
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.settle({ kind: "unknown", reason });
    this.events.onClose(this, reason);
  }
}
