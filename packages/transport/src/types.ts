// The vocabulary shared by the WebSocket transport and its in-memory twin: peer names,
// channel validators, limits, counters and the PeerTransport interface both implement.

/**
 * A node's cluster-wide name, `region/node` (e.g. `us-east/1`). Plain string: peers in other
 * regions are addressed the same way, and the fixed dial rule compares these strings.
 */
export type PeerId = string;

const PEER_ID_PATTERN = /^[A-Za-z0-9._-]{1,48}\/[A-Za-z0-9._-]{1,15}$/;

/** Whether a string is a well-formed PeerId (also used on ids read from the wire). */
export function isPeerId(value: unknown): value is PeerId {
  return typeof value === "string" && PEER_ID_PATTERN.test(value);
}

/** Why a decoded value was refused. `path` points into the value (`entries[3].data`). */
export interface ValidationError {
  readonly code: ValidationErrorCode;
  readonly path: string;
  readonly detail: string;
}

export type ValidationErrorCode =
  /** The value has the wrong JavaScript type (string where a number belongs, ...). */
  | "wrongType"
  /** A number is not a safe non-negative integer, or lies outside its allowed range. */
  | "outOfRange"
  /** A byte string, array or nesting exceeds a configured limit. */
  | "tooLarge"
  /** A discriminator (`type`, `kind`) has no known meaning. */
  | "unknownKind"
  /** A required field is absent. */
  | "missingField"
  /** A field that the message kind does not have is present. */
  | "unexpectedField"
  /** The fields are individually fine but contradict each other (non-consecutive entries, ...). */
  | "inconsistent"
  /** The message does not come from, or is not addressed to, the node this link belongs to. */
  | "wrongPeer";

export type ValidationResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: ValidationError };

/**
 * Turns an untrusted decoded payload into a typed message. `from` is the authenticated
 * peer the payload arrived from, so a validator can tie the message's claimed sender to
 * the link. It must return a value built from validated fields, never the input itself
 * when the input could carry extra state.
 */
export type ChannelValidator<T> = (payload: unknown, from: PeerId) => ValidationResult<T>;

export type MessageHandler<T> = (from: PeerId, message: T) => void;

/** What became of one send(). Only "queued" means the message may still arrive. */
export type SendOutcome =
  | "queued"
  /** The per-peer queue was at maxQueuedMessages or maxQueuedBytes. */
  | "droppedQueueFull"
  /** The socket's bufferedAmount was above maxBufferedBytes: the peer reads too slowly. */
  | "droppedBackpressure"
  /** The encoded message alone does not fit in maxFrameBytes. */
  | "droppedTooLarge"
  /** The transport is closed. */
  | "droppedClosed";

/**
 * Every bound of the transport. Defaults in DEFAULT_LIMITS; the server may tighten them.
 * Memory per peer is bounded by maxQueuedBytes + maxBufferedBytes + maxFrameBytes.
 */
export interface TransportLimits {
  /** Largest frame (one WebSocket message) sent or accepted; also ws maxPayload. */
  readonly maxFrameBytes: number;
  /** Most envelopes in one frame; a frame with more is a protocol error. */
  readonly maxEnvelopesPerFrame: number;
  /** Deepest nesting of arrays and maps accepted in a decoded frame. */
  readonly maxDecodeDepth: number;
  /** Messages waiting to be framed per peer (while connecting or within one turn). */
  readonly maxQueuedMessages: number;
  /** Encoded bytes waiting to be framed per peer. */
  readonly maxQueuedBytes: number;
  /** Above this socket bufferedAmount, new messages to the peer are dropped. */
  readonly maxBufferedBytes: number;
  /** A heartbeat (empty frame) is sent when nothing else was sent for this long. */
  readonly heartbeatIntervalMs: number;
  /** A link on which nothing arrived for this long is considered dead and dropped. */
  readonly heartbeatTimeoutMs: number;
  /** An inbound or outbound connection must authenticate within this time. */
  readonly handshakeTimeoutMs: number;
  /** First reconnect delay; doubles per failed attempt up to reconnectMaxMs, with jitter. */
  readonly reconnectBaseMs: number;
  readonly reconnectMaxMs: number;
  /** close() waits this long for peers to acknowledge the close, then cuts the sockets. */
  readonly closeGraceMs: number;
}

export const DEFAULT_LIMITS: TransportLimits = {
  maxFrameBytes: 8 * 1024 * 1024,
  maxEnvelopesPerFrame: 4096,
  maxDecodeDepth: 16,
  maxQueuedMessages: 8192,
  maxQueuedBytes: 16 * 1024 * 1024,
  maxBufferedBytes: 8 * 1024 * 1024,
  heartbeatIntervalMs: 500,
  heartbeatTimeoutMs: 3000,
  handshakeTimeoutMs: 3000,
  reconnectBaseMs: 50,
  reconnectMaxMs: 5000,
  closeGraceMs: 500,
};

/** Fills defaults and checks that the limits make sense together. */
export function resolveLimits(overrides: Partial<TransportLimits> | undefined): TransportLimits {
  const limits: TransportLimits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new Error(`transport limit ${name} must be a positive integer, got ${String(value)}`);
    }
  }
  if (limits.heartbeatTimeoutMs <= limits.heartbeatIntervalMs) {
    throw new Error(
      `heartbeatTimeoutMs (${limits.heartbeatTimeoutMs}) must exceed heartbeatIntervalMs (${limits.heartbeatIntervalMs})`,
    );
  }
  if (limits.reconnectMaxMs < limits.reconnectBaseMs) {
    throw new Error(`reconnectMaxMs (${limits.reconnectMaxMs}) is below reconnectBaseMs (${limits.reconnectBaseMs})`);
  }
  return limits;
}

/** Monotonic counters of one peer link; they only ever grow. */
export interface LinkCounters {
  /** Data frames (at least one envelope) written / accepted. Heartbeats are counted apart. */
  framesSent: number;
  framesReceived: number;
  messagesSent: number;
  messagesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  heartbeatsSent: number;
  heartbeatsReceived: number;
  droppedQueueFull: number;
  droppedBackpressure: number;
  droppedTooLarge: number;
  droppedClosed: number;
  /** Memory twin only: messages lost on a cut link, as a partition loses them. */
  droppedUnreachable: number;
  /** Frames refused (malformed, unknown channel, failed validation, too large). */
  framesRejected: number;
  /** Times the link became authenticated; reconnects = connects beyond the first. */
  connects: number;
  reconnects: number;
  heartbeatTimeouts: number;
  /** Handshakes with this peer that failed (bad proof, version, timeout). */
  authFailures: number;
}

export function zeroCounters(): LinkCounters {
  return {
    framesSent: 0,
    framesReceived: 0,
    messagesSent: 0,
    messagesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    heartbeatsSent: 0,
    heartbeatsReceived: 0,
    droppedQueueFull: 0,
    droppedBackpressure: 0,
    droppedTooLarge: 0,
    droppedClosed: 0,
    droppedUnreachable: 0,
    framesRejected: 0,
    connects: 0,
    reconnects: 0,
    heartbeatTimeouts: 0,
    authFailures: 0,
  };
}

export interface PeerStats {
  readonly connected: boolean;
  readonly queuedMessages: number;
  readonly queuedBytes: number;
  /** The socket's bufferedAmount (0 when not connected or in memory). */
  readonly bufferedBytes: number;
  readonly counters: Readonly<LinkCounters>;
}

export interface TransportStats {
  readonly peers: ReadonlyMap<PeerId, PeerStats>;
  /** Inbound connections refused before they named a configured peer (unknown id, garbage). */
  readonly handshakesRefused: number;
}

/** The subset of pino's API the transport uses; a pino logger fits as is. */
export interface TransportLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export const SILENT_LOGGER: TransportLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

/**
 * What the server, the Raft driver and the Paxos driver see of the network: named peers,
 * typed channels, fire-and-forget sends. Implemented by WsTransport and MemoryTransport.
 */
export interface PeerTransport {
  readonly self: PeerId;
  /**
   * Registers a channel before any message on it can be sent or received. Every payload
   * arriving on it passes `validate` first; only valid ones reach `onMessage`, in the
   * order the peer sent them. Handlers must not throw: an exception is a bug and propagates.
   */
  registerChannel<T>(name: string, validate: ChannelValidator<T>, onMessage: MessageHandler<T>): void;
  /**
   * Queues `message` for `to` on a registered channel. Never blocks, never throws for
   * network reasons: when the peer cannot keep up the message is dropped and counted.
   * Throws for programming errors (unknown peer, unregistered channel).
   */
  send(to: PeerId, channel: string, message: unknown): SendOutcome;
  /**
   * Writes what is queued now instead of at the end of this turn. For a caller about to run
   * a long synchronous step (building a disk batch, applying a batch of entries) whose
   * messages are on the critical path: the Raft driver's appends and acknowledgements.
   */
  flush?(): void;
  /** Whether an authenticated link to `peer` is up right now. */
  isConnected(peer: PeerId): boolean;
  stats(): TransportStats;
  /** Closes every link, stops reconnecting and leaves no timer or socket behind. */
  close(): Promise<void>;
}
