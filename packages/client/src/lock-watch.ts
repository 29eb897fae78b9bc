// A watch of one lock: its status, then every grant and release in order. The node the
// client is connected to serves it from its applied state; what it pushes carries the index
// of each change (a regional lock's Raft log index, a global key's Paxos instance), and the
// watch's status carries the index it was read at, so a change already in the status is
// skipped, never shown twice. When the connection closes or the node ends the watch (it
// caught up from a snapshot), the watch starts again on whatever connection the client has,
// and the listener gets a fresh status: changes missed in between are in it.

import type { GlobalHolderWire, GlobalLockChangedPush, LockChangedPush, WatchEndedPush } from "@geolock/transport";
import type { Clock } from "./clock.js";
import type { Connection } from "./connection.js";
import { decodeGlobalWatchStarted, decodeWatchStarted, type GlobalLockStatus, type LockMode, type LockStatus } from "./decode.js";
import type { EndpointPool } from "./endpoint-pool.js";
import { GeolockError } from "./errors.js";
import type { ClientLogger } from "./logger.js";

/** What a watch uses of a connection and of the pool (EndpointPool), so tests can stand in for them. */
export type WatchConnection = Pick<Connection, "request" | "isOpen">;
export interface WatchPool {
  connection(): Promise<WatchConnection | undefined>;
  takeWatchId: EndpointPool["takeWatchId"];
  onConnectionClosed(listener: (connection: WatchConnection) => void): () => void;
}

/** A grant or a release of a regional lock: the holder it concerns, and the log index it was applied at. */
interface LockChange {
  readonly index: number;
  readonly name: string;
  readonly sessionId: number;
  readonly owner: string;
  readonly mode: LockMode;
  readonly token: number;
}

export type WatchEvent =
  /** The lock as of log index `index`: first, and again after every restart of the watch. */
  | { readonly type: "status"; readonly index: number; readonly status: LockStatus }
  | ({ readonly type: "acquired" } & LockChange)
  /** `reason`: "released" by its holder, its session "closed", or its session "expired". */
  | ({ readonly type: "released"; readonly reason: "released" | "closed" | "expired" } & LockChange);

export type WatchListener = (event: WatchEvent) => void;

/** A grant or a release of a global lock, made by the key's Paxos instance `index`. */
interface GlobalLockChange {
  readonly index: number;
  readonly name: string;
  /** The client (and owner label) that held it, and the region it came through. */
  readonly holder: GlobalHolderWire;
  readonly token: number;
}

export type GlobalWatchEvent =
  /** The key as this region had applied it up to instance `index` (not linearizable, as globalStatus). */
  | { readonly type: "status"; readonly index: number; readonly status: GlobalLockStatus }
  | ({ readonly type: "acquired" } & GlobalLockChange)
  /** `reason`: "released" by its holder, or its lease "expired". */
  | ({ readonly type: "released"; readonly reason: "released" | "expired" } & GlobalLockChange);

export type GlobalWatchListener = (event: GlobalWatchEvent) => void;

type ChangePush = LockChangedPush | GlobalLockChangedPush;

/** How one kind of watch reads its status answer and its pushes. */
export interface WatchKind<E> {
  /** The status answer, as the first event, and the index it was read at. */
  started(result: unknown): { readonly index: number; readonly event: E };
  /** A change push as an event; undefined when the push is not of this kind. */
  change(push: ChangePush): E | undefined;
}

export const REGIONAL_WATCH: WatchKind<WatchEvent> = {
  started(result) {
    const { index, status } = decodeWatchStarted(result);
    return { index, event: { type: "status", index, status } };
  },
  change(push) {
    if (push.push !== "lockChanged") return undefined;
    const common = { index: push.index, name: push.name, sessionId: push.sessionId, owner: push.owner, mode: push.mode, token: push.token };
    return push.change === "acquired" ? { type: "acquired", ...common } : { type: "released", ...common, reason: push.reason };
  },
};

export const GLOBAL_WATCH: WatchKind<GlobalWatchEvent> = {
  started(result) {
    const { index, status } = decodeGlobalWatchStarted(result);
    return { index, event: { type: "status", index, status } };
  },
  change(push) {
    if (push.push !== "globalLockChanged") return undefined;
    const common = { index: push.index, name: push.name, holder: push.holder, token: push.token };
    return push.change === "acquired" ? { type: "acquired", ...common } : { type: "released", ...common, reason: push.reason };
  },
};

/** Pushes that may arrive before the watch's status answer, at most (a burst on a busy lock). */
const EARLY_PUSHES_MAX = 10_000;
/** Waits between attempts to start the watch again: doubling from the first, up to the last. */
const RESTART_BACKOFF_FIRST_MS = 50;
const RESTART_BACKOFF_MAX_MS = 1_000;

export interface WatchDeps {
  readonly pool: WatchPool;
  readonly clock: Clock;
  readonly logger: ClientLogger;
  readonly requestTimeoutMs: number;
  /** Told once, when the watch is closed. */
  readonly onClose?: () => void;
}

export class LockWatch<E = WatchEvent> {
  private watchId = 0;
  /** The connection the node holds this watch for; undefined while (re)starting. */
  private connection: WatchConnection | undefined;
  /** The status's index, once it arrived; pushes at or below it are already in the status. */
  private baseIndex: number | undefined;
  private early: ChangePush[] = [];
  private closed = false;
  /** Set once start() delivered the first status; before that, start() itself retries. */
  private started = false;
  private restarting: Promise<void> | undefined;
  private stopListening: (() => void) | undefined;
  /** Ends the routing of the current watch id's pushes here. */
  private stopPushes: (() => void) | undefined;

  private constructor(
    readonly name: string,
    private readonly listener: (event: E) => void,
    private readonly deps: WatchDeps,
    private readonly kind: WatchKind<E>,
  ) {}

  /** Resolves once the first status was delivered to the listener; rejects if the watch cannot start in requestTimeoutMs. */
  static async start<E>(name: string, listener: (event: E) => void, deps: WatchDeps, kind: WatchKind<E>): Promise<LockWatch<E>> {
    const watch = new LockWatch(name, listener, deps, kind);
    watch.stopListening = deps.pool.onConnectionClosed((connection) => watch.onConnectionClosed(connection));
    try {
      await watch.startOnce(deps.clock.now() + deps.requestTimeoutMs);
    } catch (error) {
      watch.stop();
      throw error;
    }
    watch.started = true;
    return watch;
  }

  /**
   * Ends the watch: the listener hears nothing more. The node is told to stop pushing, but
   * nothing waits for its answer: pushes for this id are no longer routed here, and the node
   * ends the watch with the connection anyway.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    const connection = this.connection;
    const watchId = this.watchId;
    this.stop();
    if (connection?.isOpen === true) void connection.request({ op: "unwatch", watchId }, this.deps.requestTimeoutMs);
  }

  private stop(): void {
    if (!this.closed) this.deps.onClose?.();
    this.closed = true;
    this.connection = undefined;
    this.early = [];
    this.stopListening?.();
    this.stopPushes?.();
  }

  /** One attempt after another until one starts the watch or the deadline passes. */
  private async startOnce(deadlineMs: number): Promise<void> {
    let backoffMs = RESTART_BACKOFF_FIRST_MS;
    let lastError: unknown = new GeolockError("UNAVAILABLE", `no node could start the watch of ${this.name}`);
    // Bounded: every attempt but the last waits at least RESTART_BACKOFF_FIRST_MS before the deadline.
    while (!this.closed && this.deps.clock.now() < deadlineMs) {
      try {
        await this.attempt(deadlineMs);
        return;
      } catch (error) {
        if (error instanceof GeolockError && (error.code === "INVALID_NAME" || error.code === "INVALID_ARGUMENT" || error.code === "NOT_SUPPORTED_YET" || error.code === "OVERLOADED" || error.code === "PROTOCOL")) throw error;
        lastError = error;
      }
      await sleep(Math.min(backoffMs, Math.max(0, deadlineMs - this.deps.clock.now())));
      backoffMs = Math.min(backoffMs * 2, RESTART_BACKOFF_MAX_MS);
    }
    if (this.closed) throw new GeolockError("CLOSED", `the watch of ${this.name} was closed`);
    throw lastError;
  }

  private async attempt(deadlineMs: number): Promise<void> {
    const connection = await this.deps.pool.connection();
    if (connection === undefined) throw new GeolockError("UNAVAILABLE", `no node reachable to watch ${this.name}`);
    this.stopPushes?.();
    const taken = this.deps.pool.takeWatchId((push) => this.onPush(push));
    this.watchId = taken.watchId;
    this.stopPushes = taken.stop;
    this.connection = connection;
    this.baseIndex = undefined;
    this.early = [];
    const outcome = await connection.request({ op: "watch", name: this.name, watchId: this.watchId }, Math.max(1, deadlineMs - this.deps.clock.now()));
    if (outcome.kind === "error") throw new GeolockError(outcome.error.code, outcome.error.message, outcome.error.leader === undefined ? {} : { leader: outcome.error.leader });
    if (outcome.kind === "unknown") throw new GeolockError("UNAVAILABLE", `watch of ${this.name}: ${outcome.reason}`);
    if (this.closed) return;
    // Its connection closed meanwhile: the node's watch went with it.
    if (this.connection !== connection) throw new GeolockError("UNAVAILABLE", `the connection closed while the watch of ${this.name} started`);
    const started = this.kind.started(outcome.result);
    this.baseIndex = started.index;
    this.listener(started.event);
    const early = this.early;
    this.early = [];
    for (const push of early) this.deliver(push);
  }

  private onPush(push: ChangePush | WatchEndedPush): void {
    if (this.closed || this.connection === undefined) return;
    if (push.push === "watchEnded") {
      this.deps.logger.debug("the node ended a watch; starting it again", { name: this.name, reason: push.reason });
      this.restart();
      return;
    }
    if (this.baseIndex !== undefined) this.deliver(push);
    else if (this.early.length < EARLY_PUSHES_MAX) this.early.push(push);
    else this.restart();
  }

  private deliver(push: ChangePush): void {
    if (push.index <= (this.baseIndex as number)) return;
    const event = this.kind.change(push);
    if (event !== undefined) this.listener(event);
  }

  private onConnectionClosed(connection: WatchConnection): void {
    if (!this.closed && connection === this.connection) this.restart();
  }

  /** Starts the watch again until it works or the watch is closed; the listener then gets a fresh status. */
  private restart(): void {
    this.connection = undefined;
    this.baseIndex = undefined;
    this.early = [];
    // Before the first status, start() is still trying, and a second attempt beside it would
    // leave the node a watch nobody reads.
    if (this.restarting !== undefined || this.closed || !this.started) return;
    this.restarting = (async () => {
      // Bounded by close(): each round is bounded by requestTimeoutMs.
      while (!this.closed) {
        try {
          await this.startOnce(this.deps.clock.now() + this.deps.requestTimeoutMs);
          return;
        } catch (error) {
          this.deps.logger.debug("watch not restarted yet", { name: this.name, error: error instanceof Error ? error.message : String(error) });
          await sleep(RESTART_BACKOFF_MAX_MS);
        }
      }
    })().finally(() => {
      this.restarting = undefined;
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
