// The default simulated application: a tiny key-value store that also folds every applied
// entry into a running digest. Two replicas that applied the same entries in the same
// order have equal snapshots byte for byte; any divergence, even in entries that do not
// parse as commands, changes the digest.

import type { Entry } from "@geolock/raft";
import type { Application } from "./application.js";
import { FNV_OFFSET, fnvBytes, fnvNumber, hex32 } from "./hash.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A command the simulated clients propose: "set <key> <value>". */
export function encodeSet(key: string, value: string): Uint8Array {
  if (/\s/.test(key) || /\s/.test(value)) throw new Error(`encodeSet: key and value must not contain spaces: "${key}" "${value}"`);
  return encoder.encode(`set ${key} ${value}`);
}

interface KvImage {
  readonly digest: number;
  readonly applied: number;
  readonly kv: readonly (readonly [string, string])[];
}

export class KvApp implements Application {
  private digest = FNV_OFFSET;
  private applied = 0;
  private readonly kv = new Map<string, string>();

  apply(entry: Entry): void {
    this.digest = fnvNumber(this.digest, entry.index);
    this.digest = fnvNumber(this.digest, entry.term);
    this.digest = fnvBytes(this.digest, entry.data);
    this.applied += 1;
    if (entry.kind !== "normal" || entry.data.length === 0) return;
    const parts = decoder.decode(entry.data).split(" ");
    if (parts.length === 3 && parts[0] === "set") this.kv.set(parts[1] as string, parts[2] as string);
  }

  snapshot(): Uint8Array {
    // Sorted so that equal maps give equal bytes whatever order the keys were set in.
    const kv = [...this.kv.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const image: KvImage = { digest: this.digest, applied: this.applied, kv };
    return encoder.encode(JSON.stringify(image));
  }

  restore(bytes: Uint8Array): void {
    const image = JSON.parse(decoder.decode(bytes)) as KvImage;
    if (typeof image.digest !== "number" || typeof image.applied !== "number" || !Array.isArray(image.kv)) {
      throw new Error(`KvApp: not a snapshot of mine: ${decoder.decode(bytes.subarray(0, 80))}`);
    }
    this.digest = image.digest;
    this.applied = image.applied;
    this.kv.clear();
    for (const [key, value] of image.kv) this.kv.set(key, value);
  }

  get(key: string): string | undefined {
    return this.kv.get(key);
  }

  /** The running digest over every entry applied so far, as hex. */
  fingerprint(): string {
    return `${hex32(this.digest)}/${this.applied}`;
  }
}
