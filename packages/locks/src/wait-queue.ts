// The FIFO queue of sessions waiting for one lock name. Order is arrival order and nothing
// overtakes: a shared request behind a queued exclusive one waits too (no barging), which
// is what keeps a stream of readers from starving a writer. The state machine bounds the
// length (waitersPerLockMax), so the linear scans here are bounded too.

import type { LockMode, SessionId } from "./types.js";

export interface Waiter {
  readonly sessionId: SessionId;
  readonly owner: string;
  readonly mode: LockMode;
  /** The wait times out once the clock reaches it (state clock, ms). */
  deadlineMs: number;
  /** State clock when the wait began; only for status (how long it has waited). */
  sinceMs: number;
}

export class WaitQueue {
  private readonly waiters: Waiter[] = [];

  get length(): number {
    return this.waiters.length;
  }

  head(): Waiter | undefined {
    return this.waiters[0];
  }

  /** Removes and returns the head; the queue must not be empty. */
  shift(): Waiter | undefined {
    return this.waiters.shift();
  }

  push(waiter: Waiter): void {
    this.waiters.push(waiter);
  }

  /** 1-based position of the session's wait, or 0 if it does not wait here. */
  position(sessionId: SessionId): number {
    return this.waiters.findIndex((w) => w.sessionId === sessionId) + 1;
  }

  find(sessionId: SessionId): Waiter | undefined {
    return this.waiters.find((w) => w.sessionId === sessionId);
  }

  remove(sessionId: SessionId): Waiter | undefined {
    const at = this.waiters.findIndex((w) => w.sessionId === sessionId);
    return at < 0 ? undefined : this.waiters.splice(at, 1)[0];
  }

  /** Removes, in queue order, every wait whose deadline is at or before nowMs. */
  removeDue(nowMs: number): Waiter[] {
    const due = this.waiters.filter((w) => w.deadlineMs <= nowMs);
    if (due.length > 0) {
      const kept = this.waiters.filter((w) => w.deadlineMs > nowMs);
      this.waiters.splice(0, this.waiters.length, ...kept);
    }
    return due;
  }

  earliestDeadlineMs(): number {
    let earliest = Number.POSITIVE_INFINITY;
    for (const w of this.waiters) earliest = Math.min(earliest, w.deadlineMs);
    return earliest;
  }

  /** Moves every timestamp by deltaMs: remaining and elapsed times are kept. */
  shiftTimes(deltaMs: number): void {
    for (const w of this.waiters) {
      w.deadlineMs += deltaMs;
      w.sinceMs += deltaMs;
    }
  }

  toArray(): readonly Waiter[] {
    return this.waiters;
  }
}
