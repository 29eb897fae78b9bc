// One PeerLink per configured peer: the bounded send queue, the one authenticated socket
// (if any), the heartbeat, and, on the dialing side, the reconnect loop.
//
// Invariants: at most one authenticated socket per link (a newer one replaces the older);
// only the side with the smaller PeerId dials, so the two sides never race two sockets
// into existence; a closed link owns no timer, no immediate and no socket.

import { WebSocket } from "ws";
import { ChannelRegistry } from "./channels.js";
import { encodeEnvelope, HEARTBEAT_FRAME } from "./codec.js";
import { zeroFrameMask } from "./frame-mask.js";
import { CloseCode, DialerHandshake, type HandshakeIdentity } from "./handshake.js";
import { SendQueue } from "./send-queue.js";
import { rawBytes, runHandshake } from "./socket-handshake.js";
import {
  zeroCounters,
  type LinkCounters,
  type PeerId,
  type PeerStats,
  type SendOutcome,
  type TransportLimits,
  type TransportLogger,
} from "./types.js";

/** What a link needs from the transport that owns it. */
export interface LinkHost {
  readonly self: PeerId;
  /** What the handshake proves: our id and the cluster secret (and, in tests, fixed nonces). */
  readonly identity: HandshakeIdentity;
  readonly limits: TransportLimits;
  readonly logger: TransportLogger;
  readonly registry: ChannelRegistry;
  readonly random: () => number;
  readonly now: () => number;
  /** The local address outgoing links bind to, so a test harness can partition nodes by address. */
  readonly localAddress?: string;
  /** Registers a socket so that transport close() can end it. */
  track(ws: WebSocket): void;
  /** Closes with a code, and cuts the socket if the peer does not answer within closeGraceMs. */
  closeSocket(ws: WebSocket, code: number, reason: string): void;
}

/** Close codes by which an acceptor refuses a dialer's handshake. */
const REFUSAL_CODES: ReadonlySet<number> = new Set([
  CloseCode.authFailed,
  CloseCode.unknownPeer,
  CloseCode.wrongDirection,
  CloseCode.handshakeTimeout,
  CloseCode.versionMismatch,
]);

export class PeerLink {
  readonly counters: LinkCounters = zeroCounters();
  private readonly queue: SendQueue;
  /** The authenticated socket; frames are read and written only here. */
  private socket: WebSocket | undefined;
  /** Dialing side: the socket being connected or authenticated. */
  private dialing: WebSocket | undefined;
  private flushHandle: NodeJS.Immediate | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** Consecutive dials that did not end authenticated; drives the backoff. */
  private failedDials = 0;
  private lastSentMs = 0;
  private lastReceivedMs = 0;
  private closed = false;

  constructor(
    readonly peer: PeerId,
    private readonly url: string,
    readonly isDialer: boolean,
    private readonly host: LinkHost,
  ) {
    this.queue = new SendQueue(host.limits);
  }

  start(): void {
    if (this.isDialer) this.dial();
  }

  get connected(): boolean {
    return this.socket !== undefined;
  }

  stats(): PeerStats {
    return {
      connected: this.connected,
      queuedMessages: this.queue.messages,
      queuedBytes: this.queue.bytes,
      bufferedBytes: this.socket?.bufferedAmount ?? 0,
      counters: { ...this.counters },
    };
  }

  send(channel: string, message: unknown): SendOutcome {
    if (this.closed) return this.count("droppedClosed");
    if (this.socket !== undefined && this.socket.bufferedAmount > this.host.limits.maxBufferedBytes) {
      return this.count("droppedBackpressure");
    }
    const outcome = this.queue.push(encodeEnvelope(channel, message));
    if (outcome !== "queued") {
      if (outcome === "droppedTooLarge") this.host.logger.warn({ peer: this.peer, channel }, "message larger than maxFrameBytes dropped");
      return this.count(outcome);
    }
    this.scheduleFlush();
    return outcome;
  }

  private count(outcome: Exclude<SendOutcome, "queued">): SendOutcome {
    this.counters[outcome] += 1;
    return outcome;
  }

  /** Takes over an authenticated socket, replacing any older one. */
  attach(ws: WebSocket): void {
    if (this.closed) {
      this.host.closeSocket(ws, CloseCode.goingAway, "shutting down");
      return;
    }
    const previous = this.socket;
    if (previous !== undefined) {
      this.detach(previous);
      this.host.closeSocket(previous, CloseCode.replaced, "replaced by a newer connection");
    }
    this.socket = ws;
    this.counters.connects += 1;
    if (this.counters.connects > 1) this.counters.reconnects += 1;
    this.lastReceivedMs = this.lastSentMs = this.host.now();
    ws.on("message", (data, isBinary) => this.onMessage(ws, rawBytes(data), isBinary));
    ws.on("close", () => this.onSocketClosed(ws));
    const tickMs = Math.max(1, Math.floor(this.host.limits.heartbeatIntervalMs / 2));
    this.heartbeatTimer = setInterval(() => this.onHeartbeatTick(), tickMs);
    this.host.logger.info({ peer: this.peer, connects: this.counters.connects }, "peer link up");
    this.scheduleFlush();
  }

  close(): void {
    this.closed = true;
    if (this.socket !== undefined) this.detach(this.socket);
    clearImmediate(this.flushHandle);
    clearTimeout(this.reconnectTimer);
    this.flushHandle = this.reconnectTimer = undefined;
    this.counters.droppedClosed += this.queue.clear();
  }

  private detach(ws: WebSocket): void {
    if (this.socket !== ws) return;
    this.socket = undefined;
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  private onMessage(ws: WebSocket, bytes: Uint8Array, isBinary: boolean): void {
    // Frames still arriving on a socket that was detached (rejected, replaced) are ignored.
    if (ws !== this.socket) return;
    this.lastReceivedMs = this.host.now();
    const verdict = isBinary ? this.host.registry.accept(bytes, this.peer, this.host.limits) : { ok: false as const, reason: "text message" };
    if (!verdict.ok) {
      this.counters.framesRejected += 1;
      this.host.logger.warn({ peer: this.peer, bytes: bytes.length, reason: verdict.reason }, "malformed frame, closing link");
      this.detach(ws);
      this.host.closeSocket(ws, CloseCode.protocolError, "malformed frame");
      return;
    }
    // The backoff restarts only once the peer has sent a valid frame: a peer that
    // authenticates and is then refused at once must not be redialed in a tight loop.
    this.failedDials = 0;
    const count = verdict.frame.deliveries.length;
    if (count === 0) {
      this.counters.heartbeatsReceived += 1;
      return;
    }
    this.counters.framesReceived += 1;
    this.counters.messagesReceived += count;
    this.counters.bytesReceived += bytes.length;
    ChannelRegistry.deliver(verdict.frame, this.peer);
  }

  /** A rejected maxPayload, a reset: ws reports an error, then always 'close'. */
  onSocketError(ws: WebSocket, error: Error): void {
    if (ws === this.socket) {
      if ((error as { code?: unknown }).code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") this.counters.framesRejected += 1;
      this.host.logger.warn({ peer: this.peer, error: error.message }, "peer socket error");
      this.detach(ws);
    }
  }

  private onSocketClosed(ws: WebSocket): void {
    const wasUp = ws === this.socket;
    this.detach(ws);
    if (this.dialing === ws) this.dialing = undefined;
    if (wasUp) this.host.logger.info({ peer: this.peer }, "peer link down");
    if (this.isDialer && !this.closed && this.socket === undefined && this.dialing === undefined && this.reconnectTimer === undefined) {
      this.scheduleReconnect();
    }
  }

  private scheduleFlush(): void {
    if (this.flushHandle === undefined && this.socket !== undefined) {
      this.flushHandle = setImmediate(() => this.flush());
    }
  }

  /** Writes what is queued now rather than at the end of the turn (WsTransport.flush). */
  flushNow(): void {
    if (this.flushHandle === undefined) return;
    clearImmediate(this.flushHandle);
    this.flush();
  }

  /** Writes everything queued, as few frames as maxFrameBytes allows. Runs once per turn. */
  private flush(): void {
    this.flushHandle = undefined;
    const ws = this.socket;
    if (ws === undefined || ws.readyState !== WebSocket.OPEN) return;
    // Bounded: every iteration removes at least one of at most maxQueuedMessages envelopes.
    for (let taken = this.queue.takeFrame(); taken !== undefined; taken = this.queue.takeFrame()) {
      ws.send(taken.frame, { binary: true });
      this.counters.framesSent += 1;
      this.counters.messagesSent += taken.messages;
      this.counters.bytesSent += taken.frame.length;
      this.lastSentMs = this.host.now();
    }
  }

  private onHeartbeatTick(): void {
    const ws = this.socket;
    if (ws === undefined) return;
    const now = this.host.now();
    const silentMs = now - this.lastReceivedMs;
    if (silentMs > this.host.limits.heartbeatTimeoutMs) {
      this.counters.heartbeatTimeouts += 1;
      this.host.logger.warn({ peer: this.peer, silentMs }, "peer heartbeat deadline missed, dropping link");
      this.detach(ws);
      // The peer is presumed dead: no close handshake to wait for.
      ws.terminate();
      return;
    }
    if (now - this.lastSentMs >= this.host.limits.heartbeatIntervalMs) {
      ws.send(HEARTBEAT_FRAME, { binary: true });
      this.counters.heartbeatsSent += 1;
      this.lastSentMs = now;
    }
  }

  private scheduleReconnect(): void {
    const { reconnectBaseMs, reconnectMaxMs } = this.host.limits;
    const ceilingMs = Math.min(reconnectMaxMs, reconnectBaseMs * 2 ** Math.min(this.failedDials, 30));
    // "Equal jitter": at least half the ceiling, so retries back off, and the rest random,
    // so nodes that lost a peer at the same moment do not reconnect in lockstep.
    const delayMs = Math.floor(ceilingMs / 2 + this.host.random() * (ceilingMs / 2));
    this.failedDials += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.dial();
    }, delayMs);
  }

  private dial(): void {
    if (this.closed || this.dialing !== undefined || this.socket !== undefined) return;
    const { limits, logger } = this.host;
    const ws = new WebSocket(this.url, {
      maxPayload: limits.maxFrameBytes,
      perMessageDeflate: false,
      handshakeTimeout: limits.handshakeTimeoutMs,
      followRedirects: false,
      generateMask: zeroFrameMask,
      ...(this.host.localAddress === undefined ? {} : { localAddress: this.host.localAddress }),
    });
    this.dialing = ws;
    this.host.track(ws);
    ws.on("error", (error) => {
      if (ws === this.socket) this.onSocketError(ws, error);
      else logger.debug({ peer: this.peer, error: error.message }, "dial failed");
    });
    let refusedByUs = false;
    ws.on("close", (code, reason) => {
      if (!refusedByUs && REFUSAL_CODES.has(code)) {
        this.counters.authFailures += 1;
        logger.warn({ peer: this.peer, code, reason: reason.toString() }, "peer refused our handshake");
      }
      if (ws === this.dialing) this.onSocketClosed(ws);
    });
    ws.once("open", () =>
      this.authenticateDialed(ws, () => {
        refusedByUs = true;
      }),
    );
  }

  private authenticateDialed(ws: WebSocket, onRefused: () => void): void {
    const handshake = new DialerHandshake(this.host.identity, this.peer);
    runHandshake(ws, handshake, this.host.limits.handshakeTimeoutMs, {
      authenticated: () => {
        this.dialing = undefined;
        this.attach(ws);
      },
      refused: (code, reason) => {
        onRefused();
        this.counters.authFailures += 1;
        this.host.logger.warn({ peer: this.peer, code, reason }, "peer failed our handshake");
        this.host.closeSocket(ws, code, reason);
      },
    });
    ws.send(handshake.hello(), { binary: true });
  }
}
