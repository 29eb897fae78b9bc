// Checks at the boundaries. `checkKey`/`checkLockCommand` guard typed input (ranges, sizes);
// `decodeMessage` turns an untrusted decoded frame into a PaxosMessage or an error string,
// checking every field (exact keys, types, ranges, sizes) before any code trusts it.

import { ZERO_BALLOT, type Ballot } from "./ballot.js";
import type { DedupRecord, Holder, HolderLease, KeyState, LockAnswer, LockCommand, PaxosValue, ReplicaCommand, RequestId } from "./commands.js";
import type { PaxosConfig } from "./config.js";
import type { AcceptedEntry, PaxosMessage } from "./messages.js";
import type { ReplicaSnapshot } from "./replica.js";
import type { FencingToken, GlobalKey, Instance, RegionId, Round, Epoch } from "./types.js";

export const GLOBAL_KEY_PREFIX = "global:";
const INT_MAX = Number.MAX_SAFE_INTEGER;

/** UTF-8 length of a string, counting a lone surrogate as 3 bytes like TextEncoder's replacement. */
export function utf8Bytes(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

export function checkKey(key: string, config: PaxosConfig): string | null {
  if (!key.startsWith(GLOBAL_KEY_PREFIX) || key.length === GLOBAL_KEY_PREFIX.length) return `key ${JSON.stringify(key.slice(0, 40))} is not "global:<name>"`;
  if (utf8Bytes(key) > config.keyBytesMax) return `key longer than ${config.keyBytesMax} bytes`;
  return null;
}

export function checkLockCommand(command: LockCommand, config: PaxosConfig): string | null {
  try {
    lockCommand(command, "command", config);
    return null;
  } catch (e) {
    if (e instanceof DecodeError) return e.message;
    throw e;
  }
}

export type DecodeResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** Validates a decoded frame from a peer region. */
export function decodeMessage(raw: unknown, config: PaxosConfig): DecodeResult<PaxosMessage> {
  try {
    return { ok: true, value: message(raw, config) };
  } catch (e) {
    if (e instanceof DecodeError) return { ok: false, error: e.message };
    throw e;
  }
}

/** Validates a command read back from the region's Raft log (written by this package's driver). */
export function decodeReplicaCommand(raw: unknown, config: PaxosConfig): DecodeResult<ReplicaCommand> {
  try {
    return { ok: true, value: replicaCommand(raw, config) };
  } catch (e) {
    if (e instanceof DecodeError) return { ok: false, error: e.message };
    throw e;
  }
}

function replicaCommand(raw: unknown, config: PaxosConfig): ReplicaCommand {
  const type = typeof raw === "object" && raw !== null ? (raw as Fields).type : undefined;
  switch (type) {
    case "prepare": {
      const f = record(raw, "prepare", ["type", "from", "key", "ballot", "fromInstance"]);
      return { type, from: region(f.from, "from", config), key: key(f.key, "key", config), ballot: ballotOf(f.ballot, "ballot", config), fromInstance: instance(f.fromInstance, "fromInstance", 1) };
    }
    case "accept": {
      const f = record(raw, "accept", ["type", "from", "key", "ballot", "instance", "value"]);
      const ballot = ballotOf(f.ballot, "ballot", config);
      return { type, from: region(f.from, "from", config), key: key(f.key, "key", config), ballot, instance: instance(f.instance, "instance", 1), value: value(f.value, "value", config) };
    }
    case "learn": {
      const f = record(raw, "learn", ["type", "key", "instance", "value"]);
      return { type, key: key(f.key, "key", config), instance: instance(f.instance, "instance", 1), value: value(f.value, "value", config) };
    }
    case "installKey": {
      const f = record(raw, "installKey", ["type", "key", "state"]);
      return { type, key: key(f.key, "key", config), state: keyState(f.state, "state", config) };
    }
    default:
      return fail("type", "prepare, accept, learn or installKey");
  }
}

/**
 * Validates a replica snapshot read from disk or received in a Raft snapshot: every field's
 * shape and range, keys ascending and unique. GlobalReplica.restore then checks the
 * cross-field invariants (windows, tokens) and throws if they do not hold.
 */
export function decodeReplicaSnapshot(raw: unknown, config: PaxosConfig): DecodeResult<ReplicaSnapshot> {
  try {
    return { ok: true, value: replicaSnapshot(raw, config) };
  } catch (e) {
    if (e instanceof DecodeError) return { ok: false, error: e.message };
    throw e;
  }
}

function replicaSnapshot(raw: unknown, config: PaxosConfig): ReplicaSnapshot {
  const f = record(raw, "snapshot", ["version", "region", "acceptor", "table", "pending"]);
  if (f.version !== 1) fail("snapshot.version", "1");
  const keysMax = config.keysMax;
  const acceptor = list(f.acceptor, "snapshot.acceptor", keysMax, (e, p) => {
    const a = record(e, p, ["key", "promised", "accepted"]);
    const accepted = list(a.accepted, `${p}.accepted`, config.instancesAheadMax, (x, q): AcceptedEntry => {
      const r = record(x, q, ["instance", "ballot", "value"]);
      return { instance: instance(r.instance, `${q}.instance`, 1), ballot: ballotOf(r.ballot, `${q}.ballot`, config), value: value(r.value, `${q}.value`, config) };
    });
    return { key: key(a.key, `${p}.key`, config), promised: ballotOrZero(a.promised, `${p}.promised`, config), accepted };
  });
  const table = list(f.table, "snapshot.table", 2 * keysMax, (e, p) => {
    const t = record(e, p, ["key", "state"]);
    return { key: key(t.key, `${p}.key`, config), state: keyState(t.state, `${p}.state`, config) };
  });
  const pending = list(f.pending, "snapshot.pending", 2 * keysMax * config.instancesAheadMax, (e, p) => {
    const x = record(e, p, ["key", "instance", "value"]);
    return { key: key(x.key, `${p}.key`, config), instance: instance(x.instance, `${p}.instance`, 1), value: value(x.value, `${p}.value`, config) };
  });
  ascending(acceptor.map((a) => a.key), "snapshot.acceptor");
  ascending(table.map((t) => t.key), "snapshot.table");
  return { version: 1, region: region(f.region, "snapshot.region", config), acceptor, table, pending };
}

/** An acceptor's promise: a real ballot, or ZERO_BALLOT for a key it only created. */
function ballotOrZero(v: unknown, path: string, config: PaxosConfig): Ballot {
  const f = record(v, path, ["round", "region", "epoch"]);
  if (f.round === 0 && f.region === "" && f.epoch === 0) return ZERO_BALLOT;
  return ballotOf(v, path, config);
}

function ascending(keys: readonly string[], path: string): void {
  for (let i = 1; i < keys.length; i++) if ((keys[i - 1] ?? "") >= (keys[i] ?? "")) fail(path, "keys in strictly ascending order");
}

class DecodeError extends Error {
  override readonly name = "DecodeError";
}

type Fields = Readonly<Record<string, unknown>>;

function fail(path: string, expected: string): never {
  throw new DecodeError(`${path}: expected ${expected}`);
}

function record(value: unknown, path: string, keys: readonly string[]): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(path, "an object");
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) fail(path, "a plain object");
  const fields = value as Fields;
  const own = Object.keys(fields);
  if (own.length !== keys.length || !keys.every((k) => Object.hasOwn(fields, k))) fail(path, `exactly the fields ${keys.join(", ")}`);
  return fields;
}

function int(value: unknown, path: string, min: number, max = INT_MAX): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) fail(path, `an integer in [${min}, ${max}]`);
  return value;
}

function text(value: unknown, path: string, minBytes: number, maxBytes: number): string {
  if (typeof value !== "string") fail(path, "a string");
  const bytes = utf8Bytes(value);
  if (bytes < minBytes || bytes > maxBytes) fail(path, `${minBytes}..${maxBytes} UTF-8 bytes`);
  return value;
}

function list<T>(value: unknown, path: string, max: number, item: (v: unknown, p: string) => T): T[] {
  if (!Array.isArray(value) || value.length > max) fail(path, `an array of at most ${max}`);
  return value.map((v, i) => item(v, `${path}[${i}]`));
}

function region(value: unknown, path: string, config: PaxosConfig): RegionId {
  if (typeof value !== "string" || !config.regions.includes(value as RegionId)) fail(path, `one of ${config.regions.join(",")}`);
  return value as RegionId;
}

function key(value: unknown, path: string, config: PaxosConfig): GlobalKey {
  if (typeof value !== "string") fail(path, "a key");
  const problem = checkKey(value, config);
  if (problem !== null) throw new DecodeError(`${path}: ${problem}`);
  return value as GlobalKey;
}

const instance = (v: unknown, p: string, min = 0): Instance => int(v, p, min) as Instance;
const token = (v: unknown, p: string): FencingToken => int(v, p, 1) as FencingToken;

function ballotOf(value: unknown, path: string, config: PaxosConfig): Ballot {
  const f = record(value, path, ["round", "region", "epoch"]);
  return { round: int(f.round, `${path}.round`, 1) as Round, region: region(f.region, `${path}.region`, config), epoch: int(f.epoch, `${path}.epoch`, 0) as Epoch };
}

function requestId(value: unknown, path: string, config: PaxosConfig): RequestId {
  const f = record(value, path, ["clientId", "seq"]);
  return { clientId: text(f.clientId, `${path}.clientId`, 1, config.clientIdBytesMax), seq: int(f.seq, `${path}.seq`, 0) };
}

function holder(value: unknown, path: string, config: PaxosConfig): Holder {
  const f = record(value, path, ["region", "clientId", "owner"]);
  return {
    region: region(f.region, `${path}.region`, config),
    clientId: text(f.clientId, `${path}.clientId`, 1, config.clientIdBytesMax),
    owner: text(f.owner, `${path}.owner`, 0, config.ownerBytesMax),
  };
}

function lockCommand(value: unknown, path: string, config: PaxosConfig): LockCommand {
  const type = typeof value === "object" && value !== null ? (value as Fields).type : undefined;
  const ttl = (v: unknown): number => int(v, `${path}.ttlMs`, config.ttlMsMin, config.ttlMsMax);
  switch (type) {
    case "acquire": {
      const f = record(value, path, ["type", "requestId", "holder", "ttlMs"]);
      const command = { type, requestId: requestId(f.requestId, `${path}.requestId`, config), holder: holder(f.holder, `${path}.holder`, config), ttlMs: ttl(f.ttlMs) } as const;
      if (command.holder.clientId !== command.requestId.clientId) fail(`${path}.holder.clientId`, "the requestId's clientId");
      return command;
    }
    case "renew": {
      const f = record(value, path, ["type", "requestId", "token", "ttlMs"]);
      return { type, requestId: requestId(f.requestId, `${path}.requestId`, config), token: token(f.token, `${path}.token`), ttlMs: ttl(f.ttlMs) };
    }
    case "release": {
      const f = record(value, path, ["type", "requestId", "token"]);
      return { type, requestId: requestId(f.requestId, `${path}.requestId`, config), token: token(f.token, `${path}.token`) };
    }
    case "expire": {
      const f = record(value, path, ["type", "token", "leaseVersion"]);
      return { type, token: token(f.token, `${path}.token`), leaseVersion: int(f.leaseVersion, `${path}.leaseVersion`, 1) };
    }
    default:
      return fail(`${path}.type`, "acquire, renew, release or expire");
  }
}

function value(v: unknown, path: string, config: PaxosConfig): PaxosValue {
  return list(v, path, config.batchCommandsMax, (c, p) => lockCommand(c, p, config));
}

function answer(v: unknown, path: string, config: PaxosConfig): LockAnswer {
  const kind = typeof v === "object" && v !== null ? (v as Fields).kind : undefined;
  switch (kind) {
    case "granted":
    case "renewed": {
      const f = record(v, path, ["kind", "token", "leaseVersion", "ttlMs"]);
      return { kind, token: token(f.token, `${path}.token`), leaseVersion: int(f.leaseVersion, `${path}.leaseVersion`, 1), ttlMs: int(f.ttlMs, `${path}.ttlMs`, 1) };
    }
    case "held": {
      const f = record(v, path, ["kind", "holder", "token"]);
      return { kind, holder: holder(f.holder, `${path}.holder`, config), token: token(f.token, `${path}.token`) };
    }
    case "released":
    case "expired": {
      const f = record(v, path, ["kind", "token"]);
      return { kind, token: token(f.token, `${path}.token`) };
    }
    case "notHolder":
    case "staleLease":
    case "staleSequence":
      record(v, path, ["kind"]);
      return { kind };
    default:
      return fail(`${path}.kind`, "a lock answer kind");
  }
}

/** A key state from a peer (catch-up). Cross-field invariants are checked again on install. */
export function keyState(v: unknown, path: string, config: PaxosConfig): KeyState {
  const f = record(v, path, ["applied", "nextToken", "holder", "dedup"]);
  let lease: HolderLease | null = null;
  if (f.holder !== null) {
    const h = record(f.holder, `${path}.holder`, ["holder", "token", "leaseVersion", "ttlMs"]);
    lease = {
      holder: holder(h.holder, `${path}.holder.holder`, config),
      token: token(h.token, `${path}.holder.token`),
      leaseVersion: int(h.leaseVersion, `${path}.holder.leaseVersion`, 1),
      ttlMs: int(h.ttlMs, `${path}.holder.ttlMs`, config.ttlMsMin, config.ttlMsMax),
    };
  }
  const applied = instance(f.applied, `${path}.applied`, 1);
  const dedup = list(f.dedup, `${path}.dedup`, config.dedupClientsPerKeyMax, (r, p): DedupRecord => {
    const d = record(r, p, ["clientId", "seq", "answer", "instance"]);
    return {
      clientId: text(d.clientId, `${p}.clientId`, 1, config.clientIdBytesMax),
      seq: int(d.seq, `${p}.seq`, 0),
      answer: answer(d.answer, `${p}.answer`, config),
      instance: instance(d.instance, `${p}.instance`, 1),
    };
  });
  for (let i = 1; i < dedup.length; i++) if ((dedup[i - 1]?.clientId ?? "") >= (dedup[i]?.clientId ?? "")) fail(`${path}.dedup`, "records sorted by clientId");
  for (const r of dedup) if (r.instance > applied) fail(`${path}.dedup`, "instances at or below applied");
  const nextToken = token(f.nextToken, `${path}.nextToken`);
  if (lease !== null && lease.token >= nextToken) fail(`${path}.holder.token`, "a token below nextToken");
  return { applied, nextToken, holder: lease, dedup };
}

function message(raw: unknown, config: PaxosConfig): PaxosMessage {
  const kind = typeof raw === "object" && raw !== null ? (raw as Fields).kind : undefined;
  const env = (f: Fields) =>
    ({ from: region(f.from, "from", config), to: region(f.to, "to", config) }) as const;
  const window = config.instancesAheadMax * 4;
  switch (kind) {
    case "prepare": {
      const f = record(raw, "prepare", ["kind", "from", "to", "key", "ballot", "fromInstance"]);
      return { kind, ...env(f), key: key(f.key, "key", config), ballot: ballotOf(f.ballot, "ballot", config), fromInstance: instance(f.fromInstance, "fromInstance", 1) };
    }
    case "promise": {
      const f = record(raw, "promise", ["kind", "from", "to", "key", "ballot", "accepted", "chosenThrough"]);
      const accepted = list(f.accepted, "accepted", window, (e, p): AcceptedEntry => {
        const a = record(e, p, ["instance", "ballot", "value"]);
        return { instance: instance(a.instance, `${p}.instance`, 1), ballot: ballotOf(a.ballot, `${p}.ballot`, config), value: value(a.value, `${p}.value`, config) };
      });
      return { kind, ...env(f), key: key(f.key, "key", config), ballot: ballotOf(f.ballot, "ballot", config), accepted, chosenThrough: instance(f.chosenThrough, "chosenThrough") };
    }
    case "accept": {
      const f = record(raw, "accept", ["kind", "from", "to", "key", "ballot", "instance", "value"]);
      return { kind, ...env(f), key: key(f.key, "key", config), ballot: ballotOf(f.ballot, "ballot", config), instance: instance(f.instance, "instance", 1), value: value(f.value, "value", config) };
    }
    case "accepted": {
      const f = record(raw, "accepted", ["kind", "from", "to", "key", "ballot", "instance"]);
      return { kind, ...env(f), key: key(f.key, "key", config), ballot: ballotOf(f.ballot, "ballot", config), instance: instance(f.instance, "instance", 1) };
    }
    case "nack": {
      const f = record(raw, "nack", ["kind", "from", "to", "key", "ballot", "promised"]);
      return { kind, ...env(f), key: key(f.key, "key", config), ballot: ballotOf(f.ballot, "ballot", config), promised: ballotOf(f.promised, "promised", config) };
    }
    case "refused": {
      const f = record(raw, "refused", ["kind", "from", "to", "key", "ballot", "instance", "reason", "chosenThrough"]);
      const reason = f.reason;
      if (reason !== "overloaded" && reason !== "behind" && reason !== "chosen") fail("reason", "overloaded, behind or chosen");
      return { kind, ...env(f), key: key(f.key, "key", config), ballot: ballotOf(f.ballot, "ballot", config), instance: instance(f.instance, "instance", 1), reason, chosenThrough: instance(f.chosenThrough, "chosenThrough") };
    }
    case "chosen": {
      const f = record(raw, "chosen", ["kind", "from", "to", "key", "instance", "value"]);
      return { kind, ...env(f), key: key(f.key, "key", config), instance: instance(f.instance, "instance", 1), value: value(f.value, "value", config) };
    }
    case "catchUpRequest":
      return catchUpRequest(raw, config);
    case "catchUpReply":
      return catchUpReply(raw, config);
    default:
      return fail("kind", "a paxos message kind");
  }
}

/** The envelope key of catch-up messages may be "" (no key listed). */
function optionalKey(v: unknown, path: string, config: PaxosConfig): GlobalKey {
  return v === "" ? ("" as GlobalKey) : key(v, path, config);
}

function catchUpRequest(raw: unknown, config: PaxosConfig): PaxosMessage {
  const f = record(raw, "catchUpRequest", ["kind", "from", "to", "key", "known", "sweep"]);
  const known = list(f.known, "known", 4_096, (e, p) => {
    const k = record(e, p, ["key", "applied"]);
    return { key: key(k.key, `${p}.key`, config), applied: instance(k.applied, `${p}.applied`) };
  });
  let sweep: { after: string; through: string | null } | null = null;
  if (f.sweep !== null) {
    const s = record(f.sweep, "sweep", ["after", "through"]);
    sweep = { after: text(s.after, "sweep.after", 0, config.keyBytesMax), through: s.through === null ? null : text(s.through, "sweep.through", 1, config.keyBytesMax) };
  }
  return { kind: "catchUpRequest", from: region(f.from, "from", config), to: region(f.to, "to", config), key: optionalKey(f.key, "key", config), known, sweep };
}

function catchUpReply(raw: unknown, config: PaxosConfig): PaxosMessage {
  const f = record(raw, "catchUpReply", ["kind", "from", "to", "key", "states", "resumeAfter"]);
  const states = list(f.states, "states", 4_096, (e, p) => {
    const s = record(e, p, ["key", "state"]);
    return { key: key(s.key, `${p}.key`, config), state: keyState(s.state, `${p}.state`, config) };
  });
  const resumeAfter = f.resumeAfter === null ? null : text(f.resumeAfter, "resumeAfter", 1, config.keyBytesMax);
  return { kind: "catchUpReply", from: region(f.from, "from", config), to: region(f.to, "to", config), key: optionalKey(f.key, "key", config), states, resumeAfter };
}
