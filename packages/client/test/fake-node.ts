// A small fake geolock node for the client's unit tests: a ws server on 127.0.0.1 (port 0)
// that speaks the client protocol (frames are MessagePack arrays; every request is checked
// with the server's own parseClientRequest, so the client cannot send what a real node
// would refuse). Nodes share a FakeLockState, the way a region's nodes share a state
// machine, including dedup by (clientId, seq). Tests script faults with `intercept`.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { decodePlain, encodeValue, parseClientRequest, type ClientError, type ClientPush, type ClientRequest } from "@geolock/transport";
import { WebSocketServer, type WebSocket } from "ws";

export type Reply = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: ClientError };
/** What an interceptor decides: answer this, drop the request silently, cut the connection, or let the state answer. */
export type Interception = Reply | "drop" | "disconnect" | undefined;

interface Waiter {
  readonly sessionId: number;
  readonly resolve: (reply: Reply) => void;
  readonly timer: NodeJS.Timeout;
}

/** A tiny lock state machine: exclusive locks only, FIFO waits, dedup of sequenced commands. */
export class FakeLockState {
  nextSessionId = 1;
  nextToken = 1;
  readonly sessions = new Map<number, { clientId: string; ttlMs: number }>();
  readonly holders = new Map<string, { sessionId: number; token: number; owner: string }>();
  readonly waiters = new Map<string, Waiter[]>();
  readonly dedup = new Map<string, Reply>();
  /** Global locks: one holder per name, tokens from the same counter, leases not timed (tests expire them). */
  readonly globalHolders = new Map<string, { clientId: string; token: number; owner: string; leaseVersion: number; ttlMs: number }>();
  /** Commands applied (not answered from dedup), in order. */
  readonly applied: ClientRequest[] = [];

  async handle(request: ClientRequest, view: unknown): Promise<Reply> {
    if (request.op === "cluster") return { ok: true, result: view };
    if (request.op === "status") return { ok: true, result: request.name.startsWith("global:") ? this.globalStatus(request.name) : this.status(request.name) };
    if (request.op === "watch" || request.op === "unwatch") return err("NOT_SUPPORTED_YET", "the fake node serves no watches");
    const key = `${request.clientId}/${request.seq}`;
    const seen = this.dedup.get(key);
    if (seen !== undefined) return seen;
    this.applied.push(request);
    const reply = await this.apply(request);
    this.dedup.set(key, reply);
    return reply;
  }

  private apply(request: Exclude<ClientRequest, { op: "cluster" | "status" | "watch" | "unwatch" }>): Reply | Promise<Reply> {
    if (request.op === "globalAcquire" || request.op === "globalRenew" || request.op === "globalRelease") return this.applyGlobal(request);
    if (request.op === "openSession") {
      const sessionId = this.nextSessionId++;
      this.sessions.set(sessionId, { clientId: request.clientId, ttlMs: request.ttlMs });
      return ok({ type: "sessionOpened", sessionId, ttlMs: request.ttlMs });
    }
    if (!this.sessions.has(request.sessionId)) return err("SESSION_EXPIRED", `session ${request.sessionId} is not open`);
    switch (request.op) {
      case "keepAlive":
        return ok({ type: "keptAlive", sessionId: request.sessionId, ttlMs: this.sessions.get(request.sessionId)?.ttlMs });
      case "closeSession":
        return ok({ type: "sessionClosed", sessionId: request.sessionId, released: this.endSession(request.sessionId) });
      case "acquire":
        return this.acquire(request);
      case "release":
        return this.release(request.name, request.sessionId);
    }
  }

  private acquire(request: Extract<ClientRequest, { op: "acquire" }>): Reply | Promise<Reply> {
    const holder = this.holders.get(request.name);
    if (holder === undefined) return ok(this.grant(request.name, request.sessionId, request.owner));
    if (holder.sessionId === request.sessionId) return ok({ type: "granted", name: request.name, mode: "exclusive", token: holder.token });
    if (request.waitMs === 0) {
      return ok({ type: "held", name: request.name, mode: "exclusive", holders: [{ sessionId: holder.sessionId, owner: holder.owner, mode: "exclusive", token: holder.token }], holderCount: 1, waiterCount: 0 });
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.set(request.name, (this.waiters.get(request.name) ?? []).filter((w) => w.resolve !== resolve));
        resolve(err("TIMEOUT", `waited for ${request.name} until the deadline`));
      }, request.waitMs);
      const list = this.waiters.get(request.name) ?? [];
      list.push({ sessionId: request.sessionId, resolve: (reply) => resolve(reply), timer });
      this.waiters.set(request.name, list);
    });
  }

  private grant(name: string, sessionId: number, owner: string): { type: "granted"; name: string; mode: "exclusive"; token: number } {
    const token = this.nextToken++;
    this.holders.set(name, { sessionId, token, owner });
    return { type: "granted", name, mode: "exclusive", token };
  }

  private release(name: string, sessionId: number): Reply {
    const waiting = this.waiters.get(name)?.find((w) => w.sessionId === sessionId);
    if (waiting !== undefined) {
      clearTimeout(waiting.timer);
      this.waiters.set(name, (this.waiters.get(name) ?? []).filter((w) => w !== waiting));
      waiting.resolve(err("TIMEOUT", `the wait for ${name} was withdrawn`));
      return ok({ type: "waitCancelled", name });
    }
    const holder = this.holders.get(name);
    if (holder?.sessionId !== sessionId) return err("NOT_HOLDER", `session ${sessionId} neither holds nor waits for ${name}`);
    this.holders.delete(name);
    this.promote(name);
    return ok({ type: "released", name, token: holder.token });
  }

  private promote(name: string): void {
    const next = this.waiters.get(name)?.shift();
    if (next === undefined) return;
    clearTimeout(next.timer);
    next.resolve(ok(this.grant(name, next.sessionId, "waiter")));
  }

  private applyGlobal(request: Extract<ClientRequest, { op: "globalAcquire" | "globalRenew" | "globalRelease" }>): Reply {
    const { name } = request;
    const held = this.globalHolders.get(name);
    if (request.op === "globalAcquire") {
      if (held !== undefined && held.clientId !== request.clientId) {
        return ok({ type: "held", name, token: held.token, holder: { region: "us-east", clientId: held.clientId, owner: held.owner } });
      }
      const token = held?.token ?? this.nextToken++;
      const leaseVersion = (held?.leaseVersion ?? 0) + 1;
      this.globalHolders.set(name, { clientId: request.clientId, token, owner: request.owner, leaseVersion, ttlMs: request.ttlMs });
      return ok({ type: "granted", name, token, leaseVersion, ttlMs: request.ttlMs });
    }
    if (held === undefined || held.clientId !== request.clientId || held.token !== request.token) return err("NOT_HOLDER", `${name} is not held with token ${request.token}`);
    if (request.op === "globalRelease") {
      this.globalHolders.delete(name);
      return ok({ type: "released", name, token: held.token });
    }
    this.globalHolders.set(name, { ...held, leaseVersion: held.leaseVersion + 1, ttlMs: request.ttlMs });
    return ok({ type: "renewed", name, token: held.token, leaseVersion: held.leaseVersion + 1, ttlMs: request.ttlMs });
  }

  globalStatus(name: string): unknown {
    const h = this.globalHolders.get(name);
    const holder = h === undefined ? null : { region: "us-east", clientId: h.clientId, owner: h.owner, token: h.token, leaseVersion: h.leaseVersion, ttlMs: h.ttlMs };
    return { name, scope: "global", region: "us-east", applied: 1, token: h?.token ?? null, holder, nextToken: this.nextToken };
  }

  /** Ends a session as expiry would; returns what it held. */
  endSession(sessionId: number): { name: string; mode: "exclusive"; token: number }[] {
    this.sessions.delete(sessionId);
    for (const [name, list] of this.waiters) {
      for (const w of list.filter((x) => x.sessionId === sessionId)) {
        clearTimeout(w.timer);
        w.resolve(err("TIMEOUT", `session ${sessionId} was closed while waiting for ${name}`));
      }
      this.waiters.set(name, list.filter((x) => x.sessionId !== sessionId));
    }
    const lost: { name: string; mode: "exclusive"; token: number }[] = [];
    for (const [name, holder] of [...this.holders]) {
      if (holder.sessionId !== sessionId) continue;
      this.holders.delete(name);
      lost.push({ name, mode: "exclusive", token: holder.token });
      this.promote(name);
    }
    return lost;
  }

  status(name: string): unknown {
    const h = this.holders.get(name);
    const holders = h === undefined ? [] : [{ sessionId: h.sessionId, clientId: this.sessions.get(h.sessionId)?.clientId ?? "?", owner: h.owner, mode: "exclusive", token: h.token, heldForMs: 1 }];
    return { name, mode: h === undefined ? null : "exclusive", token: h?.token ?? null, holders, waiters: [] };
  }

  stop(): void {
    for (const list of this.waiters.values()) for (const w of list) clearTimeout(w.timer);
    this.waiters.clear();
  }
}

function ok(result: unknown): Reply {
  return { ok: true, result };
}

export function err(code: ClientError["code"], message: string, leader?: string): Reply {
  return { ok: false, error: leader === undefined ? { code, message } : { code, message, leader } };
}

export class FakeNode {
  /** Every request received, in order (bounded by the test's own size). */
  readonly requests: ClientRequest[] = [];
  readonly frames: number[] = [];
  intercept: (request: ClientRequest) => Interception = () => undefined;
  /** Answers in the reverse order of arrival within a frame: proves matching is by id. */
  reverseAnswers = false;
  clusterView: unknown;
  private readonly sockets = new Set<WebSocket>();

  private constructor(
    readonly name: string,
    readonly region: string,
    readonly state: FakeLockState,
    private readonly http: Server,
    private readonly wss: WebSocketServer,
    readonly port: number,
  ) {
    this.clusterView = { self: name, region, leader: name, regions: [{ name: region, nodes: [{ name, host: "127.0.0.1", port }], leaderGuess: name }] };
    wss.on("connection", (socket) => this.accept(socket));
  }

  static async start(name: string, state: FakeLockState): Promise<FakeNode> {
    const http = createServer();
    const wss = new WebSocketServer({ server: http, path: "/client" });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", () => resolve()));
    const port = (http.address() as AddressInfo).port;
    return new FakeNode(name, name.split("/")[0] as string, state, http, wss, port);
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/client`;
  }

  get connections(): number {
    return this.sockets.size;
  }

  push(message: ClientPush): void {
    for (const socket of this.sockets) socket.send(encodeValue([message]));
  }

  dropConnections(): void {
    for (const socket of this.sockets) socket.terminate();
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private accept(socket: WebSocket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("message", (data: Buffer) => {
      const decoded = decodePlain(data, 16);
      if (!decoded.ok || !Array.isArray(decoded.value)) throw new Error("client sent a malformed frame");
      this.frames.push(decoded.value.length);
      const requests = decoded.value.map((item) => parseClientRequest(item));
      for (const request of this.reverseAnswers ? [...requests].reverse() : requests) this.serve(socket, request);
    });
  }

  private serve(socket: WebSocket, request: ClientRequest): void {
    this.requests.push(request);
    const decision = this.intercept(request);
    if (decision === "drop") return;
    if (decision === "disconnect") {
      socket.terminate();
      return;
    }
    const reply = decision ?? this.state.handle(request, this.clusterView);
    void Promise.resolve(reply).then((r) => {
      if (socket.readyState === socket.OPEN) socket.send(encodeValue([{ id: request.id, ...r }]));
    });
  }
}

/** Nodes of one fake region whose cluster views name each other. */
export async function startRegion(region: string, count: number, state = new FakeLockState()): Promise<FakeNode[]> {
  const nodes: FakeNode[] = [];
  for (let i = 1; i <= count; i++) nodes.push(await FakeNode.start(`${region}/${i}`, state));
  const view = (self: FakeNode): unknown => ({
    self: self.name,
    region,
    leader: null,
    regions: [{ name: region, nodes: nodes.map((n) => ({ name: n.name, host: "127.0.0.1", port: n.port })), leaderGuess: null }],
  });
  for (const node of nodes) node.clusterView = view(node);
  return nodes;
}
