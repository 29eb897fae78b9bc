// Shared test helpers: temporary data directories, identities and entry factories.

import { asIndex, asNodeId, asTerm } from "@geolock/raft";
import type { ConfState, Entry, EntryKind, HardState, Snapshot } from "@geolock/raft";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NodeIdentity } from "../src/index.js";

export const IDENTITY: NodeIdentity = { clusterId: "test-cluster", region: "eu-west", nodeId: 1 };

export const CONF: ConfState = { voters: [asNodeId(1), asNodeId(2), asNodeId(3)], learners: [] };

export async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "geolock-storage-"));
  try {
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Deterministic entry content, so a reader can tell an intact entry from garbage. */
export function payload(index: number, salt = 0): Uint8Array {
  return new TextEncoder().encode(`entry-${index}-${salt}`.repeat(1 + (index % 3)));
}

export function entry(index: number, term: number, kind: EntryKind = "normal", data: Uint8Array = payload(index)): Entry {
  return { index: asIndex(index), term: asTerm(term), kind, data };
}

export function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let index = from; index <= to; index++) out.push(entry(index, term));
  return out;
}

export function hard(term: number, vote: number, commit: number): HardState {
  return { term: asTerm(term), vote: asNodeId(vote), commit: asIndex(commit) };
}

export function snapshotAt(index: number, term: number, data: Uint8Array, confState: ConfState = CONF): Snapshot {
  return { metadata: { index: asIndex(index), term: asTerm(term), confState }, data };
}

export function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (seed * 31 + i * 7) & 0xff;
  return out;
}
