// The public entry of @geolock/transport.

export type {
  ChannelValidator,
  LinkCounters,
  MessageHandler,
  PeerId,
  PeerStats,
  PeerTransport,
  SendOutcome,
  TransportLimits,
  TransportLogger,
  TransportStats,
  ValidationError,
  ValidationErrorCode,
  ValidationResult,
} from "./types.js";
export { DEFAULT_LIMITS, isPeerId, resolveLimits } from "./types.js";
export { WsTransport, type WsTransportDependencies, type WsTransportOptions } from "./ws-transport.js";
export { MemoryTransport, MemoryTransportNetwork, type MemoryNetworkOptions } from "./memory-transport.js";
export {
  DEFAULT_RAFT_WIRE_LIMITS,
  raftChannelValidator,
  validateRaftMessage,
  type RaftWireLimits,
} from "./raft-validation.js";
export { CloseCode, PROTOCOL_VERSION, dials } from "./handshake.js";
export { decodePlain, encodeValue } from "./codec.js";
export { zeroFrameMask } from "./frame-mask.js";
export {
  CLIENT_PROTOCOL_VERSION,
  ERROR_CODES as CLIENT_ERROR_CODES,
  isWatchRequest,
  parseClientRequest,
  requestIdOf,
  RequestError,
  scopeOfName,
  type ClientError,
  type ClientErrorCode,
  type ClientOp,
  type ClientPush,
  type ClientRequest,
  type ClientRequestBody,
  type ClientResponse,
  type GlobalHolderWire,
  type GlobalLockChangedPush,
  type LockChangedPush,
  type NameScope,
  type ReleaseReasonWire,
  type RoutedRequest,
  type SessionExpiredPush,
  type WatchEndedPush,
  type WatchRequest,
} from "./client-protocol.js";
