// Seeded, linearizable-by-construction histories of a cas-register and of geolock-style
// locks (with fencing writes and lease expiry), built on the simulation in simulation.ts.

import type { HistoryEvent } from "./history.js";
import type { JsonValue } from "./json.js";
import { simulate, type GenerateOptions, type Pending, type Recorder, type System } from "./simulation.js";

/** cas-register histories: read, write, cas over small integer values so that cas often matches. */
export function generateRegisterHistory(options: GenerateOptions): HistoryEvent[] {
  const registers = new Map<string, JsonValue>();
  const system: System = {
    invoke(_process, rng) {
      const key = `r${rng.int(options.keys)}`;
      const roll = rng.int(10);
      if (roll < 4) return { f: "read", key, value: null, apply: () => ({ type: "ok", value: registers.get(key) ?? null }) };
      if (roll < 8) {
        const value = rng.int(5);
        return { f: "write", key, value, apply: () => (registers.set(key, value), { type: "ok", value }) };
      }
      const from = rng.int(5);
      const to = rng.int(5);
      const cas = (): { type: "ok" | "fail"; value: JsonValue } => {
        if (registers.get(key) !== from) return { type: "fail", value: null };
        registers.set(key, to);
        return { type: "ok", value: null };
      };
      return { f: "cas", key, value: [from, to], apply: cas };
    },
    completed: () => undefined,
    crashed: () => undefined,
  };
  return simulate(options, system);
}

interface LockRecord {
  holder: { readonly session: string; readonly token: number } | null;
  lastToken: number;
  /** The guarded resource named like the lock: the highest token it accepted. */
  acceptedToken: number;
}

/**
 * Lock histories as the harness will record them: try-lock acquire, release, status, and
 * writes to a guarded resource (key = lock name) that rejects tokens below the highest it
 * accepted. When a process crashes, its session may still hold locks: the harness records
 * an info release of that session for each lock it may hold (from a fresh process), and
 * the session expires at some later moment, freeing them.
 */
export function generateLockHistory(options: GenerateOptions): HistoryEvent[] {
  const locks = new Map<string, LockRecord>();
  const expired = new Set<string>();
  const holdings = new Map<number, Map<string, number>>();
  const lockOf = (key: string): LockRecord => {
    const existing = locks.get(key);
    if (existing !== undefined) return existing;
    const created: LockRecord = { holder: null, lastToken: 0, acceptedToken: 0 };
    locks.set(key, created);
    return created;
  };
  const session = (process: number): string => `s${process}`;

  const acquire = (key: string, s: string) => (): { type: "ok" | "fail"; value: JsonValue } => {
    const lock = lockOf(key);
    if (lock.holder !== null || expired.has(s)) return { type: "fail", value: null };
    lock.lastToken++;
    lock.holder = { session: s, token: lock.lastToken };
    return { type: "ok", value: { token: lock.lastToken, session: s } };
  };
  const release = (key: string, s: string, token: number) => (): { type: "ok" | "fail"; value: JsonValue } => {
    const lock = lockOf(key);
    if (lock.holder?.session !== s || lock.holder.token !== token) return { type: "fail", value: null };
    lock.holder = null;
    return { type: "ok", value: null };
  };
  const write = (key: string, token: number) => (): { type: "ok" | "fail"; value: JsonValue } => {
    const lock = lockOf(key);
    if (token < lock.acceptedToken) return { type: "fail", value: null };
    lock.acceptedToken = token;
    return { type: "ok", value: null };
  };
  const status = (key: string) => (): { type: "ok" | "fail"; value: JsonValue } => {
    const holder = lockOf(key).holder;
    return { type: "ok", value: { holder: holder?.session ?? null, token: holder?.token ?? null } };
  };

  const system: System = {
    invoke(process, rng) {
      const key = `l${rng.int(options.keys)}`;
      const s = session(process);
      const token = holdings.get(process)?.get(key);
      const roll = rng.int(10);
      if (token === undefined) {
        if (roll < 7) return { f: "acquire", key, value: { session: s }, apply: acquire(key, s) };
        return { f: "status", key, value: null, apply: status(key) };
      }
      if (roll < 4) return { f: "release", key, value: { session: s, token }, apply: release(key, s, token) };
      if (roll < 8) return { f: "write", key, value: { token }, apply: write(key, token) };
      return { f: "status", key, value: null, apply: status(key) };
    },
    completed(pending: Pending) {
      const mine = holdings.get(pending.process) ?? new Map<string, number>();
      holdings.set(pending.process, mine);
      const result = pending.result;
      if (pending.f === "acquire" && result?.type === "ok") mine.set(pending.key, (result.value as { token: number }).token);
      if (pending.f === "release") mine.delete(pending.key);
    },
    crashed(process: number, pending: Pending, recorder: Recorder) {
      const s = session(process);
      const mayHold = new Set(holdings.get(process)?.keys() ?? []);
      if (pending.f === "acquire") mayHold.add(pending.key);
      for (const key of mayHold) {
        const reporter = recorder.freshProcess();
        recorder.record(reporter, "invoke", "release", key, { session: s });
        recorder.record(reporter, "info", "release", key, null);
      }
      holdings.delete(process);
      recorder.zombies.push({ effect: () => expire(s), mayVanish: false });
    },
  };
  const expire = (s: string): void => {
    expired.add(s);
    for (const lock of locks.values()) if (lock.holder?.session === s) lock.holder = null;
  };
  return simulate(options, system);
}

export { SeededRng, type GenerateOptions } from "./simulation.js";
