// Any node accepts any request. A request for this node's region is served here when this
// node leads it; otherwise it is forwarded over the peer transport to the node believed to
// lead the request's region (this region's leader, or another region's), following
// NOT_LEADER hints for a bounded number of hops. A forwarded request is only ever served
// or refused by its receiver, never forwarded again, so forwarding cannot loop.
//
// Global locks (`global:<key>`): a request belongs to the node's own region, whose leader
// proposes it to the other regions (global-service.ts); the status of a global key is the
// answering node's applied view and is served by any node without forwarding.

import { NAME_BYTES_MAX, textProblem, type LockAnswer } from "@geolock/locks";
import {
  isPeerId,
  isWatchRequest,
  type PeerId,
  type PeerTransport,
  type ValidationResult,
  CLIENT_ERROR_CODES as ERROR_CODES,
  parseClientRequest,
  RequestError,
  scopeOfName,
  type ClientError,
  type ClientResponse,
  type RoutedRequest,
  type WatchRequest,
} from "@geolock/transport";
import { globalKeyOf, globalRequestOf, globalResponse, isGlobalOp } from "./global-requests.js";
import type { GlobalService } from "./global-service.js";
import type { LockService } from "./lock-service.js";
import type { WatchSink } from "./lock-watches.js";
import { peerName, type Topology } from "./topology.js";

export const FORWARD_CHANNEL = "fwd";
export const FORWARD_REPLY_CHANNEL = "fwd-reply";

interface ForwardMessage {
  readonly fid: number;
  readonly request: RoutedRequest;
}

interface ForwardReply {
  readonly fid: number;
  readonly response: ClientResponse;
}

interface PendingForward {
  readonly target: PeerId;
  readonly resolve: (response: ClientResponse) => void;
  readonly timer: NodeJS.Timeout;
}

/** How often forwards in flight are checked for a link that went down under them. */
const LINK_CHECK_MS = 100;

export interface RouterOptions {
  readonly topology: Topology;
  readonly region: string;
  readonly self: PeerId;
  /** Hops a request may take following NOT_LEADER hints. */
  readonly forwardHopsMax: number;
  /** Extra time a forwarded request may take beyond its own wait. */
  readonly forwardTimeoutMs: number;
  /** Forwarded requests in flight from this node at most; beyond it, OVERLOADED. */
  readonly forwardsInFlightMax: number;
}

export class RequestRouter {
  private nextFid = 1;
  private readonly inFlight = new Map<number, PendingForward>();
  /** Where each region's leader was last seen; a guess until a hint corrects it. */
  private readonly leaderGuess = new Map<string, PeerId>();
  private readonly regionNames: readonly string[];
  private linkCheck: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: RouterOptions,
    private readonly service: LockService,
    private readonly global: GlobalService,
    private readonly transport: PeerTransport,
  ) {
    this.regionNames = options.topology.regions.map((r) => r.name);
    for (const region of options.topology.regions) {
      const first = region.nodes[0];
      if (first !== undefined) this.leaderGuess.set(region.name, peerName(region.name, first.id));
    }
    transport.registerChannel(FORWARD_CHANNEL, validateForward, (from, message) => this.serveForwarded(from, message));
    transport.registerChannel(FORWARD_REPLY_CHANNEL, validateForwardReply, (_from, reply) => this.settleForward(reply));
  }

  /**
   * A watch is served by the node the client is connected to, for its connection (`sink`),
   * from this node's applied state: so for regional names of this node's region, and for
   * global names. Never rejects.
   */
  async serveWatch(request: WatchRequest, sink: WatchSink): Promise<ClientResponse> {
    try {
      if (request.op === "unwatch") return ok(request.id, { ended: this.service.watches.unwatch(sink, request.watchId) });
      const problem = textProblem(request.name, 1, NAME_BYTES_MAX);
      if (problem !== undefined) throw new RequestError("INVALID_NAME", `lock name ${problem}`);
      const scope = scopeOfName(request.name, this.regionNames);
      // Every region applies the global table: any node serves a global key's watch.
      if (scope.kind === "global") return ok(request.id, this.global.watch(sink, request.watchId, globalKeyOf(request.name)));
      if (scope.region !== this.options.region) {
        throw new RequestError("INVALID_ARGUMENT", `a node of region ${this.options.region} cannot watch ${request.name}: watch it through a node of region ${scope.region}`);
      }
      return ok(request.id, await this.service.watch(sink, request.watchId, request.name));
    } catch (error) {
      return failure(request.id, error);
    }
  }

  /** Ends the watches of a connection that closed. */
  dropWatches(sink: WatchSink): void {
    this.service.watches.dropSink(sink);
  }

  /** Answers one client request, wherever it must be served. Never rejects. */
  async handle(request: RoutedRequest): Promise<ClientResponse> {
    try {
      if (request.op === "cluster") return ok(request.id, this.clusterView());
      const globalStatus = this.globalStatus(request);
      if (globalStatus !== undefined) return globalStatus;
      const region = this.regionOf(request);
      if (region === this.options.region && this.service.isLeader()) return await this.serveLocally(request);
      return await this.forward(request, region);
    } catch (error) {
      return failure(request.id, error);
    }
  }

  stop(): void {
    if (this.linkCheck !== undefined) clearInterval(this.linkCheck);
    this.linkCheck = undefined;
    for (const [fid, pending] of this.inFlight) {
      clearTimeout(pending.timer);
      pending.resolve({ id: fid, ok: false, error: { code: "UNAVAILABLE", message: "node is shutting down" } });
    }
    this.inFlight.clear();
  }

  private regionOf(request: Exclude<RoutedRequest, { op: "cluster" }>): string {
    if ("region" in request) {
      if (!this.regionNames.includes(request.region)) throw new RequestError("INVALID_ARGUMENT", `unknown region "${request.region}"`);
      return request.region;
    }
    const scope = scopeOfName(request.name, this.regionNames);
    if (isGlobalOp(request)) {
      if (scope.kind !== "global") throw new RequestError("INVALID_NAME", `${request.op} takes a "global:<key>" name, got "${request.name}"`);
      return this.options.region;
    }
    if (scope.kind === "global") throw new RequestError("INVALID_ARGUMENT", `${request.op} is for regional locks; "${request.name}" is global (use globalAcquire, globalRenew, globalRelease)`);
    return scope.region;
  }

  /** A status read of a global key: this node's applied view, never forwarded. */
  private globalStatus(request: RoutedRequest): ClientResponse | undefined {
    if (request.op !== "status" || scopeOfName(request.name, this.regionNames).kind !== "global") return undefined;
    return ok(request.id, this.global.status(globalKeyOf(request.name)));
  }

  private async serveLocally(request: RoutedRequest): Promise<ClientResponse> {
    const s = this.service;
    let answer: LockAnswer | unknown;
    switch (request.op) {
      case "openSession":
        answer = await s.submit({ type: "openSession", clientId: request.clientId, seq: request.seq, ttlMs: request.ttlMs });
        break;
      case "keepAlive":
      case "closeSession":
        answer = await s.submit({ type: request.op, clientId: request.clientId, seq: request.seq, sessionId: request.sessionId as never });
        break;
      case "acquire":
        answer = await s.submit({
          type: "acquire",
          clientId: request.clientId,
          seq: request.seq,
          sessionId: request.sessionId as never,
          name: request.name,
          mode: request.mode,
          waitMs: request.waitMs,
          owner: request.owner,
        });
        break;
      case "release":
        answer = await s.submit({ type: "release", clientId: request.clientId, seq: request.seq, sessionId: request.sessionId as never, name: request.name });
        break;
      case "globalAcquire":
      case "globalRenew":
      case "globalRelease":
        return globalResponse(request.id, request.name, await this.global.submit(globalRequestOf(request), request.timeoutMs));
      case "status":
        return ok(request.id, await s.status(request.name));
      case "cluster":
        return ok(request.id, this.clusterView());
    }
    const lockAnswer = answer as LockAnswer;
    if (lockAnswer.type === "error") return { id: request.id, ok: false, error: { code: lockAnswer.code, message: lockAnswer.message } };
    return ok(request.id, lockAnswer);
  }

  private async forward(request: RoutedRequest, region: string): Promise<ClientResponse> {
    let target = region === this.options.region ? this.service.leaderHint() : this.leaderGuess.get(region);
    const tried = new Set<PeerId>();
    for (let hop = 0; hop < this.options.forwardHopsMax; hop++) {
      if (target === undefined || target === this.options.self) {
        throw new RequestError("NOT_LEADER", `no known leader for region ${region}`);
      }
      tried.add(target);
      const response = await this.sendForward(target, request);
      if (response.ok || response.error.code !== "NOT_LEADER") {
        if (region !== this.options.region) this.leaderGuess.set(region, target);
        return response;
      }
      // Follow the hint; without a new one (the guess is down or knows no leader), try
      // another node of that region, as a client would: a dead guess must not strand it.
      const hint = response.error.leader;
      const next = hint !== undefined && isPeerId(hint) && !tried.has(hint) ? hint : this.untriedNode(region, tried);
      if (next === undefined) return response;
      target = next;
      if (region !== this.options.region) this.leaderGuess.set(region, next);
    }
    throw new RequestError("NOT_LEADER", `region ${region}: no leader found within ${this.options.forwardHopsMax} hops`);
  }

  /** A node of another region not yet tried for this request (own region: none, Raft knows its leader). */
  private untriedNode(region: string, tried: ReadonlySet<PeerId>): PeerId | undefined {
    if (region === this.options.region) return undefined;
    const spec = this.options.topology.regions.find((r) => r.name === region);
    return spec?.nodes.map((n) => peerName(region, n.id)).find((name) => !tried.has(name));
  }

  private sendForward(target: PeerId, request: RoutedRequest): Promise<ClientResponse> {
    if (this.inFlight.size >= this.options.forwardsInFlightMax) {
      return Promise.resolve({ id: request.id, ok: false, error: { code: "OVERLOADED", message: "too many forwarded requests in flight" } });
    }
    if (!this.transport.isConnected(target)) {
      return Promise.resolve({ id: request.id, ok: false, error: { code: "NOT_LEADER", message: `no link to ${target} right now` } });
    }
    const fid = this.nextFid++;
    const waitMs = request.op === "acquire" ? request.waitMs : isGlobalOp(request) ? request.timeoutMs : 0;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.inFlight.delete(fid);
        resolve({ id: request.id, ok: false, error: { code: "TIMEOUT", message: `no answer from ${target}; the request may still take effect` } });
      }, waitMs + this.options.forwardTimeoutMs);
      this.inFlight.set(fid, { target, resolve: (r) => resolve({ ...r, id: request.id }), timer });
      this.linkCheck ??= setInterval(() => this.failForwardsOnLostLinks(), LINK_CHECK_MS);
      const outcome = this.transport.send(target, FORWARD_CHANNEL, { fid, request } satisfies ForwardMessage);
      if (outcome !== "queued") {
        clearTimeout(timer);
        this.inFlight.delete(fid);
        resolve({ id: request.id, ok: false, error: { code: "NOT_LEADER", message: `cannot reach ${target} (${outcome})` } });
      }
    });
  }

  private serveForwarded(from: PeerId, message: ForwardMessage): void {
    const request = message.request;
    const serve = async (): Promise<ClientResponse> => {
      try {
        if (request.op === "cluster") return ok(request.id, this.clusterView());
        const globalStatus = this.globalStatus(request);
        if (globalStatus !== undefined) return globalStatus;
        const region = this.regionOf(request);
        if (region !== this.options.region || !this.service.isLeader()) {
          throw new RequestError("NOT_LEADER", `${this.options.self} does not lead ${region}`, region === this.options.region ? this.service.leaderHint() : undefined);
        }
        return await this.serveLocally(request);
      } catch (error) {
        return failure(request.id, error);
      }
    };
    void serve().then((response) => {
      this.transport.send(from, FORWARD_REPLY_CHANNEL, { fid: message.fid, response } satisfies ForwardReply);
    });
  }

  /**
   * A forward whose link dropped will never be answered (the peer may have died with it
   * parked): fail it now with NOT_LEADER, so the client retries, with the same seq, at
   * whoever leads next, instead of waiting out the forward's whole deadline.
   */
  private failForwardsOnLostLinks(): void {
    for (const [fid, pending] of this.inFlight) {
      if (this.transport.isConnected(pending.target)) continue;
      this.inFlight.delete(fid);
      clearTimeout(pending.timer);
      pending.resolve({ id: fid, ok: false, error: { code: "NOT_LEADER", message: `lost the link to ${pending.target} while it served the request; it may have taken effect` } });
    }
    if (this.inFlight.size === 0 && this.linkCheck !== undefined) {
      clearInterval(this.linkCheck);
      this.linkCheck = undefined;
    }
  }

  private settleForward(reply: ForwardReply): void {
    const pending = this.inFlight.get(reply.fid);
    if (pending === undefined) return;
    this.inFlight.delete(reply.fid);
    clearTimeout(pending.timer);
    pending.resolve(reply.response);
  }

  private clusterView(): unknown {
    return {
      self: this.options.self,
      region: this.options.region,
      leader: this.service.leaderHint() ?? null,
      regions: this.options.topology.regions.map((r) => ({
        name: r.name,
        nodes: r.nodes.map((n) => ({ name: peerName(r.name, n.id), host: n.host, port: n.port })),
        leaderGuess: r.name === this.options.region ? (this.service.leaderHint() ?? null) : (this.leaderGuess.get(r.name) ?? null),
      })),
    };
  }
}

function ok(id: number, result: unknown): ClientResponse {
  return { id, ok: true, result };
}

function failure(id: number, error: unknown): ClientResponse {
  if (error instanceof RequestError) return { id, ok: false, error: error.toClientError() };
  throw error;
}

function validateForward(payload: unknown): ValidationResult<ForwardMessage> {
  if (typeof payload !== "object" || payload === null) return refusal("forward must be a map");
  const fid = (payload as Record<string, unknown>)["fid"];
  if (typeof fid !== "number" || !Number.isSafeInteger(fid) || fid < 0) return refusal("fid must be a non-negative integer");
  try {
    const request = parseClientRequest((payload as Record<string, unknown>)["request"]);
    // A watch belongs to the client's own connection; no node forwards one.
    if (isWatchRequest(request)) return refusal(`${request.op} is never forwarded`);
    return { ok: true, value: { fid, request } };
  } catch (error) {
    return refusal(error instanceof Error ? error.message : String(error));
  }
}

function validateForwardReply(payload: unknown): ValidationResult<ForwardReply> {
  if (typeof payload !== "object" || payload === null) return refusal("forward reply must be a map");
  const p = payload as Record<string, unknown>;
  const fid = p["fid"];
  const response = p["response"];
  if (typeof fid !== "number" || !Number.isSafeInteger(fid) || fid < 0) return refusal("fid must be a non-negative integer");
  if (typeof response !== "object" || response === null) return refusal("response must be a map");
  const r = response as Record<string, unknown>;
  if (typeof r["id"] !== "number") return refusal("response.id must be a number");
  if (r["ok"] === true) return { ok: true, value: { fid, response: { id: r["id"], ok: true, result: r["result"] } } };
  const error = r["error"] as Record<string, unknown> | undefined;
  if (r["ok"] !== false || typeof error !== "object" || error === null) return refusal("response must be ok or carry an error");
  const { code, message, leader } = error;
  if (typeof code !== "string" || !(ERROR_CODES as readonly string[]).includes(code)) return refusal("unknown error code");
  if (typeof message !== "string" || (leader !== undefined && !isPeerId(leader))) return refusal("malformed error");
  const clientError = { code, message, ...(leader === undefined ? {} : { leader }) } as ClientError;
  return { ok: true, value: { fid, response: { id: r["id"], ok: false, error: clientError } } };
}

function refusal<T>(detail: string): ValidationResult<T> {
  return { ok: false, error: { code: "inconsistent", path: "", detail } };
}
