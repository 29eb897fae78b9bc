// Each simulated node's monotonic clock, as the server reads it to stamp lock commands
// (packages/server/src/clock.ts): whole milliseconds from an arbitrary origin, running at
// the node's own rate (the drift its Raft ticks run with). Like performance.now() in a new
// process, a restart begins a new reading near the same base, so a restarted leader's
// stamps may be far below the ones it made before: the lock machine must only compare
// stamps within one term.

import type { SeededRng } from "@geolock/raft";

/** The server's clock starts at this base (MonotonicClock.fromEnv). */
const CLOCK_BASE_MS = 1_000_000;
/** Process start-up jitter added to the base at every (re)start. */
const START_JITTER_MS = 1000;

interface Reading {
  baseMs: number;
  startUs: number;
}

export class NodeClocks {
  private readonly readings: Reading[];

  /** @param rates each node's clock rate relative to virtual time (1 = exact). */
  constructor(
    private readonly rates: readonly number[],
    private readonly rng: SeededRng,
  ) {
    this.readings = rates.map(() => ({ baseMs: CLOCK_BASE_MS, startUs: 0 }));
  }

  /** The node's process (re)starts at virtual time nowUs. */
  restart(node: number, nowUs: number): void {
    this.reading(node).baseMs = CLOCK_BASE_MS + this.rng.nextInt(START_JITTER_MS);
    this.reading(node).startUs = nowUs;
  }

  nowMs(node: number, nowUs: number): number {
    const r = this.reading(node);
    return Math.floor(r.baseMs + ((nowUs - r.startUs) * (this.rates[node - 1] as number)) / 1000);
  }

  private reading(node: number): Reading {
    const r = this.readings[node - 1];
    if (r === undefined) throw new Error(`NodeClocks: no node ${node}`);
    return r;
  }
}
