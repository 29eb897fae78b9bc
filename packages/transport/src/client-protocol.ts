// The client wire protocol: what a client may ask a node, and how the node answers. Frames
// are MessagePack arrays of messages, so a client can pipeline many requests in one frame
// and the node answers everything ready in the same turn in one frame. Every decoded
// request is validated here, field by field, before any other code sees it.

export const CLIENT_PROTOCOL_VERSION = 1;

/**
 * Error codes a client can receive: DESIGN.md's, plus UNAVAILABLE (the node is shutting down)
 * and STALE_SEQUENCE (a retry older than the server's dedup window; it may have been applied).
 */
export const ERROR_CODES = [
  "INVALID_NAME",
  "INVALID_ARGUMENT",
  "NOT_LEADER",
  "NO_QUORUM",
  "SESSION_EXPIRED",
  "TIMEOUT",
  "NOT_HOLDER",
  "UNAUTHORIZED",
  "OVERLOADED",
  "NOT_SUPPORTED_YET",
  "UNAVAILABLE",
  "STALE_SEQUENCE",
] as const;
export type ClientErrorCode = (typeof ERROR_CODES)[number];

interface Sequenced {
  /** A random id the client library picks once; with seq, makes retries exactly-once. */
  readonly clientId: string;
  readonly seq: number;
}

export type ClientRequestBody =
  | ({ readonly op: "openSession"; readonly region: string; readonly ttlMs: number } & Sequenced)
  | ({ readonly op: "keepAlive"; readonly region: string; readonly sessionId: number } & Sequenced)
  | ({ readonly op: "closeSession"; readonly region: string; readonly sessionId: number } & Sequenced)
  | ({
      readonly op: "acquire";
      readonly name: string;
      readonly sessionId: number;
      readonly mode: "exclusive" | "shared";
      readonly waitMs: number;
      readonly owner: string;
    } & Sequenced)
  | ({ readonly op: "release"; readonly name: string; readonly sessionId: number } & Sequenced)
  /**
   * Global locks (`global:<key>`), decided by a majority of regions. No session: the holder
   * is the client id, its lease is the lock's own (ttlMs), renewed with globalRenew. A
   * try-lock. timeoutMs is the request's deadline: past it the node answers NO_QUORUM (not
   * known to be chosen; a retry with the same seq is exactly-once).
   */
  | ({ readonly op: "globalAcquire"; readonly name: string; readonly ttlMs: number; readonly owner: string; readonly timeoutMs: number } & Sequenced)
  | ({ readonly op: "globalRenew"; readonly name: string; readonly token: number; readonly ttlMs: number; readonly timeoutMs: number } & Sequenced)
  | ({ readonly op: "globalRelease"; readonly name: string; readonly token: number; readonly timeoutMs: number } & Sequenced)
  | { readonly op: "status"; readonly name: string }
  /**
   * Watches a lock: answered with `{ index, status }`, its status and the index it was read at,
   * then a push for every grant and release applied after that index, in order. watchId is
   * the client's name for the watch on this connection. A regional lock: `lockChanged`
   * pushes, index = Raft log index, served by any node of its region from its applied
   * state after a linearizable read. A global lock: `globalLockChanged` pushes, index = the
   * key's Paxos instance, served by any node from its region's applied view (like status).
   */
  | { readonly op: "watch"; readonly name: string; readonly watchId: number }
  | { readonly op: "unwatch"; readonly watchId: number }
  | { readonly op: "cluster" };

export type ClientRequest = ClientRequestBody & {
  /** Chosen by the client; the answer carries it back. */
  readonly id: number;
};

export type ClientOp = ClientRequest["op"];

export interface ClientError {
  readonly code: ClientErrorCode;
  readonly message: string;
  /** With NOT_LEADER: the node that leads the lock's region, as "region/node", when known. */
  readonly leader?: string;
}

export type ClientResponse =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: ClientError };

/** Requests served by the node a client is connected to, for that connection. */
export type WatchRequest = Extract<ClientRequest, { readonly op: "watch" | "unwatch" }>;
/** Requests served wherever their lock is decided (forwarded if need be). */
export type RoutedRequest = Exclude<ClientRequest, WatchRequest>;

export function isWatchRequest(request: ClientRequest): request is WatchRequest {
  return request.op === "watch" || request.op === "unwatch";
}

/** A message the node sends without a request: the session expired, with the locks it lost. */
export interface SessionExpiredPush {
  readonly push: "sessionExpired";
  readonly region: string;
  readonly sessionId: number;
  readonly lost: readonly { readonly name: string; readonly token: number }[];
}

/** Why a holder went away (locks' ReleaseReason). */
export type ReleaseReasonWire = "released" | "closed" | "expired";

/** To a watcher: a grant or a release of the watched lock, applied at log index `index`. */
export type LockChangedPush = LockChangeFields & ({ readonly change: "acquired" } | { readonly change: "released"; readonly reason: ReleaseReasonWire });

interface LockChangeFields {
  readonly push: "lockChanged";
  readonly watchId: number;
  readonly name: string;
  readonly index: number;
  readonly sessionId: number;
  readonly owner: string;
  readonly mode: "exclusive" | "shared";
  readonly token: number;
}

/** A global lock's holder: the client (and its owner label) and the region it came through. */
export interface GlobalHolderWire {
  readonly region: string;
  readonly clientId: string;
  readonly owner: string;
}

/** To a watcher of a global lock: a grant or a release, made by the key's Paxos instance `index`. */
export type GlobalLockChangedPush = GlobalLockChangeFields &
  /** A release is by its holder, or its lease expired. */
  ({ readonly change: "acquired" } | { readonly change: "released"; readonly reason: "released" | "expired" });

interface GlobalLockChangeFields {
  readonly push: "globalLockChanged";
  readonly watchId: number;
  readonly name: string;
  readonly index: number;
  readonly holder: GlobalHolderWire;
  readonly token: number;
}

/** To a watcher: the node ended the watch (it restored a snapshot, or is stopping); watch again. */
export interface WatchEndedPush {
  readonly push: "watchEnded";
  readonly watchId: number;
  readonly name: string;
  readonly reason: string;
}

export type ClientPush = SessionExpiredPush | LockChangedPush | GlobalLockChangedPush | WatchEndedPush;

export class RequestError extends Error {
  constructor(readonly code: ClientErrorCode, message: string, readonly leader?: string) {
    super(message);
    this.name = "RequestError";
  }

  toClientError(): ClientError {
    return this.leader === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, leader: this.leader };
  }
}

const OPS: readonly ClientOp[] = [
  "openSession",
  "keepAlive",
  "closeSession",
  "acquire",
  "release",
  "globalAcquire",
  "globalRenew",
  "globalRelease",
  "status",
  "watch",
  "unwatch",
  "cluster",
];
const SEQUENCED = ["clientId", "seq"];
const FIELDS: Readonly<Record<ClientOp, readonly string[]>> = {
  openSession: ["region", "ttlMs", ...SEQUENCED],
  keepAlive: ["region", "sessionId", ...SEQUENCED],
  closeSession: ["region", "sessionId", ...SEQUENCED],
  acquire: ["name", "sessionId", "mode", "waitMs", "owner", ...SEQUENCED],
  release: ["name", "sessionId", ...SEQUENCED],
  globalAcquire: ["name", "ttlMs", "owner", "timeoutMs", ...SEQUENCED],
  globalRenew: ["name", "token", "ttlMs", "timeoutMs", ...SEQUENCED],
  globalRelease: ["name", "token", "timeoutMs", ...SEQUENCED],
  status: ["name"],
  watch: ["name", "watchId"],
  unwatch: ["watchId"],
  cluster: [],
};

/** Every field a request of each op may carry, built once. */
const ALLOWED_FIELDS: Readonly<Record<ClientOp, ReadonlySet<string>>> = (() => {
  const allowed = {} as Record<ClientOp, ReadonlySet<string>>;
  for (const op of OPS) allowed[op] = new Set(["id", "op", ...FIELDS[op]]);
  return allowed;
})();

const STRING_BYTES_MAX = 512;
const REQUEST_ID_MAX = 2 ** 32 - 1;

/**
 * Decodes one untrusted message into a request. The lock-level rules (name syntax, TTL and
 * wait bounds) are the state machine's; this checks shape and types, and that nothing
 * unexpected rides along. Throws RequestError(INVALID_ARGUMENT) naming the field.
 */
export function parseClientRequest(input: unknown): ClientRequest {
  if (typeof input !== "object" || input === null || Array.isArray(input)) bad("request must be a map");
  const raw = input as Record<string, unknown>;
  const id = raw["id"];
  if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id > REQUEST_ID_MAX) bad("id must be an integer in [0, 2^32)");
  const op = raw["op"];
  if (typeof op !== "string" || !(OPS as readonly string[]).includes(op)) bad(`op must be one of ${OPS.join(", ")}`);
  const allowed = ALLOWED_FIELDS[op as ClientOp];
  // for...in sees own keys here: decoded requests are plain objects (codec.ts sanitize).
  for (const key in raw) if (!allowed.has(key)) bad(`unexpected field "${key}" for ${op}`);
  const str = (field: string): string => stringField(raw, field);
  const int = (field: string): number => integerField(raw, field);
  // One literal per op, not a spread of the shared fields: this runs for every request.
  switch (op as ClientOp) {
    case "openSession":
      return { id, op: "openSession", region: str("region"), ttlMs: int("ttlMs"), clientId: str("clientId"), seq: int("seq") };
    case "keepAlive":
      return { id, op: "keepAlive", region: str("region"), sessionId: int("sessionId"), clientId: str("clientId"), seq: int("seq") };
    case "closeSession":
      return { id, op: "closeSession", region: str("region"), sessionId: int("sessionId"), clientId: str("clientId"), seq: int("seq") };
    case "acquire": {
      const mode = raw["mode"];
      if (mode !== "exclusive" && mode !== "shared") bad('mode must be "exclusive" or "shared"');
      return {
        id,
        op: "acquire",
        name: str("name"),
        sessionId: int("sessionId"),
        mode: mode as "exclusive" | "shared",
        waitMs: int("waitMs"),
        owner: str("owner"),
        clientId: str("clientId"),
        seq: int("seq"),
      };
    }
    case "release":
      return { id, op: "release", name: str("name"), sessionId: int("sessionId"), clientId: str("clientId"), seq: int("seq") };
    case "globalAcquire":
      return { id, op: "globalAcquire", name: str("name"), ttlMs: int("ttlMs"), owner: str("owner"), timeoutMs: int("timeoutMs"), clientId: str("clientId"), seq: int("seq") };
    case "globalRenew":
      return { id, op: "globalRenew", name: str("name"), token: int("token"), ttlMs: int("ttlMs"), timeoutMs: int("timeoutMs"), clientId: str("clientId"), seq: int("seq") };
    case "globalRelease":
      return { id, op: "globalRelease", name: str("name"), token: int("token"), timeoutMs: int("timeoutMs"), clientId: str("clientId"), seq: int("seq") };
    case "status":
      return { id, op: "status", name: str("name") };
    case "watch":
      return { id, op: "watch", name: str("name"), watchId: int("watchId") };
    case "unwatch":
      return { id, op: "unwatch", watchId: int("watchId") };
    case "cluster":
      return { id, op: "cluster" };
  }
}

function bad(message: string): never {
  throw new RequestError("INVALID_ARGUMENT", message);
}

/** The id of a message that failed validation, when it had a usable one, so the error can be answered. */
export function requestIdOf(input: unknown): number | undefined {
  if (typeof input !== "object" || input === null) return undefined;
  const id = (input as Record<string, unknown>)["id"];
  return typeof id === "number" && Number.isInteger(id) && id >= 0 && id <= REQUEST_ID_MAX ? id : undefined;
}

/** Which region decides a lock name: `<region>:...` is regional, `global:...` is global. */
export type NameScope = { readonly kind: "regional"; readonly region: string } | { readonly kind: "global" };

export function scopeOfName(name: string, regions: readonly string[]): NameScope {
  const colon = name.indexOf(":");
  const prefix = colon > 0 ? name.slice(0, colon) : "";
  if (colon < 0 || colon === name.length - 1) {
    throw new RequestError("INVALID_NAME", `lock name "${name}" must be "<region>:<key>" or "global:<key>"`);
  }
  if (prefix === "global") return { kind: "global" };
  if (!regions.includes(prefix)) {
    throw new RequestError("INVALID_NAME", `lock name "${name}" names no region (regions: ${regions.join(", ")}, or global)`);
  }
  return { kind: "regional", region: prefix };
}

function stringField(raw: Record<string, unknown>, field: string): string {
  const v = raw[field];
  if (typeof v !== "string" || v.length > STRING_BYTES_MAX) bad(`${field} must be a string of at most ${STRING_BYTES_MAX} characters`);
  return v as string;
}

function integerField(raw: Record<string, unknown>, field: string): number {
  const v = raw[field];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) bad(`${field} must be a non-negative integer`);
  return v as number;
}
