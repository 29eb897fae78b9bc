// Mutual exclusion as clients saw it: a critical section runs from the completion of a
// granted acquire to the invoke of that process's next release of the lock. Inside that
// window the client certainly believed it held the lock, so two such windows of different
// processes that overlap in real time, one of them exclusive, are two holders at once. The
// windows are the narrowest the history allows, so uncertainty never raises an alarm.

import type { History, HistoryError, Operation } from "./history.js";
import type { Result } from "./json.js";
import { decodeAcquireRequest, type LockMode } from "./lock-values.js";

/** How a critical section ended. */
export type SectionEnd =
  /** The process invoked a release of the lock (whatever its outcome). */
  | "release"
  /** The process's last operation ended in info: it may have crashed. */
  | "crash"
  /** The history ended with the process still holding the lock. */
  | "end-of-history";

export interface CriticalSection {
  readonly key: string;
  readonly process: number;
  readonly mode: LockMode;
  readonly acquire: Operation;
  /** Event positions: the acquire's completion and the end. */
  readonly startIndex: number;
  readonly endIndex: number;
  readonly end: SectionEnd;
  /** The operation whose invoke ended the section (a release, or the crashed operation). */
  readonly endedBy: Operation | null;
}

export interface MutualExclusionAnomaly {
  readonly kind: "overlapping-critical-sections";
  readonly key: string;
  readonly first: CriticalSection;
  readonly second: CriticalSection;
}

export interface MutualExclusionReport {
  readonly valid: boolean;
  readonly anomalies: readonly MutualExclusionAnomaly[];
  readonly truncated: boolean;
  readonly sections: number;
}

export function checkMutualExclusion(history: History, options: { readonly maxAnomalies?: number } = {}): Result<MutualExclusionReport, HistoryError[]> {
  const sections = criticalSections(history);
  if (!sections.ok) return sections;
  const maxAnomalies = options.maxAnomalies ?? 100;
  const anomalies: MutualExclusionAnomaly[] = [];
  let total = 0;
  for (const keySections of groupByKey(sections.value).values()) {
    for (const [first, second] of overlaps(keySections)) {
      total++;
      if (anomalies.length < maxAnomalies) anomalies.push({ kind: "overlapping-critical-sections", key: first.key, first, second });
    }
  }
  return { ok: true, value: { valid: total === 0, anomalies, truncated: total > anomalies.length, sections: sections.value.length } };
}

interface Open {
  readonly acquire: Operation;
  readonly mode: LockMode;
}

/** Every critical section, in order of start. */
export function criticalSections(history: History): Result<CriticalSection[], HistoryError[]> {
  const errors: HistoryError[] = [];
  const sections: CriticalSection[] = [];
  const held = new Map<number, Map<string, Open>>();
  const lastOp = new Map<number, Operation>();
  const close = (open: Open, endIndex: number, end: SectionEnd, endedBy: Operation | null): void => {
    const startIndex = open.acquire.completeIndex as number;
    const { key, process } = open.acquire;
    sections.push({ key, process, mode: open.mode, acquire: open.acquire, startIndex, endIndex, end, endedBy });
  };
  for (const op of history.operations) {
    lastOp.set(op.process, op);
    const mine = held.get(op.process);
    const open = mine?.get(op.key);
    if (op.f === "release" && open !== undefined) {
      close(open, op.invokeIndex, "release", op);
      mine?.delete(op.key);
    }
    if (op.f !== "acquire" || op.outcome !== "ok") continue;
    const request = decodeAcquireRequest(op.invokeValue);
    if (!request.ok) {
      if (errors.length < 20) errors.push({ line: op.invokeLine, message: request.error });
      continue;
    }
    // A second grant to a process that holds the lock already keeps the first window.
    if (open !== undefined) continue;
    const table = mine ?? new Map<string, Open>();
    table.set(op.key, { acquire: op, mode: request.value.mode });
    held.set(op.process, table);
  }
  if (errors.length > 0) return { ok: false, error: errors };
  for (const [process, table] of held) {
    const last = lastOp.get(process) as Operation;
    const crashed = last.outcome === "info";
    for (const open of table.values()) close(open, crashed ? last.invokeIndex : history.events.length, crashed ? "crash" : "end-of-history", crashed ? last : null);
  }
  sections.sort((a, b) => a.startIndex - b.startIndex);
  return { ok: true, value: sections };
}

function groupByKey(sections: readonly CriticalSection[]): Map<string, CriticalSection[]> {
  const byKey = new Map<string, CriticalSection[]>();
  for (const s of sections) {
    const list = byKey.get(s.key);
    if (list === undefined) byKey.set(s.key, [s]);
    else list.push(s);
  }
  return byKey;
}

/** Sweeps the sections of one key in order of start; the active list holds those still open. */
function* overlaps(sections: readonly CriticalSection[]): Generator<readonly [CriticalSection, CriticalSection]> {
  let active: CriticalSection[] = [];
  for (const s of sections) {
    active = active.filter((a) => a.endIndex > s.startIndex);
    for (const a of active) {
      if (a.process !== s.process && (a.mode === "exclusive" || s.mode === "exclusive")) yield [a, s] as const;
    }
    active.push(s);
  }
}
