// Fencing: a guarded resource must never accept a stale token, and a lock must never hand
// out a token that is not larger than one it granted before. Both are judged by real-time
// order only, so concurrent operations are never blamed (no false alarms).

import type { History, HistoryError, Operation } from "./history.js";
import type { Result } from "./json.js";
import { decodeFencedWrite, decodeGrant } from "./lock-values.js";

export type FencingAnomalyKind =
  /** The resource accepted a write whose token is below one it had accepted before the write began. */
  | "stale-token-accepted"
  /** A grant's token is not above a grant of the same lock that completed before it began. */
  | "token-not-increasing"
  /** Two grants of the same lock carry the same token. */
  | "duplicate-token";

export interface FencingAnomaly {
  readonly kind: FencingAnomalyKind;
  /** The lock name (grants) or resource key (writes). */
  readonly key: string;
  /** The later operation, the one at fault. */
  readonly op: Operation;
  readonly token: number;
  /** The earlier operation it conflicts with, and its token. */
  readonly earlier: Operation;
  readonly earlierToken: number;
}

export interface FencingReport {
  readonly valid: boolean;
  readonly anomalies: readonly FencingAnomaly[];
  /** True when more anomalies existed than maxAnomalies. */
  readonly truncated: boolean;
  readonly grants: number;
  readonly writes: number;
}

export interface FencingOptions {
  readonly maxAnomalies?: number;
  /** The function name of writes to guarded resources. */
  readonly writeF?: string;
}

interface Tokened {
  readonly op: Operation;
  readonly token: number;
  /** A grant's session, when the history names it. */
  readonly session: string | null;
  /** Group: lock name for grants; resource and lock for writes. */
  readonly group: string;
  readonly kind: "grant" | "write";
}

/** Highest token per group among completed (ok) grants or accepted writes. */
type Highest = Map<string, { readonly op: Operation; readonly token: number; readonly session: string | null }>;

/** The same session granted the same token again: its holder asked again and got its grant back (not a new grant). */
function regrant(t: Tokened, earlier: { readonly token: number; readonly session: string | null }): boolean {
  return t.kind === "grant" && t.session !== null && t.session === earlier.session && t.token === earlier.token;
}

export function checkFencing(history: History, options: FencingOptions = {}): Result<FencingReport, HistoryError[]> {
  const decoded = decodeTokened(history, options.writeF ?? "write");
  if (!decoded.ok) return decoded;
  const maxAnomalies = options.maxAnomalies ?? 100;
  const anomalies: FencingAnomaly[] = [];
  let total = 0;
  const report = (anomaly: FencingAnomaly): void => {
    total++;
    if (anomalies.length < maxAnomalies) anomalies.push(anomaly);
  };
  const highest: Highest = new Map();
  // The highest token completed before each operation began, captured at its invoke.
  const floorAtInvoke = new Map<Operation, { readonly op: Operation; readonly token: number; readonly session: string | null }>();
  const grantsByToken = new Map<string, Tokened>();
  for (const moment of moments(history, decoded.value)) {
    const t = moment.item;
    if (moment.invoke) {
      const floor = highest.get(t.group);
      if (floor !== undefined) floorAtInvoke.set(t.op, floor);
      continue;
    }
    const floor = floorAtInvoke.get(t.op);
    const stale = floor !== undefined && !regrant(t, floor) && (t.kind === "grant" ? t.token <= floor.token : t.token < floor.token);
    if (stale) report({ kind: t.kind === "grant" ? "token-not-increasing" : "stale-token-accepted", key: t.op.key, op: t.op, token: t.token, earlier: floor.op, earlierToken: floor.token });
    if (t.kind === "grant") {
      const tokenKey = `${t.group}\u0000${t.token}`;
      const twin = grantsByToken.get(tokenKey);
      if (twin !== undefined && !stale && !regrant(t, twin)) report({ kind: "duplicate-token", key: t.op.key, op: t.op, token: t.token, earlier: twin.op, earlierToken: t.token });
      if (twin === undefined) grantsByToken.set(tokenKey, t);
    }
    const current = highest.get(t.group);
    if (current === undefined || t.token > current.token) highest.set(t.group, { op: t.op, token: t.token, session: t.session });
  }
  const grants = decoded.value.filter((t) => t.kind === "grant").length;
  return { ok: true, value: { valid: total === 0, anomalies, truncated: total > anomalies.length, grants, writes: decoded.value.length - grants } };
}

/** Granted acquires and accepted writes, with their tokens; other operations say nothing here. */
function decodeTokened(history: History, writeF: string): Result<Tokened[], HistoryError[]> {
  const errors: HistoryError[] = [];
  const items: Tokened[] = [];
  for (const op of history.operations) {
    if (op.outcome !== "ok" || (op.f !== "acquire" && op.f !== writeF)) continue;
    if (op.f === "acquire") {
      const grant = decodeGrant(op.resultValue);
      if (grant.ok) items.push({ op, token: grant.value.token, session: grant.value.session, group: op.key, kind: "grant" });
      else errors.push({ line: op.completeLine ?? op.invokeLine, message: grant.error });
    } else {
      const write = decodeFencedWrite(op.invokeValue);
      if (write.ok) items.push({ op, token: write.value.token, session: null, group: `${op.key}\u0000${write.value.lock ?? op.key}`, kind: "write" });
      else errors.push({ line: op.invokeLine, message: write.error });
    }
    if (errors.length >= 20) break;
  }
  return errors.length > 0 ? { ok: false, error: errors } : { ok: true, value: items };
}

/** Invokes and completions of the items, in real-time (event) order. */
function* moments(history: History, items: readonly Tokened[]): Generator<{ readonly item: Tokened; readonly invoke: boolean }> {
  const at: ({ readonly item: Tokened; readonly invoke: boolean } | undefined)[] = new Array<undefined>(history.events.length);
  for (const item of items) {
    const complete = item.op.completeIndex;
    if (complete === null) throw new Error(`ok operation ${item.op.id} has no completion`);
    at[item.op.invokeIndex] = { item, invoke: true };
    at[complete] = { item, invoke: false };
  }
  for (const moment of at) if (moment !== undefined) yield moment;
}
