// The history format: JSON Lines, one event per line in real-time order, and the strict
// parser that turns untrusted text into paired operations (decode, validate, then use).

import { canonicalJson, isJsonObject, isNonNegativeSafeInteger, unknownField, type JsonObject, type JsonValue, type Result } from "./json.js";

export type EventType = "invoke" | "ok" | "fail" | "info";

const EVENT_TYPES: readonly EventType[] = ["invoke", "ok", "fail", "info"];
const EVENT_FIELDS: readonly string[] = ["process", "type", "f", "key", "value", "time", "error"];

/** One line of a history file. */
export interface HistoryEvent {
  /** A client thread. It never has two operations open at once and is never reused after an info. */
  readonly process: number;
  readonly type: EventType;
  /** The operation's function: "read", "acquire", ... */
  readonly f: string;
  /** The independent object the operation acts on: a register or lock name. */
  readonly key: string;
  readonly value: JsonValue;
  /** Nanoseconds on the recorder's monotonic clock; never decreases from one line to the next. */
  readonly time: number;
  /** Optional error code on a fail or info completion ("TIMEOUT", "NO_QUORUM", ...). */
  readonly error?: string;
}

/** How an operation ended: ok = happened, fail = did not happen, info = unknown. */
export type Outcome = "ok" | "fail" | "info";

/** An invoke paired with its completion. */
export interface Operation {
  /** Position in invoke order, 0-based. */
  readonly id: number;
  readonly process: number;
  readonly f: string;
  readonly key: string;
  readonly invokeValue: JsonValue;
  readonly outcome: Outcome;
  /** The completion's value; null when the history ended with the operation still open. */
  readonly resultValue: JsonValue;
  readonly error: string | null;
  readonly invokeTime: number;
  readonly completeTime: number | null;
  /** Positions in the event list; the real-time order of events is the order of these. */
  readonly invokeIndex: number;
  /** null when the history ended with the operation open (it then counts as info). */
  readonly completeIndex: number | null;
  /** 1-based line numbers in the source text, for messages. */
  readonly invokeLine: number;
  readonly completeLine: number | null;
}

export interface History {
  readonly events: readonly HistoryEvent[];
  readonly operations: readonly Operation[];
}

export interface HistoryError {
  /** 1-based line of the offending event; 0 for the file as a whole. */
  readonly line: number;
  readonly message: string;
}

export interface ParseLimits {
  /** A longer line is refused rather than parsed. */
  readonly maxLineChars: number;
  readonly maxEvents: number;
  readonly maxKeyChars: number;
  readonly maxFChars: number;
  /** Parsing stops after this many errors: the first few are what a reader needs. */
  readonly maxErrors: number;
}

export const DEFAULT_PARSE_LIMITS: ParseLimits = {
  maxLineChars: 64 * 1024,
  maxEvents: 20_000_000,
  maxKeyChars: 1024,
  maxFChars: 64,
  maxErrors: 20,
};

/** Decodes one parsed JSON line into an event, or says what is wrong with it. */
export function decodeEvent(raw: unknown, limits: ParseLimits = DEFAULT_PARSE_LIMITS): Result<HistoryEvent, string> {
  if (!isJsonObject(raw as JsonValue)) return { ok: false, error: "an event must be a JSON object" };
  const obj = raw as JsonObject;
  const extra = unknownField(obj, EVENT_FIELDS);
  if (extra !== null) return { ok: false, error: `unknown field ${JSON.stringify(extra)}` };
  const { process, type, f, key, time, error } = obj;
  if (!isNonNegativeSafeInteger(process)) return { ok: false, error: `process must be a non-negative integer, got ${show(process)}` };
  if (typeof type !== "string" || !(EVENT_TYPES as readonly string[]).includes(type)) {
    return { ok: false, error: `type must be one of ${EVENT_TYPES.join(", ")}, got ${show(type)}` };
  }
  if (typeof f !== "string" || f.length === 0 || f.length > limits.maxFChars) {
    return { ok: false, error: `f must be a string of 1 to ${limits.maxFChars} characters, got ${show(f)}` };
  }
  if (typeof key !== "string" || key.length > limits.maxKeyChars) {
    return { ok: false, error: `key must be a string of at most ${limits.maxKeyChars} characters, got ${show(key)}` };
  }
  if (!isNonNegativeSafeInteger(time)) return { ok: false, error: `time must be a non-negative integer of nanoseconds, got ${show(time)}` };
  if (error !== undefined && (typeof error !== "string" || type === "invoke")) {
    return { ok: false, error: "error must be a string, and only on a completion" };
  }
  const event: HistoryEvent = { process, type: type as EventType, f, key, value: obj["value"] ?? null, time };
  return { ok: true, value: error === undefined ? event : { ...event, error } };
}

/** Parses JSON Lines text. Blank lines are skipped but still counted for line numbers. */
export function parseHistory(text: string, limits: ParseLimits = DEFAULT_PARSE_LIMITS): Result<History, HistoryError[]> {
  const lines = text.split("\n");
  const events: HistoryEvent[] = [];
  const lineNumbers: number[] = [];
  const errors: HistoryError[] = [];
  for (let i = 0; i < lines.length && errors.length < limits.maxErrors; i++) {
    const line = (lines[i] ?? "").trim();
    if (line.length === 0) continue;
    const decoded = decodeLine(line, limits);
    if (!decoded.ok) errors.push({ line: i + 1, message: decoded.error });
    else if (events.length >= limits.maxEvents) errors.push({ line: i + 1, message: `more than ${limits.maxEvents} events` });
    else {
      events.push(decoded.value);
      lineNumbers.push(i + 1);
    }
  }
  if (errors.length > 0) return { ok: false, error: errors };
  return pairEvents(events, lineNumbers, limits.maxErrors);
}

function decodeLine(line: string, limits: ParseLimits): Result<HistoryEvent, string> {
  if (line.length > limits.maxLineChars) return { ok: false, error: `line longer than ${limits.maxLineChars} characters` };
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (e) {
    return { ok: false, error: `not JSON: ${(e as Error).message}` };
  }
  return decodeEvent(raw, limits);
}

/** Validates already-decoded events (from a recorder, a generator) and pairs them. */
export function historyFromEvents(events: readonly HistoryEvent[], maxErrors = DEFAULT_PARSE_LIMITS.maxErrors): Result<History, HistoryError[]> {
  const errors: HistoryError[] = [];
  for (let i = 0; i < events.length && errors.length < maxErrors; i++) {
    const decoded = decodeEvent(events[i]);
    if (!decoded.ok) errors.push({ line: i + 1, message: decoded.error });
  }
  if (errors.length > 0) return { ok: false, error: errors };
  return pairEvents(events, events.map((_, i) => i + 1), maxErrors);
}

interface OpenOp {
  readonly id: number;
  readonly event: HistoryEvent;
  readonly index: number;
}

/**
 * Pairs each invoke with its process's next event. Enforces real-time order, one open
 * operation per process, matching f and key, and that a process is never used again after
 * an info completion (its fate is unknown, so a new process id must carry on, as in Jepsen).
 */
function pairEvents(events: readonly HistoryEvent[], lineNumbers: readonly number[], maxErrors: number): Result<History, HistoryError[]> {
  const errors: HistoryError[] = [];
  const open = new Map<number, OpenOp>();
  const diedAtLine = new Map<number, number>();
  const operations: Operation[] = [];
  const slots: (Operation | undefined)[] = [];
  let nextId = 0;
  for (let i = 0; i < events.length && errors.length < maxErrors; i++) {
    const event = events[i] as HistoryEvent;
    const line = lineNumbers[i] as number;
    const previous = i > 0 ? (events[i - 1] as HistoryEvent) : null;
    if (previous !== null && event.time < previous.time) {
      errors.push({ line, message: `time ${event.time} is earlier than the previous line's ${previous.time}; lines must be in real-time order` });
      continue;
    }
    const pending = open.get(event.process);
    if (event.type === "invoke") {
      const died = diedAtLine.get(event.process);
      if (pending !== undefined) errors.push({ line, message: `process ${event.process} invokes while its operation from line ${lineNumbers[pending.index]} is still open` });
      else if (died !== undefined) errors.push({ line, message: `process ${event.process} is reused after its info completion on line ${died}` });
      else open.set(event.process, { id: nextId++, event, index: i });
      continue;
    }
    if (pending === undefined) {
      errors.push({ line, message: `process ${event.process} completes (${event.type}) with no open operation` });
      continue;
    }
    if (pending.event.f !== event.f || pending.event.key !== event.key) {
      errors.push({ line, message: `completion ${show(event.f)} on ${show(event.key)} does not match the invoke ${show(pending.event.f)} on ${show(pending.event.key)} from line ${lineNumbers[pending.index]}` });
      continue;
    }
    open.delete(event.process);
    if (event.type === "info") diedAtLine.set(event.process, line);
    slots[pending.id] = operation(pending, lineNumbers, { event, index: i, line });
  }
  if (errors.length > 0) return { ok: false, error: errors };
  // An operation still open when the history ends is unknown: it counts as info.
  for (const pending of open.values()) slots[pending.id] = operation(pending, lineNumbers, null);
  for (let id = 0; id < nextId; id++) {
    const op = slots[id];
    if (op === undefined || op.id !== id) throw new Error(`pairing lost operation ${id} of ${nextId}`);
    operations.push(op);
  }
  return { ok: true, value: { events, operations } };
}

function operation(
  invoke: OpenOp,
  lineNumbers: readonly number[],
  completion: { readonly event: HistoryEvent; readonly index: number; readonly line: number } | null,
): Operation {
  const c = completion?.event;
  return {
    id: invoke.id,
    process: invoke.event.process,
    f: invoke.event.f,
    key: invoke.event.key,
    invokeValue: invoke.event.value,
    outcome: c === undefined ? "info" : (c.type as Outcome),
    resultValue: c === undefined ? null : c.value,
    error: c?.error ?? null,
    invokeTime: invoke.event.time,
    completeTime: c === undefined ? null : c.time,
    invokeIndex: invoke.index,
    completeIndex: completion === null ? null : completion.index,
    invokeLine: lineNumbers[invoke.index] as number,
    completeLine: completion === null ? null : completion.line,
  };
}

/** One event as its JSON line (without the newline). Fields come in the documented order. */
export function formatEvent(event: HistoryEvent): string {
  const decoded = decodeEvent(event);
  if (!decoded.ok) throw new Error(`refusing to write an invalid event ${canonicalJson(event as unknown as JsonValue)}: ${decoded.error}`);
  const { process, type, f, key, value, time, error } = event;
  const line = { process, type, f, key, value, time, ...(error === undefined ? {} : { error }) };
  return JSON.stringify(line);
}

/** The whole history as JSON Lines text, newline-terminated; parseHistory reads it back. */
export function formatHistory(events: readonly HistoryEvent[]): string {
  return events.map((event) => `${formatEvent(event)}\n`).join("");
}

/** How an operation reads in messages: "process 3 cas [1,2] -> fail (lines 7-9)". */
export function describeOperation(op: Operation): string {
  const result = op.outcome === "ok" && op.resultValue !== null ? ` ${canonicalJson(op.resultValue)}` : "";
  const lines = op.completeLine === null ? `line ${op.invokeLine}, never completed` : `lines ${op.invokeLine}-${op.completeLine}`;
  const error = op.error === null ? "" : ` ${op.error}`;
  return `process ${op.process} ${op.f} ${canonicalJson(op.invokeValue)} -> ${op.outcome}${error}${result} (${lines})`;
}

function show(value: JsonValue | undefined): string {
  return value === undefined ? "nothing" : canonicalJson(value);
}
