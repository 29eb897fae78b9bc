// fast-check generators of valid Raft messages, mutations of them, and an independent
// oracle of what a valid message is (written apart from the validator so the two can
// disagree and fail a property).

import fc from "fast-check";
import type { Entry, Index, Message, NodeId, Term } from "@geolock/raft";

const MAX = Number.MAX_SAFE_INTEGER;
const term = fc.integer({ min: 0, max: MAX }).map((n) => n as Term);
const index = fc.integer({ min: 0, max: MAX }).map((n) => n as Index);
const context = fc.uint8Array({ maxLength: 64 });
const pair = fc.uniqueArray(fc.integer({ min: 1, max: MAX }), { minLength: 2, maxLength: 2 });

const header = fc.tuple(pair, term).map(([[from, to], t]) => ({ from: from as NodeId, to: to as NodeId, term: t }));

/** A term at most `t`, biased to stay inside safe integers. */
const termUpTo = (t: number): fc.Arbitrary<Term> => fc.integer({ min: 0, max: t }).map((n) => n as Term);

const append: fc.Arbitrary<Message> = header.chain((h) =>
  fc
    .record({
      prevLogIndex: fc.integer({ min: 0, max: MAX - 16 }),
      prevLogTerm: termUpTo(h.term),
      count: fc.integer({ min: 0, max: 6 }),
      commit: index,
    })
    .chain(({ prevLogIndex, prevLogTerm, count, commit }) =>
      fc
        .tuple(
          fc.array(fc.integer({ min: prevLogTerm, max: h.term }), { minLength: count, maxLength: count }),
          fc.array(fc.record({ kind: fc.constantFrom("normal" as const, "confChange" as const), data: fc.uint8Array({ maxLength: 48 }) }), {
            minLength: count,
            maxLength: count,
          }),
        )
        .map(([terms, bodies]): Message => {
          terms.sort((a, b) => a - b);
          const entries: Entry[] = bodies.map((body, i) => ({
            term: terms[i]! as Term,
            index: (prevLogIndex + 1 + i) as Index,
            kind: body.kind,
            data: body.data,
          }));
          return { type: "append", ...h, prevLogIndex: prevLogIndex as Index, prevLogTerm, entries, commit };
        }),
    ),
);

const snapshot: fc.Arbitrary<Message> = header.chain((h) =>
  fc
    .record({
      index,
      term: termUpTo(h.term),
      members: fc.uniqueArray(fc.integer({ min: 1, max: MAX }), { maxLength: 7 }),
      split: fc.nat(),
      chunk: fc.uint8Array({ maxLength: 64 }),
      offset: fc.integer({ min: 0, max: 1 << 20 }),
      slack: fc.integer({ min: 0, max: 1 << 20 }),
    })
    .map(({ index: i, term: t, members, split, chunk, offset, slack }): Message => {
      const cut = members.length === 0 ? 0 : split % (members.length + 1);
      return {
        type: "snapshot",
        ...h,
        metadata: {
          index: i,
          term: t,
          confState: { voters: members.slice(0, cut) as NodeId[], learners: members.slice(cut) as NodeId[] },
        },
        offset,
        totalBytes: offset + chunk.length + slack,
        chunk,
      };
    }),
);

const lastLog = (t: number) => fc.record({ lastLogIndex: index, lastLogTerm: termUpTo(t) });

/** Every message type, every field drawn over its whole valid range. */
export const validMessage: fc.Arbitrary<Message> = fc.oneof(
  header.chain((h) => lastLog(h.term).map((l): Message => ({ type: "preVote", ...h, ...l }))),
  header.chain((h) => fc.tuple(lastLog(h.term), fc.boolean()).map(([l, transfer]): Message => ({ type: "vote", ...h, ...l, transfer }))),
  fc.tuple(header, fc.constantFrom("preVoteResp" as const, "voteResp" as const), fc.boolean()).map(([h, type, reject]): Message => ({ type, ...h, reject })),
  append,
  fc
    .tuple(header, index, fc.boolean(), index, term)
    .map(([h, i, reject, rejectHint, hintTerm]): Message => ({ type: "appendResp", ...h, index: i, reject, rejectHint, hintTerm })),
  fc.tuple(header, index, context).map(([h, commit, ctx]): Message => ({ type: "heartbeat", ...h, commit, context: ctx })),
  fc.tuple(header, context).map(([h, ctx]): Message => ({ type: "heartbeatResp", ...h, context: ctx })),
  snapshot,
  fc
    .tuple(header, index, fc.integer({ min: 0, max: MAX }), fc.boolean())
    .map(([h, snapshotIndex, nextOffset, reject]): Message => ({ type: "snapshotResp", ...h, snapshotIndex, nextOffset, reject })),
  header.map((h): Message => ({ type: "timeoutNow", ...h })),
  fc.tuple(header, context).map(([h, ctx]): Message => ({ type: "readIndex", ...h, context: ctx })),
  fc.tuple(header, context, index).map(([h, ctx, i]): Message => ({ type: "readIndexResp", ...h, context: ctx, index: i })),
);

/** Values that are wrong for almost every field: wrong types, negatives, fractions, huge numbers. */
export const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(-1, -0.5, 0.5, 2 ** 53, 2 ** 64, -(2 ** 63), Number.NaN, Number.POSITIVE_INFINITY, null, "", "1", true, false),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 8 }),
  fc.uint8Array({ maxLength: 8 }),
  fc.constant(new Uint8Array(5000)),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 3 }),
  fc.constantFrom("normal", "confChange", "append", "vote", "heartbeat"),
);

type Mutable = Record<string, unknown> | unknown[];

function containers(value: unknown, out: Mutable[]): Mutable[] {
  if (value instanceof Uint8Array || typeof value !== "object" || value === null) return out;
  out.push(value as Mutable);
  for (const child of Object.values(value)) containers(child, out);
  return out;
}

/** A deep copy with one random structural change somewhere in the message. */
export const mutatedMessage: fc.Arbitrary<unknown> = fc
  .tuple(validMessage, fc.nat(), fc.nat(), fc.constantFrom("set", "delete", "add", "nest", "swapType"), nastyValue)
  .map(([message, whichContainer, whichKey, operation, nasty]) => {
    const copy: unknown = structuredClone(message);
    const all = containers(copy, []);
    const target = all[whichContainer % all.length]!;
    const keys = Object.keys(target);
    const key = keys.length === 0 ? "0" : keys[whichKey % keys.length]!;
    const slot = target as Record<string, unknown>;
    switch (operation) {
      case "set":
        slot[key] = nasty;
        break;
      case "delete":
        if (Array.isArray(target)) target.splice(Number(key), 1);
        else delete slot[key];
        break;
      case "add":
        if (Array.isArray(target)) target.push(nasty);
        else slot[`extra${whichKey % 3}`] = nasty;
        break;
      case "nest":
        slot[key] = [slot[key]];
        break;
      case "swapType":
        slot["type"] = ["preVote", "vote", "append", "snapshot", "heartbeat", "readIndexResp"][whichKey % 6];
        break;
    }
    return copy;
  });

const isUint = (x: unknown): boolean => typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
const isId = (x: unknown): boolean => isUint(x) && (x as number) > 0;
const isBool = (x: unknown): boolean => typeof x === "boolean";
const isBytes = (max: number) => (x: unknown): boolean => x instanceof Uint8Array && x.length <= max;
const hasExactly = (x: Record<string, unknown>, keys: readonly string[]): boolean =>
  Object.keys(x).length === keys.length && keys.every((k) => Object.hasOwn(x, k));

const FIELD_CHECKS: Record<string, Record<string, (x: unknown) => boolean>> = {
  preVote: { lastLogIndex: isUint, lastLogTerm: isUint },
  vote: { lastLogIndex: isUint, lastLogTerm: isUint, transfer: isBool },
  preVoteResp: { reject: isBool },
  voteResp: { reject: isBool },
  append: { prevLogIndex: isUint, prevLogTerm: isUint, entries: Array.isArray, commit: isUint },
  appendResp: { index: isUint, reject: isBool, rejectHint: isUint, hintTerm: isUint },
  heartbeat: { commit: isUint, context: isBytes(1024) },
  heartbeatResp: { context: isBytes(1024) },
  snapshot: { metadata: (x) => typeof x === "object" && x !== null, offset: isUint, totalBytes: isUint, chunk: isBytes(4 << 20) },
  snapshotResp: { snapshotIndex: isUint, nextOffset: isUint, reject: isBool },
  timeoutNow: {},
  readIndex: { context: isBytes(1024) },
  readIndexResp: { context: isBytes(1024), index: isUint },
};

/** The oracle: does `x` satisfy the Raft wire rules (with default limits)? */
export function isWellFormed(x: unknown): boolean {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return false;
  const m = x as Record<string, unknown>;
  const checks = typeof m["type"] === "string" ? FIELD_CHECKS[m["type"]] : undefined;
  if (checks === undefined) return false;
  if (!hasExactly(m, ["type", "from", "to", "term", ...Object.keys(checks)])) return false;
  if (!isId(m["from"]) || !isId(m["to"]) || m["from"] === m["to"] || !isUint(m["term"])) return false;
  if (!Object.entries(checks).every(([k, check]) => check(m[k]))) return false;
  const t = m["term"] as number;
  if ("lastLogTerm" in m && (m["lastLogTerm"] as number) > t) return false;
  if (m["type"] === "append") return appendIsWellFormed(m, t);
  if (m["type"] === "snapshot") return snapshotIsWellFormed(m, t);
  return true;
}

function appendIsWellFormed(m: Record<string, unknown>, t: number): boolean {
  const prevIndex = m["prevLogIndex"] as number;
  let lastTerm = m["prevLogTerm"] as number;
  if (lastTerm > t) return false;
  const entries = m["entries"] as unknown[];
  return entries.every((e, i) => {
    if (typeof e !== "object" || e === null || Array.isArray(e)) return false;
    const entry = e as Record<string, unknown>;
    const ok =
      hasExactly(entry, ["term", "index", "kind", "data"]) &&
      isUint(entry["term"]) &&
      entry["index"] === prevIndex + 1 + i &&
      (entry["kind"] === "normal" || entry["kind"] === "confChange") &&
      isBytes(1 << 20)(entry["data"]) &&
      (entry["term"] as number) >= lastTerm &&
      (entry["term"] as number) <= t;
    lastTerm = entry["term"] as number;
    return ok;
  });
}

function snapshotIsWellFormed(m: Record<string, unknown>, t: number): boolean {
  const meta = m["metadata"] as Record<string, unknown>;
  if (Array.isArray(meta) || !hasExactly(meta, ["index", "term", "confState"]) || !isUint(meta["index"]) || !isUint(meta["term"])) return false;
  if ((meta["term"] as number) > t) return false;
  const conf = meta["confState"];
  if (typeof conf !== "object" || conf === null || Array.isArray(conf)) return false;
  const c = conf as Record<string, unknown>;
  if (!hasExactly(c, ["voters", "learners"]) || !Array.isArray(c["voters"]) || !Array.isArray(c["learners"])) return false;
  const ids = [...(c["voters"] as unknown[]), ...(c["learners"] as unknown[])];
  if (!ids.every(isId) || new Set(ids).size !== ids.length) return false;
  const chunk = m["chunk"] as Uint8Array;
  const totalBytes = m["totalBytes"] as number;
  return (m["offset"] as number) + chunk.length <= totalBytes && totalBytes <= 4 * 1024 ** 3 && ids.length <= 64;
}
