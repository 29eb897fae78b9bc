// What a region's Raft log carries: two kinds of commands in one log, each wrapped in a small
// tagged envelope, so that every replica dispatches an entry to the part that owns it:
//   { k: "lock",  c: <regional lock command> }   -> LockService (packages/locks)
//   { k: "lockRows", c: [[<field>, ...], ...] }        -> LockService, in order (the
//                                                   leader's batch: each command an array
//                                                   of its fields in COMMAND_FIELDS order)
//   { k: "locks", c: [<regional lock command>, ...] }  -> the same as maps: a batch with a
//                                                   command of other fields, and logs
//                                                   written before rows existed
//   { k: "paxos", c: <Paxos replica command> }   -> GlobalService (packages/paxos)
// One log keeps the two apply orders consistent with each other and needs no second group.

import { COMMAND_FIELDS } from "@geolock/locks";
import { decodePlain, encodeValue } from "@geolock/transport";

/** Nesting an entry may have: the envelope plus the deepest Paxos command (installKey). */
const ENTRY_DECODE_DEPTH = 16;

export type DecodedEntry =
  | { readonly kind: "lock"; readonly command: unknown }
  | { readonly kind: "lockBatch"; readonly commands: readonly unknown[] }
  | { readonly kind: "paxos"; readonly command: unknown }
  /** Bytes that are no valid entry: handed to the lock machine, which answers them deterministically. */
  | { readonly kind: "undecodable"; readonly reason: string };

export function encodeLockEntry(command: unknown): Uint8Array {
  return encodeValue({ k: "lock", c: command });
}

/**
 * A batch as rows when every command has exactly its type's fields (a stamped command
 * always does), as maps otherwise: a row cannot say that a field is missing or extra, and a
 * follower must validate what the leader validated.
 */
export function encodeLockBatchEntry(commands: readonly unknown[]): Uint8Array {
  const rows: unknown[][] = [];
  for (const command of commands) {
    const row = commandRow(command);
    if (row === undefined) return encodeValue({ k: "locks", c: commands });
    rows.push(row);
  }
  return encodeValue({ k: "lockRows", c: rows });
}

/** The command's field values in COMMAND_FIELDS order, or undefined unless it has exactly those fields. */
function commandRow(command: unknown): unknown[] | undefined {
  if (typeof command !== "object" || command === null || Array.isArray(command)) return undefined;
  const fields = command as Record<string, unknown>;
  const type = fields["type"];
  if (typeof type !== "string" || !Object.hasOwn(COMMAND_FIELDS, type)) return undefined;
  const names = COMMAND_FIELDS[type as keyof typeof COMMAND_FIELDS];
  let own = 0;
  for (const key in fields) if (Object.hasOwn(fields, key)) own += 1;
  if (own !== names.length) return undefined;
  const row: unknown[] = [];
  for (const name of names) {
    if (!Object.hasOwn(fields, name)) return undefined;
    row.push(fields[name]);
  }
  return row;
}

/**
 * A row back as the map it was made from. Anything that is no row of a known type is handed
 * on as it is, for the lock machine to refuse (an array is no command) like any bad command.
 */
function rowCommand(row: unknown): unknown {
  if (!Array.isArray(row) || typeof row[0] !== "string" || !Object.hasOwn(COMMAND_FIELDS, row[0])) return row;
  const names = COMMAND_FIELDS[row[0] as keyof typeof COMMAND_FIELDS];
  if (row.length !== names.length) return row;
  const command: Record<string, unknown> = {};
  for (let i = 0; i < names.length; i++) command[names[i] as string] = row[i];
  return command;
}

export function encodePaxosEntry(command: unknown): Uint8Array {
  return encodeValue({ k: "paxos", c: command });
}

/** A surrogate code point on its own: a `u` regex reads a well-formed pair as one astral code point. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Whether a flat command comes back from encodeValue and decodePlain with the same values:
 * only well-formed strings and numbers other than -0 do (MessagePack has no lone surrogate,
 * no undefined and no negative zero integer). Only such commands may be applied from the
 * leader's memory in place of the bytes it encoded from them (LockService.ownEntry): a
 * follower applies what the bytes decode to, and the two must apply alike.
 */
export function survivesEncoding(command: object): boolean {
  // A class instance encodes as a plain map, which a follower would accept and the leader's
  // validator (plain or null-prototype objects only) would not.
  const proto: unknown = Object.getPrototypeOf(command);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key in command) {
    const value: unknown = (command as Record<string, unknown>)[key];
    if (typeof value === "string") {
      if (LONE_SURROGATE.test(value)) return false;
    } else if (typeof value !== "number" || Object.is(value, -0)) {
      return false;
    }
  }
  return true;
}

/**
 * Decodes an entry's envelope; the command inside is still untrusted (each part validates its
 * own). A map without `k` is a lock command written before envelopes existed: data
 * directories from that time keep working.
 */
export function decodeEntry(data: Uint8Array): DecodedEntry {
  const decoded = decodePlain(data, ENTRY_DECODE_DEPTH);
  if (!decoded.ok) return { kind: "undecodable", reason: decoded.reason };
  const value = decoded.value;
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { kind: "lock", command: value };
  const fields = value as Record<string, unknown>;
  if (!("k" in fields)) return { kind: "lock", command: value };
  const keys = Object.keys(fields);
  if (keys.length !== 2 || !("c" in fields)) return { kind: "undecodable", reason: `envelope fields ${keys.join(",")}` };
  if (fields["k"] === "lock") return { kind: "lock", command: fields["c"] };
  if (fields["k"] === "lockRows") {
    const rows = fields["c"];
    return Array.isArray(rows) ? { kind: "lockBatch", commands: rows.map(rowCommand) } : { kind: "undecodable", reason: "a lock batch must be an array" };
  }
  if (fields["k"] === "locks") {
    const commands = fields["c"];
    return Array.isArray(commands) ? { kind: "lockBatch", commands } : { kind: "undecodable", reason: "a lock batch must be an array" };
  }
  if (fields["k"] === "paxos") return { kind: "paxos", command: fields["c"] };
  return { kind: "undecodable", reason: `unknown entry kind ${JSON.stringify(fields["k"])}` };
}
