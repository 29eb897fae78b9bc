// GeolockClient: sessions per region opened lazily and kept alive by the client itself,
// acquire/release with exactly-once retries, the lost-lock signal, status and cluster reads.
// See README.md for the semantics; session.ts for the conservative deadline; caller.ts for
// retries; endpoint-pool.ts for failover.

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { ClientError, ClientRequestBody } from "@geolock/transport";
import { Caller, DEFAULT_RETRY_LIMITS, raceTimeout, retryDefault, type CallTrace, type RetryLimits } from "./caller.js";
import { conservativeClock, type Clock } from "./clock.js";
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from "./connection.js";
import {
  decodeAcquireAnswer,
  decodeClusterView,
  decodeLockStatus,
  decodeReleaseAnswer,
  decodeSessionAnswer,
  decodeSessionClosed,
  type ClusterView,
  type GlobalLockStatus,
  type LockMode,
  type LockRefInfo,
  type LockStatus,
} from "./decode.js";
import { EndpointPool, localEndpoints, type EndpointSpec } from "./endpoint-pool.js";
import { GeolockError, isGeolockError } from "./errors.js";
import { GlobalLocks, isGlobalName } from "./global-locks.js";
import { LockHandle, lostError, type HandleControl } from "./lock-handle.js";
import { GLOBAL_WATCH, LockWatch, REGIONAL_WATCH, type GlobalWatchEvent, type GlobalWatchListener, type WatchKind, type WatchListener } from "./lock-watch.js";
import { SILENT_LOGGER, type ClientLogger } from "./logger.js";
import { RegionSession, safetyMarginMs, type RenewOutcome } from "./session.js";

export interface ConnectOptions {
  /** ws://host:port/client URLs; default: the built-in local topology (ports 70rn). */
  readonly endpoints?: readonly string[];
  /** Home region: its nodes are tried first. Default: the region of the first node reached. */
  readonly region?: string;
  /** Session TTL in ms (server bounds: 500 ms .. 1 h). Default 10 s. */
  readonly ttlMs?: number;
  /** How long an operation may spend on retries and failover, beyond its own wait. Default 10 s. */
  readonly requestTimeoutMs?: number;
  /** How long close() may spend closing sessions. Default 2 s. */
  readonly closeTimeoutMs?: number;
  /**
   * How long one global request (`global:` names) may wait for a majority of regions before
   * it fails with NO_QUORUM. Default 3 s.
   */
  readonly quorumTimeoutMs?: number;
  /** Default owner label of acquires. Default "<hostname>:<pid>". */
  readonly owner?: string;
  /** Only to act on a session another process opened (geolock release); default random. */
  readonly clientId?: string;
  /** First sequence number (default 1); pair a foreign clientId with a seq far beyond its own. */
  readonly firstSeq?: number;
  readonly logger?: ClientLogger;
  readonly connection?: Partial<ConnectionLimits>;
  readonly retry?: Partial<RetryLimits>;
}

/** What a fork may set for itself; endpoints and connection limits are the shared connection's. */
export type ForkOptions = Pick<ConnectOptions, "ttlMs" | "requestTimeoutMs" | "closeTimeoutMs" | "quorumTimeoutMs" | "owner" | "logger" | "retry">;

export interface ClientDependencies {
  readonly clock?: Clock;
}

export interface AcquireOptions {
  readonly mode?: LockMode;
  /** How long to queue for the lock: 0 (default) is a try-lock, answered at once. */
  readonly waitMs?: number;
  readonly owner?: string;
  /** Aborting gives up the wait; the queued request is withdrawn. */
  readonly signal?: AbortSignal;
}

interface Settings {
  readonly ttlMs: number;
  readonly requestTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly quorumTimeoutMs: number;
  readonly owner: string;
}

interface AcquireRequest {
  readonly name: string;
  readonly region: string;
  readonly mode: LockMode;
  readonly waitMs: number;
  readonly owner: string;
}

/** Sessions in one region at most: one at a time, plus the ones being closed. */
const BACKGROUND_TASKS_MAX = 1_024;
const ACQUIRE_SESSION_ROUNDS_MAX = 2;

export class GeolockClient {
  readonly clientId: string;
  private readonly clock: Clock;
  private readonly pool: EndpointPool;
  private readonly caller: Caller;
  private readonly globals: GlobalLocks;
  private readonly logger: ClientLogger;
  private readonly settings: Settings;
  private readonly retryLimits: RetryLimits;
  private readonly stopPushes: () => void;
  private readonly sessions = new Map<string, RegionSession>();
  private readonly opening = new Map<string, Promise<RegionSession>>();
  /** Names this client holds or is acquiring: geolock locks are not reentrant. */
  private readonly active = new Set<string>();
  private readonly background = new Set<Promise<void>>();
  private readonly watches = new Set<{ close(): Promise<void> }>();
  private closing: Promise<void> | undefined;

  private constructor(options: ConnectOptions, deps: ClientDependencies, shared?: EndpointPool) {
    this.settings = resolveSettings(options);
    this.clientId = options.clientId ?? `gl-${randomBytes(12).toString("base64url")}`;
    this.clock = deps.clock ?? conservativeClock();
    this.logger = options.logger ?? SILENT_LOGGER;
    this.retryLimits = { ...DEFAULT_RETRY_LIMITS, ...options.retry };
    if (shared === undefined) {
      const limits = { ...DEFAULT_CONNECTION_LIMITS, ...options.connection };
      // A zero or nonsense period would retry the home region in a tight loop.
      if (!Number.isSafeInteger(limits.homeRetryMs) || limits.homeRetryMs <= 0) {
        throw new GeolockError("INVALID_ARGUMENT", `connection.homeRetryMs must be a positive integer of milliseconds, got ${limits.homeRetryMs}`);
      }
      const endpoints: EndpointSpec[] = options.endpoints === undefined ? localEndpoints() : options.endpoints.map((url) => ({ url: checkUrl(url) }));
      this.pool = new EndpointPool({ endpoints, region: options.region }, limits, { logger: this.logger });
    } else {
      shared.retain();
      this.pool = shared;
    }
    this.stopPushes = this.pool.onSessionExpired((push) => this.onSessionExpiredPush(push.region, push.sessionId));
    this.caller = new Caller(this.clientId, this.pool, this.clock, this.retryLimits, this.logger, options.firstSeq ?? 1);
    this.globals = new GlobalLocks(this.clientId, this.caller, this.clock, this.settings, this.logger, (name) => this.active.delete(name));
  }

  /** Connects to the first reachable node (home region first); rejects with UNAVAILABLE after requestTimeoutMs. */
  static async connect(options: ConnectOptions = {}, deps: ClientDependencies = {}): Promise<GeolockClient> {
    const client = new GeolockClient(options, deps);
    try {
      await client.cluster();
    } catch (error) {
      await client.close();
      throw error;
    }
    return client;
  }

  /**
   * Another client over this client's connection: its own client id, sessions and locks (so
   * its own lease, queue place and fencing tokens), one socket and one frame per turn for
   * all of them, the way etcd's sessions share one client. Settings not given are this
   * client's. Closing a fork closes its sessions; the socket closes with the last client
   * that shares it. A node routes sessionExpired pushes for up to 1,024 client ids per
   * connection; beyond that, forks learn of a server-side expiry from their keep-alive.
   */
  fork(options: ForkOptions = {}): GeolockClient {
    this.throwIfClosed();
    const inherited: ConnectOptions = { ...this.settings, logger: this.logger, retry: this.retryLimits };
    return new GeolockClient({ ...inherited, ...options }, { clock: this.clock }, this.pool);
  }

  /** The home region (known once a node was reached). */
  get region(): string | undefined {
    return this.pool.region;
  }

  /**
   * Acquires `name` ("<region>:<key>" or "global:<key>"). Resolves with a handle once
   * granted; rejects with HELD (try-lock, or the wait found others first and waitMs is 0),
   * TIMEOUT (the wait ended), ABORTED, ALREADY_HELD, NO_QUORUM (global: the region could not
   * reach a majority of regions in time), or the server's code.
   */
  async acquire(name: string, options: AcquireOptions = {}): Promise<LockHandle> {
    this.throwIfClosed();
    const global = isGlobalName(name);
    const request = global ? undefined : this.acquireRequest(name, options);
    if (global) checkGlobalOptions(options);
    if (this.active.has(name)) throw new GeolockError("ALREADY_HELD", `this client already holds or is acquiring ${name}; geolock locks are not reentrant`);
    this.active.add(name);
    try {
      if (request === undefined) {
        return await this.globals.acquire(name, { waitMs: options.waitMs ?? 0, owner: options.owner ?? this.settings.owner, signal: options.signal });
      }
      return await this.acquireInSession(request, options.signal);
    } catch (error) {
      this.active.delete(name);
      throw error;
    }
  }

  /** Runs fn while holding the lock; releases in finally. Rejects with LOCK_LOST if the lock was lost before fn finished. */
  async withLock<T>(name: string, fn: (handle: LockHandle, lost: AbortSignal) => Promise<T> | T, options: AcquireOptions = {}): Promise<T> {
    const handle = await this.acquire(name, options);
    let result: T;
    try {
      result = await fn(handle, handle.lost);
    } catch (error) {
      await handle.release().catch((releaseError: unknown) => this.logger.debug("release after a failed critical section failed", { name, error: String(releaseError) }));
      throw error;
    }
    await handle.release();
    return result;
  }

  /** The lock's holders and waiters, read linearizably by its region's leader (global names: globalStatus). */
  async status(name: string): Promise<LockStatus> {
    this.throwIfClosed();
    if (isGlobalName(name)) throw new GeolockError("INVALID_ARGUMENT", `"${name}" is a global lock: use globalStatus`);
    const result = await this.caller.call(() => ({ op: "status", name }), false, { deadlineMs: this.clock.now() + this.settings.requestTimeoutMs });
    return decodeLockStatus(result);
  }

  /**
   * Watches a regional lock: `listener` gets its status first (a "status" event, with the log
   * index it was read at), then every grant ("acquired") and release ("released": by its
   * holder, its session closed or expired) in log order, never one twice. If the connection
   * is lost or the node ends the watch, the watch starts again by itself and the listener
   * gets a fresh "status" (changes in between are in it, not replayed). Served by the node
   * the client is connected to, so the name must be of a region this client's connection
   * reaches: its home region. Resolves once the first status was delivered.
   */
  async watch(name: string, listener: WatchListener): Promise<LockWatch> {
    this.throwIfClosed();
    if (isGlobalName(name)) throw new GeolockError("INVALID_NAME", `"${name}" is a global lock: use watchGlobal`);
    this.regionOf(name);
    return this.startWatch(name, listener, REGIONAL_WATCH);
  }

  /**
   * Watches a global lock as the connected node's region applies it: its status (as
   * globalStatus, not linearizable) with the key's Paxos instance, then every grant and
   * release ("released" by its holder, or its lease "expired") of later instances, in order,
   * never one twice. Any node serves it. Restarts by itself as `watch` does.
   */
  async watchGlobal(name: string, listener: GlobalWatchListener): Promise<LockWatch<GlobalWatchEvent>> {
    this.throwIfClosed();
    if (!isGlobalName(name)) throw new GeolockError("INVALID_NAME", `watchGlobal takes a "global:<key>" name, got "${name}"`);
    return this.startWatch(name, listener, GLOBAL_WATCH);
  }

  private async startWatch<E>(name: string, listener: (event: E) => void, kind: WatchKind<E>): Promise<LockWatch<E>> {
    let started: LockWatch<E> | undefined;
    const watch = await LockWatch.start(
      name,
      listener,
      {
        pool: this.pool,
        clock: this.clock,
        logger: this.logger,
        requestTimeoutMs: this.settings.requestTimeoutMs,
        onClose: () => {
          if (started !== undefined) this.watches.delete(started);
        },
      },
      kind,
    );
    if (this.closing !== undefined) {
      // The client closed while the watch started: close() did not know of it.
      await watch.close();
      throw new GeolockError("CLOSED", "the client was closed");
    }
    started = watch;
    this.watches.add(watch);
    return watch;
  }

  /**
   * A global lock's holder and tokens as the answering node's region has applied them:
   * served by any node, not linearizable (a region that decided later may know more).
   */
  async globalStatus(name: string): Promise<GlobalLockStatus> {
    this.throwIfClosed();
    if (!isGlobalName(name)) throw new GeolockError("INVALID_NAME", `globalStatus takes a "global:<key>" name, got "${name}"`);
    return this.globals.status(name);
  }

  /** The answering node's view of regions, nodes and leaders. */
  async cluster(): Promise<ClusterView> {
    this.throwIfClosed();
    const result = await this.caller.call(() => ({ op: "cluster" }), false, { deadlineMs: this.clock.now() + this.settings.requestTimeoutMs });
    return decodeClusterView(result);
  }

  /**
   * Closes a session by id, as its owner: only for sessions of this client id (operators
   * use it through `geolock release`). Returns the locks it released.
   */
  async closeSessionById(region: string, sessionId: number): Promise<readonly LockRefInfo[]> {
    this.throwIfClosed();
    const body = (seq: number): ClientRequestBody => ({ op: "closeSession", region, sessionId, clientId: this.clientId, seq });
    const result = await this.caller.call(body, true, { deadlineMs: this.clock.now() + this.settings.requestTimeoutMs });
    return decodeSessionClosed(result).released;
  }

  /** Closes sessions (bounded by closeTimeoutMs), then sockets and timers. Handles still held fire `lost` (CLOSED). */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    const watches = [...this.watches];
    this.watches.clear();
    await Promise.allSettled(watches.map((w) => w.close()));
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const session of sessions) session.closeLocally();
    const deadlineMs = this.clock.now() + this.settings.closeTimeoutMs;
    await Promise.allSettled([...sessions.map((s) => this.closeRemotely(s, deadlineMs)), this.globals.close(), ...this.background]);
    this.caller.close();
    this.stopPushes();
    this.pool.release();
  }

  /** The region a regional lock name names; throws INVALID_NAME for anything else. */
  private regionOf(name: string): string {
    if (typeof name !== "string") throw new GeolockError("INVALID_NAME", "a lock name must be a string");
    const colon = name.indexOf(":");
    const region = colon > 0 ? name.slice(0, colon) : "";
    if (region === "" || colon === name.length - 1) throw new GeolockError("INVALID_NAME", `lock name "${name}" must be "<region>:<key>" or "global:<key>"`);
    const regions = this.pool.view?.regions;
    if (regions !== undefined && !regions.some((r) => r.name === region)) {
      throw new GeolockError("INVALID_NAME", `lock name "${name}" names no region (regions: ${regions.map((r) => r.name).join(", ")})`);
    }
    return region;
  }

  private acquireRequest(name: string, options: AcquireOptions): AcquireRequest {
    const region = this.regionOf(name);
    const waitMs = options.waitMs ?? 0;
    if (!Number.isSafeInteger(waitMs) || waitMs < 0) throw new GeolockError("INVALID_ARGUMENT", `waitMs must be a non-negative integer, got ${waitMs}`);
    const mode = options.mode ?? "exclusive";
    if (mode !== "exclusive" && mode !== "shared") throw new GeolockError("INVALID_ARGUMENT", `mode must be "exclusive" or "shared"`);
    return { name, region, mode, waitMs, owner: options.owner ?? this.settings.owner };
  }

  /**
   * A session that dies under the request is replaced once. Whatever the dead session may
   * have been granted ended with it; a grant in the new session says so (sessionReplaced).
   */
  private async acquireInSession(request: AcquireRequest, signal: AbortSignal | undefined): Promise<LockHandle> {
    const startedAtMs = this.clock.now();
    const deadlineMs = startedAtMs + request.waitMs + this.settings.requestTimeoutMs;
    for (let round = 1; ; round++) {
      const session = await this.sessionFor(request.region, deadlineMs, signal);
      try {
        return await this.acquireOn(session, request, startedAtMs, deadlineMs, signal, round > 1);
      } catch (error) {
        if (round >= ACQUIRE_SESSION_ROUNDS_MAX || !isGeolockError(error, "SESSION_EXPIRED") || this.closing !== undefined) {
          throw round > 1 && isGeolockError(error) ? new GeolockError(error.code, `${error.message} (after a new session replaced one that ended while this acquire's outcome was unknown: that session may have held the lock until it was closed)`, { ...error.details, sessionReplaced: true }) : error;
        }
      }
    }
  }

  private async acquireOn(session: RegionSession, request: AcquireRequest, startedAtMs: number, deadlineMs: number, signal: AbortSignal | undefined, sessionReplaced: boolean): Promise<LockHandle> {
    const remainingWait = (): number => (request.waitMs === 0 ? 0 : Math.max(0, Math.floor(request.waitMs - (this.clock.now() - startedAtMs))));
    const body = (seq: number): ClientRequestBody => ({
      op: "acquire",
      name: request.name,
      sessionId: session.id,
      mode: request.mode,
      waitMs: remainingWait(),
      owner: request.owner,
      clientId: this.clientId,
      seq,
    });
    // A TIMEOUT before our own wait is over (less the clock-drift margin) cannot be the
    // wait's end: it is a proposal or forward timing out, and the same seq is retried.
    const retryable = (error: ClientError): boolean => retryDefault(error) && (error.code !== "TIMEOUT" || request.waitMs === 0 || remainingWait() > safetyMarginMs(request.waitMs));
    let answer;
    try {
      // A wait must not outlive its session: when the session ends, the acquire stops (and is retried on a new one).
      answer = decodeAcquireAnswer(await this.caller.call(body, true, { deadlineMs, attemptExtraMs: remainingWait, signal, stop: session, retryable }));
    } catch (error) {
      const adopted = await this.grantedAfterAll(session, request, error, sessionReplaced);
      if (adopted !== undefined) return adopted;
      await this.afterFailedAcquire(session, request.name, error);
      if (this.closing !== undefined) throw new GeolockError("CLOSED", "the client was closed during acquire");
      if (session.stopped && signal?.aborted !== true) throw new GeolockError("SESSION_EXPIRED", `session ${session.id} ended while acquiring ${request.name}`);
      throw error;
    }
    if (answer.type === "held") {
      const details = { holders: answer.holders, holderCount: answer.holderCount, waiterCount: answer.waiterCount };
      throw new GeolockError("HELD", `${request.name} is held (${answer.mode}) by ${describeHolders(answer.holders, answer.holderCount)}`, details);
    }
    return this.adoptGrant(session, request, answer.token, sessionReplaced);
  }

  private adoptGrant(session: RegionSession, request: AcquireRequest, token: number, sessionReplaced: boolean): LockHandle {
    if (!session.isLive()) {
      // The lost session is being closed (onSessionLost), which releases this grant too.
      if (this.closing !== undefined) throw new GeolockError("CLOSED", "the client was closed during acquire");
      throw new GeolockError("SESSION_EXPIRED", `${request.name} was granted to session ${session.id}, whose lease may have ended meanwhile`);
    }
    const init = { name: request.name, mode: request.mode, token, sessionId: session.id, region: session.region, owner: request.owner, sessionReplaced };
    let control: HandleControl | undefined;
    const releaser = (): Promise<void> => this.release(session, control as HandleControl);
    control = LockHandle.create(init, releaser, () => session.deadlineMs - this.clock.now(), () => this.active.delete(request.name));
    session.handles.add(control);
    return control.handle;
  }

  /**
   * An acquire that ended in TIMEOUT or UNAVAILABLE may have been granted all the same (its
   * answer lost with a node): a linearizable status says whether this session holds the
   * lock, and if it does the grant is adopted rather than withdrawn.
   */
  private async grantedAfterAll(session: RegionSession, request: AcquireRequest, error: unknown, sessionReplaced: boolean): Promise<LockHandle | undefined> {
    if (!(isGeolockError(error, "TIMEOUT") || isGeolockError(error, "UNAVAILABLE")) || this.closing !== undefined || !session.isLive()) return undefined;
    const status = await this.status(request.name).catch(() => undefined);
    const mine = status?.holders.find((h) => h.sessionId === session.id && h.mode === request.mode);
    if (mine === undefined || !session.isLive()) return undefined;
    this.logger.debug("acquire answered ambiguously, but the lock is held by our session", { name: request.name, token: mine.token, code: (error as GeolockError).code });
    return this.adoptGrant(session, request, mine.token, sessionReplaced);
  }

  /** After an acquire ended without a grant: it may still sit in the queue (or have been granted) server-side. */
  private async afterFailedAcquire(session: RegionSession, name: string, error: unknown): Promise<void> {
    if (isGeolockError(error, "SESSION_EXPIRED")) {
      session.expire("was expired by the server", true);
      return;
    }
    const mayBeQueued = isGeolockError(error) && ["TIMEOUT", "UNAVAILABLE", "ABORTED", "PROTOCOL"].includes(error.code);
    if (mayBeQueued && this.closing === undefined) await this.withdraw(session, name);
  }

  /** Withdraws a wait or a grant nobody will use (a fresh release), so no lock is orphaned. */
  private async withdraw(session: RegionSession, name: string): Promise<void> {
    if (!session.isLive()) return;
    const body = (seq: number): ClientRequestBody => ({ op: "release", name, sessionId: session.id, clientId: this.clientId, seq });
    const deadlineMs = Math.min(session.deadlineMs, this.clock.now() + this.settings.closeTimeoutMs);
    await this.caller.call(body, true, { deadlineMs }).catch((error: unknown) => {
      if (!isGeolockError(error, "NOT_HOLDER")) this.logger.warn("could not withdraw an abandoned acquire", { name, error: String(error) });
    });
  }

  private async release(session: RegionSession, control: HandleControl): Promise<void> {
    const handle = control.handle;
    if (!session.isLive()) handle.throwIfLost();
    const trace: CallTrace = { resequenced: false };
    const body = (seq: number): ClientRequestBody => ({ op: "release", name: handle.name, sessionId: session.id, clientId: this.clientId, seq });
    try {
      decodeReleaseAnswer(await this.caller.call(body, true, { deadlineMs: this.clock.now() + this.settings.requestTimeoutMs }, trace));
    } catch (error) {
      if (isGeolockError(error, "SESSION_EXPIRED")) session.expire("was expired by the server", true);
      // A live session loses a lock only by releasing it: NOT_HOLDER after a re-sent release is our own first one.
      else if (isGeolockError(error, "NOT_HOLDER") && !trace.resequenced) control.markLost(lostError(handle, "was not held by its session any more"));
      else if (!isGeolockError(error, "NOT_HOLDER")) throw error;
    }
    handle.throwIfLost();
    control.markReleased();
    session.handles.delete(control);
    this.active.delete(handle.name);
  }

  /** The region's live session, or a new one (concurrent acquires share one opening). */
  private async sessionFor(region: string, deadlineMs: number, signal: AbortSignal | undefined): Promise<RegionSession> {
    const existing = this.sessions.get(region);
    if (existing?.isLive() === true) return existing;
    let opening = this.opening.get(region);
    if (opening === undefined) {
      opening = this.openSession(region, deadlineMs).finally(() => this.opening.delete(region));
      this.opening.set(region, opening);
    }
    const session = await raceTimeout(opening, Number.POSITIVE_INFINITY, signal);
    if (session !== undefined) return session;
    if (signal?.aborted === true) throw new GeolockError("ABORTED", "the operation was aborted");
    // Not aborted, so the opening failed: surface its own error (UNAVAILABLE, TIMEOUT, ...).
    return opening;
  }

  private async openSession(region: string, deadlineMs: number): Promise<RegionSession> {
    const sentAtMs = this.clock.now();
    const body = (seq: number): ClientRequestBody => ({ op: "openSession", region, ttlMs: this.settings.ttlMs, clientId: this.clientId, seq });
    const opened = decodeSessionAnswer(await this.caller.call(body, true, { deadlineMs }), "sessionOpened");
    const session = new RegionSession(region, opened.sessionId, opened.ttlMs, sentAtMs, this.clock, {
      renew: (s) => this.renew(s),
      onLost: (s, confirmed) => this.onSessionLost(s, confirmed),
    });
    if (this.closing !== undefined) {
      session.closeLocally();
      this.track(this.closeRemotely(session, this.clock.now() + this.settings.closeTimeoutMs));
      throw new GeolockError("CLOSED", "the client was closed while a session was being opened");
    }
    this.sessions.set(region, session);
    this.logger.debug("session opened", { region, sessionId: session.id, ttlMs: session.ttlMs });
    return session;
  }

  private async renew(session: RegionSession): Promise<RenewOutcome> {
    const body = (seq: number): ClientRequestBody => ({ op: "keepAlive", region: session.region, sessionId: session.id, clientId: this.clientId, seq });
    try {
      decodeSessionAnswer(await this.caller.call(body, true, { deadlineMs: session.deadlineMs }), "keptAlive");
      return "extended";
    } catch (error) {
      if (isGeolockError(error, "SESSION_EXPIRED")) return "expired";
      this.logger.debug("keep-alive failed", { region: session.region, sessionId: session.id, error: String(error) });
      return "failed";
    }
  }

  private onSessionLost(session: RegionSession, confirmed: boolean): void {
    if (this.sessions.get(session.region) === session) this.sessions.delete(session.region);
    this.logger.warn("session lost; its locks fired lost", { region: session.region, sessionId: session.id, confirmedByServer: confirmed });
    // The server may still keep it (a partition, a pause): end it, so its locks go sooner than its TTL.
    if (!confirmed && this.closing === undefined) this.track(this.closeRemotely(session, this.clock.now() + Math.min(session.ttlMs, this.settings.requestTimeoutMs)));
  }

  private onSessionExpiredPush(region: string, sessionId: number): void {
    const session = this.sessions.get(region);
    if (session?.id === sessionId) session.expire("was expired by the server", true);
  }

  private async closeRemotely(session: RegionSession, deadlineMs: number): Promise<void> {
    const body = (seq: number): ClientRequestBody => ({ op: "closeSession", region: session.region, sessionId: session.id, clientId: this.clientId, seq });
    await this.caller.call(body, true, { deadlineMs }).catch((error: unknown) => {
      if (!isGeolockError(error, "SESSION_EXPIRED")) this.logger.debug("could not close a session", { sessionId: session.id, error: String(error) });
    });
  }

  private track(task: Promise<void>): void {
    if (this.background.size >= BACKGROUND_TASKS_MAX) return;
    this.background.add(task);
    void task.finally(() => this.background.delete(task));
  }

  private throwIfClosed(): void {
    if (this.closing !== undefined) throw new GeolockError("CLOSED", "the client is closed");
  }
}

function resolveSettings(options: ConnectOptions): Settings {
  const positive = (value: number | undefined, fallback: number, field: string): number => {
    const v = value ?? fallback;
    if (!Number.isSafeInteger(v) || v <= 0) throw new GeolockError("INVALID_ARGUMENT", `${field} must be a positive integer of milliseconds, got ${v}`);
    return v;
  };
  return {
    ttlMs: positive(options.ttlMs, 10_000, "ttlMs"),
    requestTimeoutMs: positive(options.requestTimeoutMs, 10_000, "requestTimeoutMs"),
    closeTimeoutMs: positive(options.closeTimeoutMs, 2_000, "closeTimeoutMs"),
    quorumTimeoutMs: positive(options.quorumTimeoutMs, 3_000, "quorumTimeoutMs"),
    owner: options.owner ?? `${hostname()}:${process.pid}`,
  };
}

/** Global locks are exclusive try-locks (retried while held for waitMs); there is no shared mode. */
function checkGlobalOptions(options: AcquireOptions): void {
  const waitMs = options.waitMs ?? 0;
  if (!Number.isSafeInteger(waitMs) || waitMs < 0) throw new GeolockError("INVALID_ARGUMENT", `waitMs must be a non-negative integer, got ${waitMs}`);
  if ((options.mode ?? "exclusive") !== "exclusive") throw new GeolockError("INVALID_ARGUMENT", "global locks are exclusive only");
}

function checkUrl(url: string): string {
  if (!/^wss?:\/\/[^/]+\/client$/.test(url)) throw new GeolockError("INVALID_ARGUMENT", `endpoint "${url}" must look like ws://host:port/client`);
  return url;
}

function describeHolders(holders: readonly { readonly owner: string; readonly token: number }[], count: number): string {
  const named = holders.map((h) => `${h.owner === "" ? "(no owner)" : h.owner} #${h.token}`).join(", ");
  return count > holders.length ? `${named} and ${count - holders.length} more` : named;
}
