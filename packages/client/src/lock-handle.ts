// What acquire() hands back: the lock's fencing token and a `lost` AbortSignal. The signal
// is the one idiomatic shape Node code already knows how to pass down (fetch, streams,
// child_process, timers all take a signal), so "stop the work the moment the lock may be
// lost" is one argument away. Once lost, a handle stays lost.

import type { LockMode } from "./decode.js";
import { GeolockError } from "./errors.js";

export type HandleState = "held" | "released" | "lost";

/** What a handle is made from: its identity fields, as declared on the class. */
export type LockHandleInit = Pick<LockHandle, "name" | "mode" | "token" | "sessionId" | "region" | "owner" | "sessionReplaced">;

/** The library's side of a handle: state changes that users must not be able to make. */
export interface HandleControl {
  readonly handle: LockHandle;
  markLost(reason: GeolockError): void;
  markReleased(): void;
}

export class LockHandle {
  readonly name: string;
  readonly mode: LockMode;
  /** The fencing token: pass it to every resource the lock protects; it rejects lower ones. */
  readonly token: number;
  /** The session the lock belongs to; 0 for a global lock, whose lease is its own. */
  readonly sessionId: number;
  /** The region that decides the lock; "global" for a global lock. */
  readonly region: string;
  readonly owner: string;
  /**
   * True when the session this acquire began in ended while the acquire's outcome was
   * unknown, and the lock was then granted in a new session. The first session may have
   * held the lock for a while (status and watches show it, under another token) before its
   * end released it; nothing was ever granted to this handle under that token.
   */
  readonly sessionReplaced: boolean;
  private current: HandleState = "held";
  private lostReason: GeolockError | undefined;
  // Made on first use of `lost`: most handles are released without anyone listening, and an
  // AbortController per grant was a tenth of the client's CPU in a tight acquire/release loop.
  private lostController: AbortController | undefined;
  private releasing: Promise<void> | undefined;

  private constructor(
    init: LockHandleInit,
    private readonly releaser: (handle: LockHandle) => Promise<void>,
    private readonly remaining: () => number,
  ) {
    this.name = init.name;
    this.mode = init.mode;
    this.token = init.token;
    this.sessionId = init.sessionId;
    this.region = init.region;
    this.owner = init.owner;
    this.sessionReplaced = init.sessionReplaced;
  }

  /**
   * Creates a handle and the control the session keeps for it. `onLost` is told once, before
   * the `lost` signal's listeners, if the handle is lost.
   */
  static create(init: LockHandleInit, releaser: (handle: LockHandle) => Promise<void>, remainingMs: () => number, onLost: () => void): HandleControl {
    const handle = new LockHandle(init, releaser, remainingMs);
    return {
      handle,
      markLost: (reason) => {
        if (handle.current !== "held") return;
        handle.current = "lost";
        handle.lostReason = reason;
        onLost();
        handle.lostController?.abort(reason);
      },
      markReleased: () => {
        if (handle.current === "held") handle.current = "released";
      },
    };
  }

  /** Aborts the moment the lock may no longer be held; `lost.reason` is a GeolockError (LOCK_LOST or CLOSED). */
  get lost(): AbortSignal {
    if (this.lostController === undefined) {
      this.lostController = new AbortController();
      if (this.lostReason !== undefined) this.lostController.abort(this.lostReason);
    }
    return this.lostController.signal;
  }

  get state(): HandleState {
    return this.current;
  }

  /** How long the lock is known to be held at least (client clock, conservative); 0 once lost or released. */
  remainingMs(): number {
    return this.current === "held" ? Math.max(0, this.remaining()) : 0;
  }

  /** Throws the reason the lock was lost, if it was. */
  throwIfLost(): void {
    if (this.lostReason !== undefined) throw this.lostReason;
  }

  /**
   * Releases the lock. Idempotent once released. Rejects with LOCK_LOST (or CLOSED) if the
   * lock was lost before the release took effect: the protected work may have overlapped
   * with another holder's.
   */
  release(): Promise<void> {
    if (this.current === "released") return Promise.resolve();
    if (this.lostReason !== undefined) return Promise.reject(this.lostReason);
    this.releasing ??= this.releaser(this).finally(() => (this.releasing = undefined));
    return this.releasing;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, mode: this.mode, token: this.token, sessionId: this.sessionId, region: this.region, owner: this.owner, sessionReplaced: this.sessionReplaced, state: this.current };
  }
}

export function lostError(handle: LockHandle, why: string): GeolockError {
  return new GeolockError("LOCK_LOST", `${handle.name} (token ${handle.token}) ${why}`);
}
