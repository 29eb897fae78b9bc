// Messages between the harness and its client worker processes (Node IPC, JSON). Workers
// stamp their own events: process.hrtime is CLOCK_MONOTONIC, one clock for every process
// on the machine, so a stamp taken in a worker orders correctly against one taken here,
// and no IPC delay ever shifts an invoke later than it really was. Everything a worker
// sends is decoded and checked before the harness uses it.

import { isJsonObject, type JsonObject, type JsonValue } from "../json.js";
import type { Target } from "./options.js";

export interface WorkerConfig {
  readonly index: number;
  readonly target: Target;
  readonly endpoints: readonly string[];
  /** The worker's home region: its client tries that region's nodes first. */
  readonly region: string;
  readonly keys: readonly string[];
  readonly seed: number;
  readonly ttlMs: number;
  /** process.hrtime.bigint() of the harness at the run's start, as a decimal string. */
  readonly originNs: string;
}

export type ToWorker =
  | { readonly t: "start"; readonly config: WorkerConfig }
  | { readonly t: "write-result"; readonly id: number; readonly accepted: boolean }
  | { readonly t: "stop" };

export type Completion = "ok" | "fail" | "info";

export type FromWorker =
  | { readonly t: "invoke"; readonly f: string; readonly key: string; readonly value: JsonValue; readonly time: number; readonly validUntil: number | null }
  | { readonly t: "complete"; readonly type: Completion; readonly f: string; readonly key: string; readonly value: JsonValue; readonly error: string | null; readonly time: number }
  /** A fenced write to the guarded resource of `lock`, while the worker holds it. */
  | { readonly t: "write"; readonly id: number; readonly lock: string; readonly token: number; readonly validUntil: number | null }
  /** The held lock's `lost` signal fired: the lease may be over since validUntil. */
  | { readonly t: "lost"; readonly lock: string; readonly session: string; readonly token: number; readonly validUntil: number | null; readonly time: number }
  /** An acquire ended unknown: the lock may be held by this worker's session until it ends. */
  | { readonly t: "maybe-held"; readonly lock: string; readonly session: string; readonly time: number }
  /** A granted acquire went on in a new session: its first one may have held the lock and freed it. */
  | { readonly t: "maybe-granted"; readonly lock: string; readonly session: string; readonly time: number }
  | { readonly t: "done" };

/** Nanoseconds since the harness's origin, on the machine-wide monotonic clock. */
export function clockNs(originNs: bigint): number {
  return Number(process.hrtime.bigint() - originNs);
}

const NAME_MAX = 256;

function str(o: JsonObject, field: string): string | null {
  const v = o[field];
  return typeof v === "string" && v.length <= NAME_MAX ? v : null;
}

function nat(o: JsonObject, field: string): number | null {
  const v = o[field];
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : null;
}

/** A natural number, or null when the field is null (an unknown deadline); undefined if invalid. */
function optionalNat(o: JsonObject, field: string): number | null | undefined {
  return o[field] === null ? null : (nat(o, field) ?? undefined);
}

function decodeMaybe(o: JsonObject, t: "maybe-held" | "maybe-granted"): FromWorker | null {
  const lock = str(o, "lock");
  const session = str(o, "session");
  const time = nat(o, "time");
  return lock === null || session === null || time === null ? null : { t, lock, session, time };
}

/** Decodes one message from a worker; null when it is not a valid one. */
export function decodeFromWorker(raw: unknown): FromWorker | null {
  if (!isJsonObject(raw as JsonValue)) return null;
  const o = raw as JsonObject;
  switch (o["t"]) {
    case "invoke":
      return decodeInvoke(o);
    case "complete":
      return decodeComplete(o);
    case "write":
      return decodeWrite(o);
    case "lost":
      return decodeLost(o);
    case "maybe-held":
      return decodeMaybe(o, "maybe-held");
    case "maybe-granted":
      return decodeMaybe(o, "maybe-granted");
    case "done":
      return { t: "done" };
    default:
      return null;
  }
}

function decodeInvoke(o: JsonObject): FromWorker | null {
  const f = str(o, "f");
  const key = str(o, "key");
  const time = nat(o, "time");
  const validUntil = optionalNat(o, "validUntil");
  if (f === null || key === null || time === null || validUntil === undefined) return null;
  return { t: "invoke", f, key, value: o["value"] ?? null, time, validUntil };
}

function decodeComplete(o: JsonObject): FromWorker | null {
  const f = str(o, "f");
  const key = str(o, "key");
  const time = nat(o, "time");
  const type = o["type"];
  const error = o["error"] === null ? null : str(o, "error");
  if (f === null || key === null || time === null || (type !== "ok" && type !== "fail" && type !== "info")) return null;
  if (error === null && o["error"] !== null) return null;
  return { t: "complete", type, f, key, value: o["value"] ?? null, error, time };
}

function decodeWrite(o: JsonObject): FromWorker | null {
  const id = nat(o, "id");
  const lock = str(o, "lock");
  const token = nat(o, "token");
  const validUntil = optionalNat(o, "validUntil");
  if (id === null || lock === null || token === null || validUntil === undefined) return null;
  return { t: "write", id, lock, token, validUntil };
}

function decodeLost(o: JsonObject): FromWorker | null {
  const lock = str(o, "lock");
  const session = str(o, "session");
  const token = nat(o, "token");
  const time = nat(o, "time");
  const validUntil = optionalNat(o, "validUntil");
  if (lock === null || session === null || token === null || time === null || validUntil === undefined) return null;
  return { t: "lost", lock, session, token, validUntil, time };
}
