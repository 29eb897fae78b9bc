// Linearizability of a whole history: decode every operation with the model, split the
// history by key (keys are independent objects, so a history is linearizable exactly when
// each key's sub-history is, as Porcupine's partitioning uses), and search each key.

import type { History, HistoryError, Operation } from "./history.js";
import type { Result } from "./json.js";
import type { Model } from "./model.js";
import { searchLinearization, type SearchOp, type SearchResult, type SearchStop } from "./search.js";

export interface LinearizabilityOptions {
  /** Wall-clock budget for the whole history, in milliseconds; keys left over are unknown. */
  readonly timeLimitMs?: number;
  /** Search loop iterations allowed per key. */
  readonly maxStepsPerKey?: number;
  /** Visited configurations kept per key; bounds memory. */
  readonly maxCacheEntriesPerKey?: number;
  /** The clock, in milliseconds; replaceable in tests. */
  readonly now?: () => number;
}

export const DEFAULT_LINEARIZABILITY_OPTIONS = {
  timeLimitMs: 60_000,
  maxStepsPerKey: 200_000_000,
  maxCacheEntriesPerKey: 5_000_000,
} as const;

export type Verdict = true | false | "unknown";

export interface Counterexample {
  /** The longest prefix of a linearization the search found, in linearization order. */
  readonly longest: readonly Operation[];
  /** The model state after `longest`. */
  readonly stateAfter: string;
  /** The operation that completed before it could be placed after `longest`. */
  readonly blocker: Operation;
  /** Every operation that could have come next; none of them fit. */
  readonly candidates: readonly Operation[];
}

export interface KeyResult {
  readonly key: string;
  readonly linearizable: Verdict;
  /** Operations the search had to consider (skipped ones excluded). */
  readonly operations: number;
  readonly steps: number;
  readonly cacheEntries: number;
  /** Why the verdict is unknown. */
  readonly stop?: SearchStop;
  readonly counterexample?: Counterexample;
  /** A witness order when linearizable: the operations in linearization order. */
  readonly order?: readonly Operation[];
}

export interface LinearizabilityReport {
  readonly model: string;
  /** false if any key is not linearizable; otherwise unknown if any key is unknown. */
  readonly linearizable: Verdict;
  /** Keys in order of first appearance. */
  readonly keys: readonly KeyResult[];
}

interface KeyOps<I> {
  readonly key: string;
  readonly required: SearchOp<I>[];
  readonly requiredOps: Operation[];
  readonly optional: SearchOp<I>[];
  readonly optionalOps: Operation[];
}

export function checkLinearizability<S, I>(
  history: History,
  model: Model<S, I>,
  options: LinearizabilityOptions = {},
): Result<LinearizabilityReport, HistoryError[]> {
  const partitioned = partition(history, model);
  if (!partitioned.ok) return partitioned;
  const now = options.now ?? (() => performance.now());
  const deadlineMs = now() + (options.timeLimitMs ?? DEFAULT_LINEARIZABILITY_OPTIONS.timeLimitMs);
  const limits = {
    maxSteps: options.maxStepsPerKey ?? DEFAULT_LINEARIZABILITY_OPTIONS.maxStepsPerKey,
    maxCacheEntries: options.maxCacheEntriesPerKey ?? DEFAULT_LINEARIZABILITY_OPTIONS.maxCacheEntriesPerKey,
    deadlineMs,
    now,
  };
  const keys: KeyResult[] = [];
  for (const part of partitioned.value) {
    if (now() > deadlineMs) {
      keys.push({ key: part.key, linearizable: "unknown", operations: part.required.length + part.optional.length, steps: 0, cacheEntries: 0, stop: "time-limit" });
      continue;
    }
    keys.push(keyResult(part, searchLinearization(model, part.required, part.optional, limits)));
  }
  return { ok: true, value: { model: model.name, linearizable: overall(keys), keys } };
}

function overall(keys: readonly KeyResult[]): Verdict {
  if (keys.some((k) => k.linearizable === false)) return false;
  if (keys.some((k) => k.linearizable === "unknown")) return "unknown";
  return true;
}

/** Decodes every operation (all errors reported with their lines) and groups them by key. */
function partition<S, I>(history: History, model: Model<S, I>): Result<KeyOps<I>[], HistoryError[]> {
  const errors: HistoryError[] = [];
  const byKey = new Map<string, KeyOps<I>>();
  for (const op of history.operations) {
    const decoded = model.decode(op);
    if (!decoded.ok) {
      if (errors.length < 20) errors.push({ line: op.invokeLine, message: `${op.f} on ${JSON.stringify(op.key)}: ${decoded.error}` });
      continue;
    }
    const { role, input } = decoded.value;
    if (role === "skip") continue;
    let part = byKey.get(op.key);
    if (part === undefined) {
      part = { key: op.key, required: [], requiredOps: [], optional: [], optionalOps: [] };
      byKey.set(op.key, part);
    }
    if (role === "required") {
      if (op.completeIndex === null) throw new Error(`model ${model.name} requires operation ${op.id} that never completed`);
      part.required.push({ input, invokeIndex: op.invokeIndex, completeIndex: op.completeIndex });
      part.requiredOps.push(op);
    } else {
      part.optional.push({ input, invokeIndex: op.invokeIndex, completeIndex: Number.POSITIVE_INFINITY });
      part.optionalOps.push(op);
    }
  }
  if (errors.length > 0) return { ok: false, error: errors };
  return { ok: true, value: [...byKey.values()] };
}

function keyResult<I>(part: KeyOps<I>, result: SearchResult): KeyResult {
  const opOf = (ref: number): Operation => {
    const op = ref < part.requiredOps.length ? part.requiredOps[ref] : part.optionalOps[ref - part.requiredOps.length];
    if (op === undefined) throw new Error(`search returned operation ${ref} of ${part.requiredOps.length}+${part.optionalOps.length} on key ${part.key}`);
    return op;
  };
  const base = { key: part.key, operations: part.required.length + part.optional.length, steps: result.steps, cacheEntries: result.cacheEntries };
  switch (result.kind) {
    case "linearizable":
      return { ...base, linearizable: true, order: result.order.map(opOf) };
    case "unknown":
      return { ...base, linearizable: "unknown", stop: result.stop };
    case "not-linearizable": {
      const f = result.failure;
      const counterexample = { longest: f.longest.map(opOf), stateAfter: f.stateAfter, blocker: opOf(f.blocker), candidates: f.candidates.map(opOf) };
      return { ...base, linearizable: false, counterexample };
    }
  }
}
