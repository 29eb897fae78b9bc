// Decode-validate-use for everything a server sends. The codec (decodePlain) already
// guarantees plain data; this checks shapes, types and ranges field by field, so the rest
// of the library works with typed values only. A failed check throws GeolockError(PROTOCOL).

import type { ClientError, ClientPush } from "@geolock/transport";
import { GeolockError, isServerErrorCode, type HolderInfo } from "./errors.js";

export type LockMode = "exclusive" | "shared";

export type ServerMessage =
  | { readonly kind: "response"; readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly kind: "response"; readonly id: number; readonly ok: false; readonly error: ClientError }
  | { readonly kind: "push"; readonly push: ClientPush };

type Fields = Readonly<Record<string, unknown>>;

const COUNT_MAX = Number.MAX_SAFE_INTEGER;
/** Lists in answers are bounded by the server; these bounds only stop a hostile peer. */
const LIST_MAX = 100_000;
const TEXT_MAX = 4_096;

function fail(path: string, expected: string): never {
  throw new GeolockError("PROTOCOL", `server sent an invalid message: ${path} must be ${expected}`);
}

function map(value: unknown, path: string): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(path, "a map");
  return value as Fields;
}

function int(value: unknown, path: string, min = 0, max = COUNT_MAX): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) fail(path, `an integer in [${min}, ${max}]`);
  return value;
}

function str(value: unknown, path: string): string {
  if (typeof value !== "string" || value.length > TEXT_MAX) fail(path, `a string of at most ${TEXT_MAX} characters`);
  return value;
}

function list(value: unknown, path: string): readonly unknown[] {
  if (!Array.isArray(value) || value.length > LIST_MAX) fail(path, `an array of at most ${LIST_MAX} items`);
  return value;
}

function mode(value: unknown, path: string): LockMode {
  if (value !== "exclusive" && value !== "shared") fail(path, '"exclusive" or "shared"');
  return value;
}

function nullable<T>(value: unknown, decode: (v: unknown) => T): T | null {
  return value === null ? null : decode(value);
}

/** One item of a frame: a response to a request of ours, or a push. */
export function decodeServerMessage(value: unknown): ServerMessage {
  const m = map(value, "message");
  if ("push" in m) return { kind: "push", push: decodePush(m) };
  const id = int(m["id"], "response.id", 0, 2 ** 32 - 1);
  if (m["ok"] === true) return { kind: "response", id, ok: true, result: m["result"] };
  if (m["ok"] !== false) fail("response.ok", "a boolean");
  const e = map(m["error"], "response.error");
  const code = e["code"];
  if (!isServerErrorCode(code)) fail("response.error.code", "a known error code");
  const message = str(e["message"], "response.error.message");
  const leader = e["leader"] === undefined || e["leader"] === null ? undefined : str(e["leader"], "response.error.leader");
  return { kind: "response", id, ok: false, error: leader === undefined ? { code, message } : { code, message, leader } };
}

/** The fields of every change push (lockChanged, globalLockChanged). */
function changeHead(m: Fields): { readonly watchId: number; readonly name: string; readonly index: number; readonly change: "acquired" | "released"; readonly token: number } {
  const change = m["change"];
  if (change !== "acquired" && change !== "released") fail("push.change", '"acquired" or "released"');
  return { watchId: int(m["watchId"], "push.watchId"), name: str(m["name"], "push.name"), index: int(m["index"], "push.index", 1), change, token: int(m["token"], "push.token", 1) };
}

function releaseReason<R extends string>(value: unknown, allowed: readonly R[]): R {
  if (!(allowed as readonly unknown[]).includes(value)) fail("push.reason", allowed.map((r) => `"${r}"`).join(" or "));
  return value as R;
}

const REGIONAL_RELEASE_REASONS = ["released", "closed", "expired"] as const;
const GLOBAL_RELEASE_REASONS = ["released", "expired"] as const;

function decodePush(m: Fields): ClientPush {
  switch (m["push"]) {
    case "sessionExpired": {
      const lost = list(m["lost"], "push.lost").map((item, i) => {
        const l = map(item, `push.lost[${i}]`);
        return { name: str(l["name"], `push.lost[${i}].name`), token: int(l["token"], `push.lost[${i}].token`, 1) };
      });
      return { push: "sessionExpired", region: str(m["region"], "push.region"), sessionId: int(m["sessionId"], "push.sessionId", 1), lost };
    }
    case "lockChanged": {
      const { change, ...head } = changeHead(m);
      const holder = { sessionId: int(m["sessionId"], "push.sessionId", 1), owner: str(m["owner"], "push.owner"), mode: mode(m["mode"], "push.mode") };
      const fields = { push: "lockChanged", ...head, ...holder } as const;
      return change === "acquired" ? { ...fields, change } : { ...fields, change, reason: releaseReason(m["reason"], REGIONAL_RELEASE_REASONS) };
    }
    case "globalLockChanged": {
      const { change, ...head } = changeHead(m);
      const h = map(m["holder"], "push.holder");
      const holder = { region: str(h["region"], "push.holder.region"), clientId: str(h["clientId"], "push.holder.clientId"), owner: str(h["owner"], "push.holder.owner") };
      const fields = { push: "globalLockChanged", ...head, holder } as const;
      return change === "acquired" ? { ...fields, change } : { ...fields, change, reason: releaseReason(m["reason"], GLOBAL_RELEASE_REASONS) };
    }
    case "watchEnded":
      return { push: "watchEnded", watchId: int(m["watchId"], "push.watchId"), name: str(m["name"], "push.name"), reason: str(m["reason"], "push.reason") };
    default:
      fail("push", '"sessionExpired", "lockChanged", "globalLockChanged" or "watchEnded"');
  }
}

/** The answer to watch: the lock's status as of log index `index`. */
export function decodeWatchStarted(value: unknown): { readonly index: number; readonly status: LockStatus } {
  const w = map(value, "watch");
  return { index: int(w["index"], "watch.index"), status: decodeLockStatus(w["status"]) };
}

/** The answer to watch of a global key: its status as the region applied it up to instance `index`. */
export function decodeGlobalWatchStarted(value: unknown): { readonly index: number; readonly status: GlobalLockStatus } {
  const w = map(value, "watch");
  return { index: int(w["index"], "watch.index"), status: decodeGlobalStatus(w["status"]) };
}

function answer(value: unknown, path: string, types: readonly string[]): Fields & { readonly type: string } {
  const a = map(value, path);
  const type = a["type"];
  if (typeof type !== "string" || !types.includes(type)) fail(`${path}.type`, types.map((t) => `"${t}"`).join(" or "));
  return a as Fields & { readonly type: string };
}

export function decodeSessionAnswer(value: unknown, expected: "sessionOpened" | "keptAlive"): { readonly sessionId: number; readonly ttlMs: number } {
  const a = answer(value, expected, [expected]);
  return { sessionId: int(a["sessionId"], `${expected}.sessionId`, 1), ttlMs: int(a["ttlMs"], `${expected}.ttlMs`, 1) };
}

export interface LockRefInfo {
  readonly name: string;
  readonly mode: LockMode;
  readonly token: number;
}

export function decodeSessionClosed(value: unknown): { readonly sessionId: number; readonly released: readonly LockRefInfo[] } {
  const a = answer(value, "sessionClosed", ["sessionClosed"]);
  const released = list(a["released"], "sessionClosed.released").map((r, i) => decodeLockRef(r, `sessionClosed.released[${i}]`));
  return { sessionId: int(a["sessionId"], "sessionClosed.sessionId", 1), released };
}

function decodeLockRef(value: unknown, path: string): LockRefInfo {
  const r = map(value, path);
  return { name: str(r["name"], `${path}.name`), mode: mode(r["mode"], `${path}.mode`), token: int(r["token"], `${path}.token`, 1) };
}

export type AcquireAnswer =
  | { readonly type: "granted"; readonly name: string; readonly mode: LockMode; readonly token: number }
  | { readonly type: "held"; readonly holders: readonly HolderInfo[]; readonly holderCount: number; readonly waiterCount: number; readonly mode: LockMode };

/** A final acquire answer: granted, or held (try-lock refused). The server never answers "queued". */
export function decodeAcquireAnswer(value: unknown): AcquireAnswer {
  const a = answer(value, "acquire", ["granted", "held"]);
  if (a.type === "granted") return { type: "granted", name: str(a["name"], "granted.name"), mode: mode(a["mode"], "granted.mode"), token: int(a["token"], "granted.token", 1) };
  const holders = list(a["holders"], "held.holders").map((h, i) => decodeHolder(h, `held.holders[${i}]`));
  return {
    type: "held",
    holders,
    mode: mode(a["mode"], "held.mode"),
    holderCount: int(a["holderCount"], "held.holderCount"),
    waiterCount: int(a["waiterCount"], "held.waiterCount"),
  };
}

function decodeHolder(value: unknown, path: string): HolderInfo {
  const h = map(value, path);
  return { sessionId: int(h["sessionId"], `${path}.sessionId`, 1), owner: str(h["owner"], `${path}.owner`), mode: mode(h["mode"], `${path}.mode`), token: int(h["token"], `${path}.token`, 1) };
}

/** release answers "released" (it held the lock) or "waitCancelled" (it was waiting). */
export function decodeReleaseAnswer(value: unknown): { readonly type: "released" | "waitCancelled" } {
  const a = answer(value, "release", ["released", "waitCancelled"]);
  return { type: a.type as "released" | "waitCancelled" };
}

export interface HolderStatus extends HolderInfo {
  readonly clientId: string;
  readonly heldForMs: number;
}

export interface WaiterStatus {
  readonly sessionId: number;
  readonly clientId: string;
  readonly owner: string;
  readonly mode: LockMode;
  readonly waitedForMs: number;
  readonly remainingMs: number;
}

/** A lock's state, read linearizably (ReadIndex) by the region's leader. */
export interface LockStatus {
  readonly name: string;
  readonly mode: LockMode | null;
  /** The newest holder's token: the one a fenced resource must accept. */
  readonly token: number | null;
  readonly holders: readonly HolderStatus[];
  readonly waiters: readonly WaiterStatus[];
}

export function decodeLockStatus(value: unknown): LockStatus {
  const s = map(value, "status");
  const holders = list(s["holders"], "status.holders").map((v, i) => {
    const p = `status.holders[${i}]`;
    const h = map(v, p);
    return { ...decodeHolder(h, p), clientId: str(h["clientId"], `${p}.clientId`), heldForMs: int(h["heldForMs"], `${p}.heldForMs`) };
  });
  const waiters = list(s["waiters"], "status.waiters").map((v, i) => {
    const p = `status.waiters[${i}]`;
    const w = map(v, p);
    return {
      sessionId: int(w["sessionId"], `${p}.sessionId`, 1),
      clientId: str(w["clientId"], `${p}.clientId`),
      owner: str(w["owner"], `${p}.owner`),
      mode: mode(w["mode"], `${p}.mode`),
      waitedForMs: int(w["waitedForMs"], `${p}.waitedForMs`),
      remainingMs: int(w["remainingMs"], `${p}.remainingMs`),
    };
  });
  return {
    name: str(s["name"], "status.name"),
    mode: nullable(s["mode"], (v) => mode(v, "status.mode")),
    token: nullable(s["token"], (v) => int(v, "status.token", 1)),
    holders,
    waiters,
  };
}

export interface ClusterNode {
  /** "region/node", as NOT_LEADER hints name it. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

export interface ClusterRegion {
  readonly name: string;
  readonly nodes: readonly ClusterNode[];
  /** The answering node's belief; its own region's is its Raft leader, others' a routing guess. */
  readonly leaderGuess: string | null;
}

/** The answering node's view of the cluster (no consensus involved). */
export interface ClusterView {
  readonly self: string;
  readonly region: string;
  readonly leader: string | null;
  readonly regions: readonly ClusterRegion[];
}

export function decodeClusterView(value: unknown): ClusterView {
  const c = map(value, "cluster");
  const regions = list(c["regions"], "cluster.regions").map((v, i) => {
    const p = `cluster.regions[${i}]`;
    const r = map(v, p);
    const nodes = list(r["nodes"], `${p}.nodes`).map((nv, j) => {
      const n = map(nv, `${p}.nodes[${j}]`);
      return { name: str(n["name"], `${p}.nodes[${j}].name`), host: str(n["host"], `${p}.nodes[${j}].host`), port: int(n["port"], `${p}.nodes[${j}].port`, 1, 65_535) };
    });
    return { name: str(r["name"], `${p}.name`), nodes, leaderGuess: nullable(r["leaderGuess"], (x) => str(x, `${p}.leaderGuess`)) };
  });
  return { self: str(c["self"], "cluster.self"), region: str(c["region"], "cluster.region"), leader: nullable(c["leader"], (x) => str(x, "cluster.leader")), regions };
}

/** Who holds a global lock: the client, its owner label, and the region its grant came through. */
export interface GlobalHolder {
  readonly region: string;
  readonly clientId: string;
  readonly owner: string;
}

export type GlobalAcquireAnswer =
  | { readonly type: "granted"; readonly token: number; readonly leaseVersion: number; readonly ttlMs: number }
  | { readonly type: "held"; readonly token: number; readonly holder: GlobalHolder };

function decodeGlobalHolder(value: unknown, path: string): GlobalHolder {
  const h = map(value, path);
  return { region: str(h["region"], `${path}.region`), clientId: str(h["clientId"], `${path}.clientId`), owner: str(h["owner"], `${path}.owner`) };
}

/** globalAcquire answers "granted" (with the lease the table recorded) or "held" (try-lock refused). */
export function decodeGlobalAcquireAnswer(value: unknown): GlobalAcquireAnswer {
  const a = answer(value, "globalAcquire", ["granted", "held"]);
  const token = int(a["token"], `${a.type}.token`, 1);
  if (a.type === "held") return { type: "held", token, holder: decodeGlobalHolder(a["holder"], "held.holder") };
  return { type: "granted", token, leaseVersion: int(a["leaseVersion"], "granted.leaseVersion", 1), ttlMs: int(a["ttlMs"], "granted.ttlMs", 1) };
}

export function decodeGlobalRenewAnswer(value: unknown): { readonly token: number; readonly ttlMs: number } {
  const a = answer(value, "globalRenew", ["renewed"]);
  return { token: int(a["token"], "renewed.token", 1), ttlMs: int(a["ttlMs"], "renewed.ttlMs", 1) };
}

export function decodeGlobalReleaseAnswer(value: unknown): { readonly token: number } {
  const a = answer(value, "globalRelease", ["released"]);
  return { token: int(a["token"], "released.token", 1) };
}

/**
 * A global lock as one region's table has applied it (the answering node's region): not
 * linearizable, possibly behind a region that decided more recently.
 */
export interface GlobalLockStatus {
  readonly name: string;
  /** The region whose applied view this is. */
  readonly region: string;
  /** Instances of the lock's Paxos log that region has applied. */
  readonly applied: number;
  /** The holder's fencing token, or null when free. */
  readonly token: number | null;
  readonly holder: (GlobalHolder & { readonly token: number; readonly leaseVersion: number; readonly ttlMs: number }) | null;
  /** The token the next grant will carry (tokens strictly increase across all regions). */
  readonly nextToken: number;
}

export function decodeGlobalStatus(value: unknown): GlobalLockStatus {
  const s = map(value, "status");
  if (s["scope"] !== "global") fail("status.scope", '"global"');
  const holder = nullable(s["holder"], (v) => {
    const h = map(v, "status.holder");
    return { ...decodeGlobalHolder(h, "status.holder"), token: int(h["token"], "status.holder.token", 1), leaseVersion: int(h["leaseVersion"], "status.holder.leaseVersion", 1), ttlMs: int(h["ttlMs"], "status.holder.ttlMs", 1) };
  });
  return {
    name: str(s["name"], "status.name"),
    region: str(s["region"], "status.region"),
    applied: int(s["applied"], "status.applied"),
    token: nullable(s["token"], (v) => int(v, "status.token", 1)),
    holder,
    nextToken: int(s["nextToken"], "status.nextToken", 1),
  };
}
