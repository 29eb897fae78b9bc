// MessagePack framing. A frame (one WebSocket message) is a MessagePack array of envelopes;
// an envelope is a 2-element array [channel, payload]. Envelopes are encoded one by one at
// send time, so the queue knows its exact byte size, and a frame is just an array header
// followed by the concatenated envelopes. The empty frame is the heartbeat.
//
// Decoding is the trust boundary: msgpackr knows extensions (Date, Set, Error, RegExp,
// typed arrays, records, bigint) that our protocol never sends, so every decoded frame is
// walked and anything but plain data is refused before a validator sees it.

import { Packr, Unpackr } from "msgpackr";

const packr = new Packr({
  useRecords: false,
  structuredClone: false,
  moreTypes: false,
  variableMapSize: true,
  encodeUndefinedAsNil: true,
});

const unpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  structuredClone: false,
  // 64-bit integers within 2^53 decode as numbers; larger ones as bigint, which sanitize()
  // refuses, so they are never silently rounded. msgpackr implements "auto" but its typings
  // only list the other modes, hence the cast.
  int64AsType: "auto" as "bigint",
});

/** Map keys refused anywhere in a frame; msgpackr already renames `__proto__` to `__proto_`. */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["__proto__", "__proto_", "constructor", "prototype"]);

/** Bytes of the largest array header (0xdd + uint32). A frame holds maxFrameBytes - this of envelopes. */
export const FRAME_HEADER_MAX_BYTES = 5;

export const HEARTBEAT_FRAME: Uint8Array = Uint8Array.of(0x90);

export type Envelope = readonly [channel: string, payload: unknown];

/** Encodes one envelope. The result views a region of msgpackr's pool that is never rewritten. */
export function encodeEnvelope(channel: string, payload: unknown): Uint8Array {
  return packr.pack([channel, payload]);
}

/** Concatenates encoded envelopes into one frame. */
export function buildFrame(envelopes: readonly Uint8Array[]): Uint8Array {
  const count = envelopes.length;
  const header = arrayHeader(count);
  let total = header.length;
  for (const envelope of envelopes) total += envelope.length;
  const frame = new Uint8Array(total);
  frame.set(header, 0);
  let offset = header.length;
  for (const envelope of envelopes) {
    frame.set(envelope, offset);
    offset += envelope.length;
  }
  if (offset !== total) throw new Error(`frame assembly wrote ${offset} of ${total} bytes`);
  return frame;
}

function arrayHeader(count: number): Uint8Array {
  if (!Number.isSafeInteger(count) || count < 0 || count > 0xffffffff) {
    throw new Error(`envelope count ${count} cannot be framed`);
  }
  if (count < 16) return Uint8Array.of(0x90 | count);
  if (count <= 0xffff) return Uint8Array.of(0xdc, count >>> 8, count & 0xff);
  return Uint8Array.of(0xdd, count >>> 24, (count >>> 16) & 0xff, (count >>> 8) & 0xff, count & 0xff);
}

export type DecodedFrame =
  | { readonly ok: true; readonly envelopes: readonly Envelope[] }
  | { readonly ok: false; readonly reason: string };

export interface FrameDecodeLimits {
  readonly maxFrameBytes: number;
  readonly maxEnvelopesPerFrame: number;
  readonly maxDecodeDepth: number;
}

/** Decodes and shape-checks a frame. Never throws; payloads are plain data (see sanitize). */
export function decodeFrame(bytes: Uint8Array, limits: FrameDecodeLimits): DecodedFrame {
  if (bytes.length > limits.maxFrameBytes) {
    return { ok: false, reason: `frame of ${bytes.length} bytes exceeds maxFrameBytes ${limits.maxFrameBytes}` };
  }
  const decoded = decodePlain(bytes, limits.maxDecodeDepth);
  if (!decoded.ok) return decoded;
  const frame = decoded.value;
  if (!Array.isArray(frame)) return { ok: false, reason: "frame is not an array" };
  if (frame.length > limits.maxEnvelopesPerFrame) {
    return { ok: false, reason: `frame has ${frame.length} envelopes, limit ${limits.maxEnvelopesPerFrame}` };
  }
  const envelopes: Envelope[] = [];
  for (let i = 0; i < frame.length; i++) {
    const envelope: unknown = frame[i];
    if (!Array.isArray(envelope) || envelope.length !== 2 || typeof envelope[0] !== "string") {
      return { ok: false, reason: `envelope ${i} is not [channel, payload]` };
    }
    envelopes.push([envelope[0], envelope[1]]);
  }
  return { ok: true, envelopes };
}

export type PlainDecodeResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly reason: string };

/** Decodes exactly one MessagePack value spanning all of `bytes`, then sanitizes it. */
export function decodePlain(bytes: Uint8Array, maxDepth: number): PlainDecodeResult {
  let raw: unknown;
  try {
    raw = unpackr.unpack(bytes);
  } catch (error) {
    // msgpackr throws on truncated data, trailing bytes, unknown extensions and deep nesting.
    return { ok: false, reason: `undecodable MessagePack: ${error instanceof Error ? error.message : String(error)}` };
  }
  // Every decoded node consumes at least one input byte, so this budget bounds the walk
  // even if a future msgpackr produced shared or cyclic references.
  const budget = { nodesLeft: bytes.length + 1 };
  const sanitized = sanitize(raw, 0, maxDepth, budget);
  if (sanitized instanceof Refusal) return { ok: false, reason: sanitized.reason };
  return { ok: true, value: sanitized };
}

class Refusal {
  constructor(readonly reason: string) {}
}

/**
 * Accepts null, booleans, numbers, strings, Uint8Array (returned as a plain Uint8Array view,
 * never a Buffer), arrays and objects whose prototype is Object.prototype and whose keys are
 * not prototype-related. Anything else (Date, Map, Set, Error, RegExp, bigint, undefined,
 * other typed arrays) is refused. Containers are rewritten in place.
 */
function sanitize(value: unknown, depth: number, maxDepth: number, budget: { nodesLeft: number }): unknown {
  budget.nodesLeft -= 1;
  if (budget.nodesLeft < 0) return new Refusal("decoded value has more nodes than input bytes");
  if (value === null || typeof value === "boolean" || typeof value === "number" || typeof value === "string") {
    return value;
  }
  if (value instanceof Uint8Array) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (typeof value !== "object") return new Refusal(`unsupported value of type ${typeof value}`);
  if (depth >= maxDepth) return new Refusal(`nesting deeper than ${maxDepth}`);
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return new Refusal("array with a foreign prototype");
    for (let i = 0; i < value.length; i++) {
      const original: unknown = value[i];
      const item = sanitize(original, depth + 1, maxDepth, budget);
      if (item instanceof Refusal) return item;
      if (item !== original) value[i] = item;
    }
    return value;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) {
    return new Refusal(`non-plain object (${value.constructor?.name ?? "null prototype"})`);
  }
  const record = value as Record<string, unknown>;
  // for...in, not Object.keys: no array per object. The prototype is Object.prototype (checked
  // above), which has no enumerable keys, so every key seen is the object's own.
  for (const key in record) {
    if (FORBIDDEN_KEYS.has(key)) return new Refusal(`forbidden map key ${JSON.stringify(key)}`);
    const original = record[key];
    const item = sanitize(original, depth + 1, maxDepth, budget);
    if (item instanceof Refusal) return item;
    if (item !== original) record[key] = item;
  }
  return value;
}

/** Encodes a value with the same settings as envelopes (handshake messages, tests). */
export function encodeValue(value: unknown): Uint8Array {
  return packr.pack(value);
}
