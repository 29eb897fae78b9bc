// Who watches which lock on this node, and the pushes they get. Every replica applies the
// same log, so any node of a region can serve watches of its locks: the lock service tells
// this table of each grant and release as it applies them, with the entry's index, and the
// table pushes them to the connections that watch the name, in log order. Global locks are
// applied by every node of every region, so any node serves their watches: the global
// service tells of their changes with the key's Paxos instance as the index.
// Watches are this node's memory, not replicated: a connection that closes ends its watches,
// and a restored snapshot (which skips entries) ends them with watchEnded.

import { RequestError, type ClientPush, type GlobalHolderWire, type ReleaseReasonWire } from "@geolock/transport";

/** Where a watch's pushes go: one client connection. */
export interface WatchSink {
  push(message: ClientPush): void;
}

export interface LockWatchLimits {
  /** Watches one connection may hold at once; more are refused with OVERLOADED. */
  readonly watchesPerConnectionMax: number;
  /** Watches this node holds over all connections. */
  readonly watchesMax: number;
}

export const DEFAULT_WATCH_LIMITS: LockWatchLimits = { watchesPerConnectionMax: 1_024, watchesMax: 100_000 };

/** A holder as a watch event names it. */
export interface WatchedHolder {
  readonly sessionId: number;
  readonly owner: string;
  readonly mode: "exclusive" | "shared";
  readonly token: number;
}

interface Watch {
  readonly sink: WatchSink;
  readonly watchId: number;
  readonly name: string;
}

interface WatchedName {
  readonly watches: Set<Watch>;
  /**
   * The newest token announced as acquired, or granted anywhere when the first watch began:
   * a retried acquire is answered "granted" again with its old token, which is no new grant.
   */
  lastToken: number;
}

export class LockWatches {
  private readonly byName = new Map<string, WatchedName>();
  private readonly bySink = new Map<WatchSink, Map<number, Watch>>();
  private count = 0;

  constructor(private readonly limits: LockWatchLimits = DEFAULT_WATCH_LIMITS) {}

  /** Whether anyone watches `name`: the lock service asks before it builds an event. */
  watching(name: string): boolean {
    return this.byName.has(name);
  }

  get size(): number {
    return this.count;
  }

  /**
   * Starts a watch; `currentToken` is the newest token granted on any lock as applied now, so
   * that only grants after it are announced. A watchId already in use on the sink replaces
   * that watch. Throws OVERLOADED at a limit.
   */
  watch(sink: WatchSink, watchId: number, name: string, currentToken: number): void {
    this.unwatch(sink, watchId);
    // Read after the unwatch: ending the sink's last watch drops its map.
    let watches = this.bySink.get(sink);
    if ((watches?.size ?? 0) >= this.limits.watchesPerConnectionMax) {
      throw new RequestError("OVERLOADED", `a connection may hold ${this.limits.watchesPerConnectionMax} watches`);
    }
    if (this.count >= this.limits.watchesMax) throw new RequestError("OVERLOADED", `this node holds ${this.limits.watchesMax} watches, its limit`);
    if (watches === undefined) this.bySink.set(sink, (watches = new Map()));
    const watch: Watch = { sink, watchId, name };
    watches.set(watchId, watch);
    let watched = this.byName.get(name);
    if (watched === undefined) this.byName.set(name, (watched = { watches: new Set(), lastToken: currentToken }));
    watched.watches.add(watch);
    this.count += 1;
  }

  /** Ends one watch; false if the sink had none by that id. */
  unwatch(sink: WatchSink, watchId: number): boolean {
    const watches = this.bySink.get(sink);
    const watch = watches?.get(watchId);
    if (watches === undefined || watch === undefined) return false;
    watches.delete(watchId);
    if (watches.size === 0) this.bySink.delete(sink);
    this.forget(watch);
    return true;
  }

  /** Ends every watch of a connection that closed (no push: nobody is there to read it). */
  dropSink(sink: WatchSink): void {
    const watches = this.bySink.get(sink);
    if (watches === undefined) return;
    this.bySink.delete(sink);
    for (const watch of watches.values()) this.forget(watch);
  }

  /** Ends the watches of one name with a watchEnded push, e.g. when its state was installed past skipped changes. */
  endName(name: string, reason: string): void {
    const watched = this.byName.get(name);
    if (watched === undefined) return;
    for (const watch of [...watched.watches]) {
      watch.sink.push({ push: "watchEnded", watchId: watch.watchId, name, reason });
      this.unwatch(watch.sink, watch.watchId);
    }
  }

  /** Ends every watch with a watchEnded push, e.g. when a snapshot replaced the state. */
  endAll(reason: string): void {
    for (const watches of this.bySink.values()) {
      for (const watch of watches.values()) watch.sink.push({ push: "watchEnded", watchId: watch.watchId, name: watch.name, reason });
    }
    this.bySink.clear();
    this.byName.clear();
    this.count = 0;
  }

  /** A grant applied at `index`; a token not above the last one announced is a repeated answer and says nothing new. */
  acquired(index: number, name: string, holder: WatchedHolder): void {
    const watched = this.byName.get(name);
    if (watched === undefined || holder.token <= watched.lastToken) return;
    watched.lastToken = holder.token;
    this.tell(watched, index, name, holder, undefined);
  }

  /** A holder gone at `index`: released, its session closed, or its session expired. */
  released(index: number, name: string, holder: WatchedHolder, reason: ReleaseReasonWire): void {
    const watched = this.byName.get(name);
    if (watched !== undefined) this.tell(watched, index, name, holder, reason);
  }

  /** A grant or release of a global key at its instance `index`; a grant at or below the last announced token is a repeat. */
  globalChanged(index: number, name: string, holder: GlobalHolderWire, token: number, reason: "released" | "expired" | undefined): void {
    const watched = this.byName.get(name);
    if (watched === undefined) return;
    if (reason === undefined) {
      if (token <= watched.lastToken) return;
      watched.lastToken = token;
    }
    for (const watch of watched.watches) {
      const change = { push: "globalLockChanged", watchId: watch.watchId, name, index, holder, token } as const;
      watch.sink.push(reason === undefined ? { ...change, change: "acquired" } : { ...change, change: "released", reason });
    }
  }

  /** One lockChanged push per watch of the name: a release when `reason` is given, else a grant. */
  private tell(watched: WatchedName, index: number, name: string, holder: WatchedHolder, reason: ReleaseReasonWire | undefined): void {
    const { sessionId, owner, mode, token } = holder;
    for (const watch of watched.watches) {
      const change = { push: "lockChanged", watchId: watch.watchId, name, index, sessionId, owner, mode, token } as const;
      watch.sink.push(reason === undefined ? { ...change, change: "acquired" } : { ...change, change: "released", reason });
    }
  }

  private forget(watch: Watch): void {
    const watched = this.byName.get(watch.name);
    if (watched === undefined || !watched.watches.delete(watch)) {
      throw new Error(`lock watches: watch ${watch.watchId} of ${watch.name} is indexed by its connection but not by its name`);
    }
    if (watched.watches.size === 0) this.byName.delete(watch.name);
    this.count -= 1;
  }
}
