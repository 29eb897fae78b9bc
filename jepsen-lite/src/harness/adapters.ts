// What a client worker drives: geolock through the real client library, or the unsafe
// server through a naive client (no lease tracking, like a user of SET NX PX). Both answer
// in the terms of the history: a grant {token, session}, a status {holder, token}, and
// errors whose code says whether the operation certainly did not happen.

import { createConnection, type Socket } from "node:net";
import { GeolockClient, isGeolockError } from "@geolock/client";

export interface HeldLock {
  readonly token: number;
  /**
   * The grant's holder as the history names it. For geolock "<region>/<client id>": a client
   * has one session per region at a time, and naming the client lets the history say which
   * holder an acquire that ended unknown may have become (any session of that client).
   * For the unsafe server, the acquire's owner value.
   */
  readonly session: string;
  /** Fires when the lock may be lost; null when the client cannot know (the naive client). */
  readonly lost: AbortSignal | null;
  /** How long the lease is known to hold (client clock, conservative); null: the client does not track it. */
  remainingMs(): number | null;
  release(): Promise<void>;
  /**
   * The client's first session for this acquire ended with the outcome unknown and the
   * lock was granted in a new one: the first session may have held it in between.
   */
  readonly sessionReplaced: boolean;
}

export interface ObservedStatus {
  readonly holder: string | null;
  readonly token: number | null;
}

export interface LockAdapter {
  acquire(key: string, waitMs: number): Promise<HeldLock>;
  /** The session name an acquire of `key` that ended unknown may have been granted under. */
  sessionFor(key: string): string;
  status(key: string): Promise<ObservedStatus>;
  close(): Promise<void>;
}

/** Codes after which an acquire certainly did not take effect: its history op is a fail. */
const DEFINITE_CODES: readonly string[] = ["NOT_SUPPORTED_YET", "INVALID_NAME", "INVALID_ARGUMENT", "ALREADY_HELD"];

export function errorCode(error: unknown): string {
  if (isGeolockError(error)) return error.code;
  if (error instanceof AdapterError) return error.code;
  return "UNKNOWN";
}

/**
 * Whether an acquire that failed with `error` certainly took no effect. HELD is certain for a
 * try-lock only, and only in the session it began in: a wait can be granted to a session that
 * then ends, and the client moves the wait to a new session, whose try answers HELD (seen
 * with seed 33, --clock-rates 3); a try-lock's first session can be granted it with the
 * answer lost and end, and the retry in a new session answers HELD (seed 41). The client
 * marks every error after such a retry (`sessionReplaced`): none of them is certain.
 */
export function isDefinite(error: unknown, waitMs: number): boolean {
  // Whatever ended the call, its first session's attempt had an unknown outcome.
  if (isGeolockError(error) && error.details.sessionReplaced === true) return false;
  const code = errorCode(error);
  return DEFINITE_CODES.includes(code) || (code === "HELD" && waitMs === 0);
}

export class AdapterError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export interface AdapterSettings {
  readonly endpoints: readonly string[];
  readonly region: string;
  readonly ttlMs: number;
  readonly owner: string;
}

/** Short request timeouts keep every operation (and so every worker loop turn) bounded. */
const REQUEST_TIMEOUT_MS = 3_000;
const CLOSE_TIMEOUT_MS = 1_000;

export async function connectGeolock(s: AdapterSettings): Promise<LockAdapter> {
  const client = await GeolockClient.connect({ endpoints: s.endpoints, region: s.region, ttlMs: s.ttlMs, requestTimeoutMs: REQUEST_TIMEOUT_MS, closeTimeoutMs: CLOSE_TIMEOUT_MS, owner: s.owner });
  const holderName = (key: string): string => `${key.slice(0, Math.max(0, key.indexOf(":")))}/${client.clientId}`;
  return {
    async acquire(key, waitMs) {
      const handle = await client.acquire(key, { waitMs });
      return {
        token: handle.token,
        session: holderName(key),
        lost: handle.lost,
        remainingMs: () => handle.remainingMs(),
        release: () => handle.release(),
        sessionReplaced: handle.sessionReplaced,
      };
    },
    async status(key) {
      const status = await client.status(key);
      const holder = status.holders[0];
      return holder === undefined ? { holder: null, token: null } : { holder: `${key.slice(0, Math.max(0, key.indexOf(":")))}/${holder.clientId}`, token: holder.token };
    },
    sessionFor: holderName,
    close: () => client.close(),
  };
}

/** The naive client of the unsafe server: polls for waits, never tracks its lease. */
export async function connectUnsafe(s: AdapterSettings): Promise<LockAdapter> {
  const url = /^tcp:\/\/([\d.]+):(\d+)$/.exec(s.endpoints[0] ?? "");
  if (url === null) throw new AdapterError("INVALID_ARGUMENT", `the unsafe target needs a tcp://host:port endpoint, got ${s.endpoints.join(",")}`);
  const conn = await LineConnection.open(url[1] as string, Number(url[2]));
  let grants = 0;
  let lastOwner = `${s.owner}-0`;
  const acquireOnce = async (key: string, owner: string): Promise<number | null> => {
    const answer = await conn.request({ op: "acquire", key, owner, ttlMs: s.ttlMs });
    if (answer["ok"] === true && typeof answer["token"] === "number") return answer["token"];
    if (answer["error"] === "HELD") return null;
    throw new AdapterError(String(answer["error"] ?? "PROTOCOL"), "the unsafe server refused");
  };
  return {
    async acquire(key, waitMs) {
      const owner = `${s.owner}-${++grants}`;
      lastOwner = owner;
      const deadline = performance.now() + waitMs;
      for (let attempt = 0; attempt < 10_000; attempt++) {
        const token = await acquireOnce(key, owner);
        if (token !== null) return { token, session: owner, lost: null, remainingMs: () => null, release: async () => void (await conn.request({ op: "release", key })), sessionReplaced: false };
        if (performance.now() + UNSAFE_POLL_MS > deadline) break;
        await new Promise((r) => setTimeout(r, UNSAFE_POLL_MS));
      }
      throw new AdapterError("HELD", `${key} is held`);
    },
    async status(key) {
      const answer = await conn.request({ op: "status", key });
      const holder = answer["holder"];
      const token = answer["token"];
      return { holder: typeof holder === "string" ? holder : null, token: typeof token === "number" ? token : null };
    },
    sessionFor: () => lastOwner,
    close: async () => conn.close(),
  };
}

const UNSAFE_POLL_MS = 50;
const LINE_REQUEST_TIMEOUT_MS = 2_000;

/** One TCP connection speaking JSON lines, requests matched by id. */
class LineConnection {
  private nextId = 1;
  private buffer = "";
  private readonly waiting = new Map<number, (answer: Record<string, unknown>) => void>();

  private constructor(private readonly socket: Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => this.onData(chunk));
    socket.on("error", () => socket.destroy());
  }

  static open(host: string, port: number): Promise<LineConnection> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host, port });
      socket.once("connect", () => resolve(new LineConnection(socket)));
      socket.once("error", (e) => reject(new AdapterError("UNAVAILABLE", e.message)));
    });
  }

  request(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.socket.destroyed) return Promise.reject(new AdapterError("UNAVAILABLE", "connection closed"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new AdapterError("TIMEOUT", `no answer within ${LINE_REQUEST_TIMEOUT_MS} ms`));
      }, LINE_REQUEST_TIMEOUT_MS);
      this.waiting.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      this.socket.write(`${JSON.stringify({ id, ...body })}\n`);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    for (let nl = this.buffer.indexOf("\n"); nl >= 0; nl = this.buffer.indexOf("\n")) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      let answer: unknown;
      try {
        answer = JSON.parse(line);
      } catch {
        this.socket.destroy();
        return;
      }
      if (typeof answer !== "object" || answer === null) continue;
      const a = answer as Record<string, unknown>;
      const id = a["id"];
      const resolve = typeof id === "number" ? this.waiting.get(id) : undefined;
      if (resolve !== undefined) {
        this.waiting.delete(id as number);
        resolve(a);
      }
    }
  }
}
