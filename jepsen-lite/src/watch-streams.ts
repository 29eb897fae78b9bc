// Watch streams: what a watcher of a lock was told must be a faithful, ordered account of
// the grants and releases in the history. A watch is a sequence of epochs, each opened by a
// status (the client library starts a fresh one after a lost connection); within an epoch
// the changes follow the log exactly. Judged against the history's grants by token (tokens
// are unique and strictly increase with log order per lock), and by real time only for
// causality, so concurrency never raises a false alarm. Exclusive locks only, as the lock
// model: a record does not say a grant's mode, and a second shared holder would look like
// a grant while held.

import type { History } from "./history.js";
import { decodeGrant } from "./lock-values.js";

/** One thing a watcher was told, as the harness recorded it (`time` in the history's ns). */
export type WatchRecord =
  | {
      readonly watcher: number;
      readonly key: string;
      readonly time: number;
      readonly type: "status";
      readonly index: number;
          /** The current holder's token, or null when free. */
      readonly holderToken: number | null;
      /** Every later grant's token is above this (the holder's token, or a known floor); null if unknown. */
      readonly floor: number | null;
    }
  | { readonly watcher: number; readonly key: string; readonly time: number; readonly type: "acquired" | "released"; readonly index: number; readonly token: number };

export type WatchAnomalyKind =
  /** A change before any status, at or below its status's index, or below the change before it. */
  | "out-of-order"
  /** An exclusive lock acquired while the watcher's view had a holder. */
  | "acquired-while-held"
  /** A release of a token that was not the holder in the watcher's view. */
  | "released-non-holder"
  /** A grant's token not above every token the epoch had seen. */
  | "token-not-increasing"
  /** A grant told before any acquire of the lock (that did not fail) was invoked. */
  | "phantom-grant"
  /** A grant told before the acquire that received it was invoked. */
  | "grant-before-invoke"
  /** A grant of the history that falls between two grants of one epoch but was not told. */
  | "missed-grant";

export interface WatchAnomaly {
  readonly kind: WatchAnomalyKind;
  readonly watcher: number;
  readonly key: string;
  readonly token: number | null;
  readonly index: number | null;
  readonly time: number;
  readonly message: string;
}

export interface WatchStreamReport {
  readonly valid: boolean;
  readonly watchers: number;
  /** Statuses received: each opens an epoch. */
  readonly epochs: number;
  /** Grants and releases received. */
  readonly changes: number;
  readonly anomalies: readonly WatchAnomaly[];
  /** True when more anomalies existed than maxAnomalies. */
  readonly truncated: boolean;
}

interface KeyGrants {
  /** Token of every granted acquire, with its invoke time. */
  readonly granted: Map<number, number>;
  /** The first invoke of an acquire that did not fail: from then on a grant may carry a token the history never saw. */
  firstInvoke: number;
}

interface Epoch {
  readonly watcher: number;
  readonly key: string;
  readonly openedAt: number;
  lastIndex: number;
  /** Whether lastIndex is a change's (else the status's). */
  changed: boolean;
  holder: number | null;
  highest: number | null;
  firstGrant: number | null;
  lastGrant: number | null;
  readonly told: Set<number>;
}

/** Records must be in the order each watcher received them (any interleaving across watchers). */
export function checkWatchStreams(history: History, records: readonly WatchRecord[], maxAnomalies = 100): WatchStreamReport {
  const grants = grantsByKey(history);
  const anomalies: WatchAnomaly[] = [];
  let total = 0;
  const report = (kind: WatchAnomalyKind, at: Pick<WatchAnomaly, "watcher" | "key" | "index" | "time">, token: number | null, message: string): void => {
    total += 1;
    if (anomalies.length < maxAnomalies) anomalies.push({ kind, watcher: at.watcher, key: at.key, token, index: at.index, time: at.time, message });
  };
  const current = new Map<string, Epoch>();
  const closed: Epoch[] = [];
  let epochs = 0;
  let changes = 0;
  for (const record of records) {
    const streamKey = `${record.watcher}\u0000${record.key}`;
    if (record.type === "status") {
      const previous = current.get(streamKey);
      if (previous !== undefined) closed.push(previous);
      current.set(streamKey, { watcher: record.watcher, key: record.key, openedAt: record.time, lastIndex: record.index, changed: false, holder: record.holderToken, highest: record.floor, firstGrant: null, lastGrant: null, told: new Set() });
      epochs += 1;
      continue;
    }
    changes += 1;
    const epoch = current.get(streamKey);
    if (epoch === undefined) {
      report("out-of-order", record, record.token, `${record.type} of token ${record.token} before any status`);
      continue;
    }
    // One log entry carries a batch of commands, so changes may share an index (a release
    // and the grant it hands on); none may share the status's.
    const behind = epoch.changed ? record.index < epoch.lastIndex : record.index <= epoch.lastIndex;
    if (behind) report("out-of-order", record, record.token, `${record.type} at index ${record.index} after ${epoch.changed ? "a change" : "the status"} at index ${epoch.lastIndex}`);
    epoch.lastIndex = Math.max(epoch.lastIndex, record.index);
    epoch.changed = true;
    if (record.type === "released") {
      if (epoch.holder !== record.token) report("released-non-holder", record, record.token, `release of token ${record.token} while the holder was ${describeHolder(epoch.holder)}`);
      epoch.holder = null;
      continue;
    }
    const token = record.token;
    if (epoch.holder !== null) report("acquired-while-held", record, token, `token ${token} granted while token ${epoch.holder} held the lock`);
    if (epoch.highest !== null && token <= epoch.highest) report("token-not-increasing", record, token, `token ${token} granted after token ${epoch.highest}`);
    const keyGrants = grants.get(record.key);
    const invokedAt = keyGrants?.granted.get(token);
    if (invokedAt === undefined) {
      // Not the token of an answered grant. The history cannot pin such a grant to an
      // operation: an acquire of unknown outcome may have got it, and so may an answered
      // one, for the client library replaces a session it believes lost within the call (or
      // after it: the old session's queued wait may be granted before it expires). Only a
      // grant before any acquire of the lock that did not fail was invoked is impossible.
      const firstInvoke = keyGrants?.firstInvoke ?? Number.POSITIVE_INFINITY;
      if (firstInvoke > record.time) report("phantom-grant", record, token, `token ${token} was told before any acquire of ${record.key} that did not fail was invoked`);
    } else if (invokedAt > record.time) {
      report("grant-before-invoke", record, token, `token ${token} was told at ${record.time} ns, before its acquire was invoked at ${invokedAt} ns`);
    }
    epoch.holder = token;
    epoch.highest = Math.max(epoch.highest ?? token, token);
    epoch.firstGrant ??= token;
    epoch.lastGrant = token;
    epoch.told.add(token);
  }
  closed.push(...current.values());
  for (const epoch of closed) {
    const { firstGrant, lastGrant } = epoch;
    if (firstGrant === null || lastGrant === null) continue;
    for (const token of grants.get(epoch.key)?.granted.keys() ?? []) {
      if (token > firstGrant && token < lastGrant && !epoch.told.has(token)) {
        report("missed-grant", { watcher: epoch.watcher, key: epoch.key, index: null, time: epoch.openedAt }, token, `token ${token} was granted between tokens ${firstGrant} and ${lastGrant}, which this epoch told, but not told`);
      }
    }
  }
  return { valid: total === 0, watchers: new Set(records.map((r) => r.watcher)).size, epochs, changes, anomalies, truncated: total > anomalies.length };
}

function describeHolder(token: number | null): string {
  return token === null ? "nobody" : `token ${token}`;
}

function grantsByKey(history: History): Map<string, KeyGrants> {
  const byKey = new Map<string, KeyGrants>();
  for (const op of history.operations) {
    if (op.f !== "acquire" || op.outcome === "fail") continue;
    let entry = byKey.get(op.key);
    if (entry === undefined) byKey.set(op.key, (entry = { granted: new Map(), firstInvoke: op.invokeTime }));
    entry.firstInvoke = Math.min(entry.firstInvoke, op.invokeTime);
    const grant = op.outcome === "ok" ? decodeGrant(op.resultValue) : undefined;
    // A holder asking again gets its token back: the first acquire that got a token is the grant.
    if (grant?.ok === true) entry.granted.set(grant.value.token, Math.min(op.invokeTime, entry.granted.get(grant.value.token) ?? op.invokeTime));
  }
  return byKey;
}
