// The history as the harness records it: events from every worker, each under its current
// history process id, merged in real-time order at the end (every stamp comes from the
// machine-wide monotonic clock, so sorting by time is real-time order).
//
// Two rules make the record honest about leases (README, "History recording"):
// - When a holder's `lost` signal fires, the lease may have ended at the client's
//   conservative deadline (the latest the worker sampled), not only when the signal got to
//   run: the info `release {session, token}` the lock model expects is stamped at that
//   deadline, the holder's process ends, and the worker carries on under a fresh id.
// - A write that reaches the resource after its sender's own deadline (the sender was
//   paused between deciding to write and the write arriving) ends the lease the same way
//   first: it is a zombie write, outside any critical section, and the resource must
//   reject it if a newer holder wrote meanwhile.

import type { HistoryEvent } from "../history.js";
import { isJsonObject, isNonNegativeSafeInteger, type JsonValue } from "../json.js";
import type { FromWorker } from "./protocol.js";

interface Holding {
  readonly lock: string;
  readonly token: number;
  readonly session: string;
  /** The latest conservative deadline the worker reported for this lease; null: unknown (the unsafe target has none). */
  validUntil: number | null;
}

interface Slot {
  pid: number;
  lastTime: number;
  open: { readonly f: string; readonly key: string } | null;
  holding: Holding | null;
}

type Msg<T extends FromWorker["t"]> = Extract<FromWorker, { t: T }>;

/** The history key of the guarded resource of a lock. */
export function resourceKey(lock: string): string {
  return `resource:${lock}`;
}

export class HistoryRecorder {
  private readonly events: HistoryEvent[] = [];
  private readonly slots = new Map<number, Slot>();
  private nextPid = 0;

  constructor(private readonly maxEvents: number) {}

  /** True once the history is big enough that the workload should stop. */
  get full(): boolean {
    return this.events.length >= this.maxEvents;
  }

  get size(): number {
    return this.events.length;
  }

  /** A fresh history process id (the harness's own final reads use one each). */
  newProcess(): number {
    return this.nextPid++;
  }

  /** Worker slots that hold a lock now, as far as the history says. */
  holders(): number[] {
    return [...this.slots].filter(([, s]) => s.holding !== null).map(([index]) => index);
  }

  /** Appends an event of the harness itself (final reads). */
  push(event: HistoryEvent): void {
    this.events.push(event);
  }

  invoke(index: number, m: Msg<"invoke">): void {
    const slot = this.slot(index);
    if (slot.open !== null) throw new Error(`worker ${index} invoked ${m.f} on ${m.key} while its ${slot.open.f} on ${slot.open.key} is open`);
    this.noteDeadline(slot, m.validUntil);
    if (this.pastDeadline(slot, m.time)) this.endLease(slot, m.time);
    this.add(slot, { process: slot.pid, type: "invoke", f: m.f, key: m.key, value: m.value, time: m.time });
    slot.open = { f: m.f, key: m.key };
    // A critical section ends at the release's invoke, whatever its outcome.
    if (m.f === "release" && slot.holding?.lock === m.key) slot.holding = null;
  }

  complete(index: number, m: Msg<"complete">): void {
    const slot = this.slot(index);
    if (slot.open === null || slot.open.f !== m.f || slot.open.key !== m.key) throw new Error(`worker ${index} completed ${m.f} on ${m.key} with ${JSON.stringify(slot.open)} open`);
    const time = Math.max(m.time, slot.lastTime);
    this.add(slot, { process: slot.pid, type: m.type, f: m.f, key: m.key, value: m.value, time, ...(m.error === null ? {} : { error: m.error }) });
    slot.open = null;
    if (m.f === "acquire" && m.type === "ok") slot.holding = grantOf(m.key, m.value);
    // After an unknown outcome a process is never used again (the history format's rule).
    if (m.type === "info") this.retire(slot);
  }

  /**
   * Records a write the resource decided at `time`. `late`: it came after its sender's lease
   * may have ended (a zombie write, or one in flight when `lost` fired).
   */
  write(index: number, m: Msg<"write">, time: number, accepted: boolean): { readonly process: number; readonly late: boolean } {
    const slot = this.slot(index);
    if (slot.open !== null) throw new Error(`worker ${index} wrote while its ${slot.open.f} on ${slot.open.key} is open`);
    this.noteDeadline(slot, m.validUntil);
    const zombie = m.validUntil !== null && time > m.validUntil;
    const late = zombie || slot.holding?.lock !== m.lock || this.pastDeadline(slot, time);
    if (late) this.endLease(slot, time);
    const key = resourceKey(m.lock);
    const value = { token: m.token, lock: m.lock };
    this.add(slot, { process: slot.pid, type: "invoke", f: "write", key, value, time });
    this.add(slot, { process: slot.pid, type: accepted ? "ok" : "fail", f: "write", key, value, time, ...(accepted ? {} : { error: "STALE_TOKEN" }) });
    return { process: slot.pid, late };
  }

  lost(index: number, m: Msg<"lost">): void {
    const slot = this.slot(index);
    if (slot.holding?.lock !== m.lock || slot.holding.token !== m.token || slot.open !== null) return;
    this.noteDeadline(slot, m.validUntil);
    this.endLease(slot, m.time);
  }

  /**
   * After an acquire that ended unknown, the lock may be held by the worker's client until
   * it withdraws the grant or its session ends (the worker then replaces the client): an
   * info release of that holder, from a one-off process, says the service may free it from
   * the acquire's invoke on (`m.time`), for the client may end that session during the call.
   */
  maybeHeld(m: Msg<"maybe-held">): void {
    this.oneOff("release", m.lock, m.session, m.time);
  }

  /**
   * A granted acquire whose first session ended with the outcome unknown, so the client went
   * on in a new one (the handle's sessionReplaced): the first session may have been granted
   * the lock, and freed it when it ended, all within the call. Nothing in the worker's own
   * record says so, and a status read in between would see that grant: an info acquire and
   * an info release of the holder, each from a one-off process invoked at the acquire's
   * invoke, let the model place it (seed 211).
   */
  maybeGranted(m: Msg<"maybe-granted">): void {
    this.oneOff("acquire", m.lock, m.session, m.time);
    this.oneOff("release", m.lock, m.session, m.time);
  }

  /** An operation of unknown outcome by `session`'s holder, from a process of its own. */
  private oneOff(f: "acquire" | "release", lock: string, session: string, time: number): void {
    const pid = this.newProcess();
    const value = { session };
    // An info acquire completes with no value (its grant is unknown); a release repeats its request.
    this.events.push({ process: pid, type: "invoke", f, key: lock, value, time }, { process: pid, type: "info", f, key: lock, value: f === "acquire" ? null : value, time });
  }

  /** The events in real-time order (stable: a process's own events keep their order). */
  sorted(): HistoryEvent[] {
    return [...this.events].sort((a, b) => a.time - b.time);
  }

  private slot(index: number): Slot {
    let slot = this.slots.get(index);
    if (slot === undefined) {
      slot = { pid: this.newProcess(), lastTime: 0, open: null, holding: null };
      this.slots.set(index, slot);
    }
    return slot;
  }

  private noteDeadline(slot: Slot, validUntil: number | null): void {
    const h = slot.holding;
    if (h !== null && validUntil !== null) h.validUntil = Math.max(h.validUntil ?? 0, validUntil);
  }

  private pastDeadline(slot: Slot, time: number): boolean {
    const v = slot.holding?.validUntil;
    return v !== undefined && v !== null && time > v;
  }

  /** Ends the held lease with an info release at its deadline (no later than `atMost`) and retires the process. */
  private endLease(slot: Slot, atMost: number): void {
    const h = slot.holding;
    if (h === null) return;
    const time = Math.max(slot.lastTime, Math.min(h.validUntil ?? atMost, atMost));
    const value = { session: h.session, token: h.token };
    this.add(slot, { process: slot.pid, type: "invoke", f: "release", key: h.lock, value, time });
    this.add(slot, { process: slot.pid, type: "info", f: "release", key: h.lock, value, time, error: "LEASE_MAY_HAVE_ENDED" });
    slot.holding = null;
    this.retire(slot);
  }

  private retire(slot: Slot): void {
    slot.pid = this.newProcess();
    slot.holding = null;
  }

  private add(slot: Slot, event: HistoryEvent): void {
    this.events.push(event);
    slot.lastTime = Math.max(slot.lastTime, event.time);
  }
}

function grantOf(lock: string, value: JsonValue): Holding {
  if (!isJsonObject(value) || !isNonNegativeSafeInteger(value["token"]) || typeof value["session"] !== "string") {
    throw new Error(`a granted acquire of ${lock} must complete with {token, session}, got ${JSON.stringify(value)}`);
  }
  return { lock, token: value["token"], session: value["session"], validUntil: null };
}
