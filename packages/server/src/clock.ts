// The server's only source of time. Monotonic (never the wall clock), so a clock step on
// the host cannot expire a session; with an optional skew and rate, so that jepsen-lite
// can run a node on a clock that is off or runs fast or slow (GEOLOCK_CLOCK_SKEW_MS,
// GEOLOCK_CLOCK_RATE).

import { performance } from "node:perf_hooks";

export interface Clock {
  /** Milliseconds on this node's monotonic clock (an integer). */
  nowMs(): number;
}

export class MonotonicClock implements Clock {
  private readonly origin = performance.now();

  constructor(private readonly skewMs = 0, private readonly rate = 1) {
    if (!Number.isFinite(skewMs) || !Number.isFinite(rate) || rate <= 0 || rate > 100) {
      throw new Error(`clock: skew ${skewMs} ms and rate ${rate} must be finite, rate in (0, 100]`);
    }
  }

  nowMs(): number {
    return Math.max(0, Math.floor(this.skewMs + (performance.now() - this.origin) * this.rate));
  }

  static fromEnv(env: NodeJS.ProcessEnv): MonotonicClock {
    const skew = Number(env["GEOLOCK_CLOCK_SKEW_MS"] ?? 0);
    const rate = Number(env["GEOLOCK_CLOCK_RATE"] ?? 1);
    // A positive base keeps readings well above zero even with a negative skew.
    return new MonotonicClock(1_000_000 + skew, rate);
  }
}
