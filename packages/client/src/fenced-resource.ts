// A reference fencing validator: what a database, object store or any service protected by
// a geolock lock should do with the token. It remembers, per lock name, the highest token it
// has accepted, and refuses any operation carrying a lower one: a holder that was paused
// past its lease (GC, SIGSTOP, a slow disk) and wakes up still believing it holds the lock
// is stopped here, at the resource, which is the only place that can stop it (Kleppmann
// 2016; Chubby's sequencers). Equal tokens pass: one holder may write many times.
//
// It orders writers; it does not make a multi-step update atomic. For shared locks, whose
// holders have different tokens at once, fence only the writers (exclusive holders).

import { GeolockError } from "./errors.js";

export type FenceResult = { readonly ok: true } | { readonly ok: false; readonly highestToken: number };

export interface FencedResourceOptions {
  /** Names remembered at most. A full resource refuses new names: forgetting one could let a stale token in. */
  readonly namesMax?: number;
}

export class FencedResource {
  private readonly highest = new Map<string, number>();
  private readonly namesMax: number;

  constructor(options: FencedResourceOptions = {}) {
    this.namesMax = options.namesMax ?? 100_000;
  }

  /** Whether an operation under `token` would be accepted now; changes nothing. */
  check(name: string, token: number): FenceResult {
    assertToken(token);
    const highest = this.highest.get(name);
    if (highest !== undefined && token < highest) return { ok: false, highestToken: highest };
    if (highest === undefined && this.highest.size >= this.namesMax) return { ok: false, highestToken: Number.MAX_SAFE_INTEGER };
    return { ok: true };
  }

  /** Accepts an operation under `token` (raising the bar to it), or refuses a stale one. */
  admit(name: string, token: number): FenceResult {
    const result = this.check(name, token);
    if (result.ok) this.highest.set(name, token);
    return result;
  }

  /** admit(), throwing GeolockError(STALE_TOKEN) on refusal, for code that prefers exceptions. */
  admitOrThrow(name: string, token: number): void {
    const result = this.admit(name, token);
    if (!result.ok) throw new GeolockError("STALE_TOKEN", `token ${token} for ${name} is stale: this resource already accepted token ${result.highestToken}`);
  }

  highestToken(name: string): number | undefined {
    return this.highest.get(name);
  }
}

function assertToken(token: number): void {
  if (!Number.isSafeInteger(token) || token < 1) throw new GeolockError("INVALID_ARGUMENT", `a fencing token is a positive integer, got ${token}`);
}
