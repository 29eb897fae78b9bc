// A stub geolock node for the `lock-path` suite's client scenarios: a WebSocket server on
// 127.0.0.1 (port chosen by the OS) that speaks the client protocol of the real endpoint
// (server/src/client-endpoint.ts: a frame is a MessagePack array of requests, validated by
// parseClientRequest; the answers to one frame go back in one frame) and answers cluster,
// openSession, keepAlive, acquire, release and closeSession at once, from a few maps: no
// Raft, no disk, no TTLs, no waits. What it holds is kept honest (a session must be open,
// a held name answers "held" to another session, a release must come from the holder), so a
// client that sends something wrong gets an error answer instead of a silent success.
//
// Usage: node bench/dist/stub-node.js [--lifetime-seconds N]
// Prints "stub-node listening on 127.0.0.1:<port>" once it accepts connections. Exits on
// SIGTERM/SIGINT, when its parent process is gone, and after N seconds (default 3600) in any
// case, so that a stub can never outlive the benchmark that started it.

import { createServer } from "node:http";
import {
  decodePlain,
  encodeValue,
  parseClientRequest,
  RequestError,
  requestIdOf,
  type ClientError,
  type ClientRequest,
  type ClientResponse,
} from "@geolock/transport";
import { CLIENT_FRAME_DECODE_DEPTH, DEFAULT_CLIENT_LIMITS } from "@geolock/server";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import { exitWithParent, listenAndAnnounce } from "./child-lifecycle.js";

const REGION = "bench";
const NODE_NAME = `${REGION}/1`;
const HOST = "127.0.0.1";
const PATH = "/client";
/** Bounds on what a misbehaving client could make the stub hold. */
const SESSIONS_MAX = 100_000;
const HELD_MAX = 100_000;
const DEFAULT_LIFETIME_SECONDS = 3_600;

type LockMode = "exclusive" | "shared";

interface Session {
  readonly clientId: string;
  readonly ttlMs: number;
}

interface Holding {
  readonly sessionId: number;
  readonly owner: string;
  readonly mode: LockMode;
  readonly token: number;
}

/** The answers the client library decodes (client/src/decode.ts), as the lock machine shapes them. */
type StubResult =
  | { readonly type: "sessionOpened" | "keptAlive"; readonly sessionId: number; readonly ttlMs: number }
  | { readonly type: "sessionClosed"; readonly sessionId: number; readonly released: readonly { readonly name: string; readonly mode: LockMode; readonly token: number }[] }
  | { readonly type: "granted"; readonly name: string; readonly mode: LockMode; readonly token: number }
  | {
      readonly type: "held";
      readonly name: string;
      readonly mode: LockMode;
      readonly holders: readonly { readonly sessionId: number; readonly owner: string; readonly mode: LockMode; readonly token: number }[];
      readonly holderCount: number;
      readonly waiterCount: number;
    }
  | { readonly type: "released"; readonly name: string; readonly token: number };

interface ClusterView {
  readonly self: string;
  readonly region: string;
  readonly leader: string;
  readonly regions: readonly { readonly name: string; readonly nodes: readonly { readonly name: string; readonly host: string; readonly port: number }[]; readonly leaderGuess: string }[];
}

class StubState {
  private nextSessionId = 1;
  private nextToken = 1;
  private readonly sessions = new Map<number, Session>();
  private readonly held = new Map<string, Holding>();

  constructor(private readonly view: ClusterView) {}

  answer(request: ClientRequest): ClientResponse {
    const id = request.id;
    switch (request.op) {
      case "cluster":
        return { id, ok: true, result: this.view };
      case "openSession": {
        if (this.sessions.size >= SESSIONS_MAX) return failure(id, { code: "OVERLOADED", message: "stub node: too many sessions" });
        const sessionId = this.nextSessionId++;
        this.sessions.set(sessionId, { clientId: request.clientId, ttlMs: request.ttlMs });
        return success(id, { type: "sessionOpened", sessionId, ttlMs: request.ttlMs });
      }
      case "keepAlive": {
        const session = this.sessions.get(request.sessionId);
        if (session === undefined) return expired(id, request.sessionId);
        return success(id, { type: "keptAlive", sessionId: request.sessionId, ttlMs: session.ttlMs });
      }
      case "acquire": {
        if (!this.sessions.has(request.sessionId)) return expired(id, request.sessionId);
        const holding = this.held.get(request.name);
        if (holding === undefined) {
          if (this.held.size >= HELD_MAX) return failure(id, { code: "OVERLOADED", message: "stub node: too many locks held" });
          const token = this.nextToken++;
          this.held.set(request.name, { sessionId: request.sessionId, owner: request.owner, mode: request.mode, token });
          return success(id, { type: "granted", name: request.name, mode: request.mode, token });
        }
        if (holding.sessionId === request.sessionId) return success(id, { type: "granted", name: request.name, mode: holding.mode, token: holding.token });
        // No queues here: a wait is answered like a try-lock.
        const holders = [{ sessionId: holding.sessionId, owner: holding.owner, mode: holding.mode, token: holding.token }];
        return success(id, { type: "held", name: request.name, mode: holding.mode, holders, holderCount: 1, waiterCount: 0 });
      }
      case "release": {
        if (!this.sessions.has(request.sessionId)) return expired(id, request.sessionId);
        const holding = this.held.get(request.name);
        if (holding === undefined || holding.sessionId !== request.sessionId) {
          return failure(id, { code: "NOT_HOLDER", message: `session ${request.sessionId} does not hold ${request.name}` });
        }
        this.held.delete(request.name);
        return success(id, { type: "released", name: request.name, token: holding.token });
      }
      case "closeSession": {
        if (!this.sessions.delete(request.sessionId)) return expired(id, request.sessionId);
        const released: { name: string; mode: LockMode; token: number }[] = [];
        for (const [name, holding] of this.held) {
          if (holding.sessionId !== request.sessionId) continue;
          released.push({ name, mode: holding.mode, token: holding.token });
          this.held.delete(name);
        }
        released.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        return success(id, { type: "sessionClosed", sessionId: request.sessionId, released });
      }
      default:
        return failure(id, { code: "NOT_SUPPORTED_YET", message: `stub node: ${request.op} is not served` });
    }
  }
}

function success(id: number, result: StubResult): ClientResponse {
  return { id, ok: true, result };
}

function failure(id: number, error: ClientError): ClientResponse {
  return { id, ok: false, error };
}

function expired(id: number, sessionId: number): ClientResponse {
  return failure(id, { code: "SESSION_EXPIRED", message: `session ${sessionId} is not open` });
}

/** The answers to one frame, in request order; undefined for a frame the real endpoint would close the connection over. */
function answerFrame(state: StubState, data: RawData, isBinary: boolean): ClientResponse[] | undefined {
  if (!isBinary || !Buffer.isBuffer(data)) return undefined;
  const decoded = decodePlain(data, CLIENT_FRAME_DECODE_DEPTH);
  if (!decoded.ok || !Array.isArray(decoded.value) || decoded.value.length > DEFAULT_CLIENT_LIMITS.requestsPerFrameMax) return undefined;
  const answers: ClientResponse[] = [];
  for (const item of decoded.value as readonly unknown[]) {
    let request: ClientRequest;
    try {
      request = parseClientRequest(item);
    } catch (error) {
      const id = requestIdOf(item);
      if (id !== undefined && error instanceof RequestError) answers.push(failure(id, error.toClientError()));
      continue;
    }
    answers.push(state.answer(request));
  }
  return answers;
}

function lifetimeSeconds(argv: readonly string[]): number {
  const at = argv.indexOf("--lifetime-seconds");
  if (at === -1) return DEFAULT_LIFETIME_SECONDS;
  const value = Number(argv[at + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`stub-node: --lifetime-seconds needs a positive number, got ${String(argv[at + 1])}`);
  return value;
}

function main(argv: readonly string[]): void {
  const lifetime = lifetimeSeconds(argv);
  const http = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ server: http, path: PATH, maxPayload: DEFAULT_CLIENT_LIMITS.maxFrameBytes, perMessageDeflate: false });
  let state: StubState | undefined;
  wss.on("connection", (socket: WebSocket) => {
    socket.on("message", (data: RawData, isBinary: boolean) => {
      const answers = state === undefined ? undefined : answerFrame(state, data, isBinary);
      if (answers === undefined) {
        socket.close(1008, "malformed frame");
        return;
      }
      if (answers.length > 0) socket.send(encodeValue(answers));
    });
    socket.on("error", () => socket.terminate());
  });

  exitWithParent("stub-node", lifetime * 1000, (code) => {
    wss.close();
    http.close();
    process.exit(code);
  });
  listenAndAnnounce(http, "stub-node", (port) => {
    state = new StubState({
      self: NODE_NAME,
      region: REGION,
      leader: NODE_NAME,
      regions: [{ name: REGION, nodes: [{ name: NODE_NAME, host: HOST, port }], leaderGuess: NODE_NAME }],
    });
  });
}

main(process.argv.slice(2));
