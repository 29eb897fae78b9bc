// Log matching, checked incrementally. Every entry a node's log takes in (from a Ready,
// so unstable entries count as soon as the core hands them out) gets a chain hash: the hash
// of the previous entry's chain hash and this entry. Two logs agree up to an index exactly
// when their chain hashes there are equal (up to hash collisions), so the Log Matching
// property becomes one lookup per entry: the first chain hash seen for (index, term) is
// remembered, and any node that later holds (index, term) with another hash has a log that
// differs from it somewhere before.

import type { Entry, NodeId, MemoryStorage } from "@geolock/raft";
import { FNV_OFFSET, fnvBytes, fnvNumber, fnvString } from "./hash.js";
import { violated } from "./violation.js";

/** A node's log as chain hashes: hashes[k] and terms[k] describe index base + k. */
interface NodeChain {
  base: number;
  hashes: number[];
  terms: number[];
}

const TERM_LIMIT = 1 << 20;

function key(index: number, term: number): number {
  if (term >= TERM_LIMIT) throw new Error(`LogChains: term ${term} beyond the ${TERM_LIMIT} the keys can hold`);
  return index * TERM_LIMIT + term;
}

export function chainHash(previous: number, entry: Entry): number {
  let h = fnvNumber(previous, entry.index);
  h = fnvNumber(h, entry.term);
  h = fnvString(h, entry.kind);
  return fnvBytes(h, entry.data);
}

export class LogChains {
  /** The first chain hash seen for each (index, term), across all nodes. */
  private readonly known = new Map<number, number>();
  private readonly chains = new Map<NodeId, NodeChain>();

  constructor(private readonly entriesMax: number) {}

  /** The node's log takes `entries`, replacing any suffix from entries[0].index on. */
  append(node: NodeId, entries: readonly Entry[]): void {
    const chain = this.chainOf(node);
    for (const entry of entries) {
      if (entry.index <= chain.base) continue;
      const offset = entry.index - chain.base;
      if (offset > chain.hashes.length) {
        violated("logMatching", `node ${node} appends ${entry.index}@${entry.term} after last index ${this.lastIndex(node)}`);
      }
      chain.hashes.length = offset;
      chain.terms.length = offset;
      const hash = chainHash(chain.hashes[offset - 1] as number, entry);
      this.remember(node, entry.index, entry.term, hash);
      chain.hashes.push(hash);
      chain.terms.push(entry.term);
    }
  }

  /** The node installed a snapshot at (index, term): its log now starts there. */
  installSnapshot(node: NodeId, index: number, term: number): void {
    const chain = this.chainOf(node);
    if (index < chain.base) throw new Error(`LogChains: node ${node} installs a snapshot at ${index} below its log start ${chain.base}`);
    if (this.termAt(node, index) === term) {
      // The log agrees with the snapshot, so the entries after it stay (as in storage).
      const drop = index - chain.base;
      chain.base = index;
      chain.hashes = chain.hashes.slice(drop);
      chain.terms = chain.terms.slice(drop);
      return;
    }
    this.chains.set(node, { base: index, hashes: [this.knownHash(index, term)], terms: [term] });
  }

  /** After a restart the log is what the disk holds; rebuild the node's chain from it. */
  rebuild(node: NodeId, storage: MemoryStorage): void {
    const base = storage.firstIndex() - 1;
    const baseTerm = storage.term(base as Entry["index"]);
    this.chains.set(node, { base, hashes: [this.knownHash(base, baseTerm)], terms: [baseTerm] });
    const last = storage.lastIndex();
    if (last > base) this.append(node, storage.entries(storage.firstIndex(), (last + 1) as Entry["index"], Number.MAX_SAFE_INTEGER));
  }

  lastIndex(node: NodeId): number {
    const chain = this.chainOf(node);
    return chain.base + chain.hashes.length - 1;
  }

  /** The first index whose entry the chain still describes (the snapshot's). */
  baseIndex(node: NodeId): number {
    return this.chainOf(node).base;
  }

  termAt(node: NodeId, index: number): number | undefined {
    const chain = this.chainOf(node);
    return index < chain.base ? undefined : chain.terms[index - chain.base];
  }

  hashAt(node: NodeId, index: number): number | undefined {
    const chain = this.chainOf(node);
    return index < chain.base ? undefined : chain.hashes[index - chain.base];
  }

  private remember(node: NodeId, index: number, term: number, hash: number): void {
    const k = key(index, term);
    const seen = this.known.get(k);
    if (seen === undefined) {
      if (this.known.size >= this.entriesMax) throw new Error(`LogChains: more than ${this.entriesMax} distinct entries`);
      this.known.set(k, hash);
    } else if (seen !== hash) {
      violated("logMatching", `node ${node} holds ${index}@${term}, but its log up to there differs from another node's that holds ${index}@${term}`);
    }
  }

  private knownHash(index: number, term: number): number {
    if (index === 0) return FNV_OFFSET;
    const hash = this.known.get(key(index, term));
    if (hash === undefined) throw new Error(`LogChains: no node ever held ${index}@${term}, yet a log starts there`);
    return hash;
  }

  private chainOf(node: NodeId): NodeChain {
    let chain = this.chains.get(node);
    if (chain === undefined) {
      chain = { base: 0, hashes: [FNV_OFFSET], terms: [0] };
      this.chains.set(node, chain);
    }
    return chain;
  }
}
