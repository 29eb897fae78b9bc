// The client's sense of time for lease deadlines. performance.now() is monotonic, but on
// Linux it stops while the machine is suspended, while the servers' clocks keep running: a
// laptop that sleeps through its TTL would wake up believing its lease is still good. The
// wall clock does see the suspension but may jump. Taking, since start, the larger of the
// two elapsed times (and never going back) can only make deadlines fire early, never late:
// a false "lost" is safe, a missed one is not.

export interface Clock {
  /** Milliseconds, never decreasing, never advancing slower than real time. */
  now(): number;
}

export function conservativeClock(): Clock {
  const monoStart = performance.now();
  const wallStart = Date.now();
  let last = 0;
  return {
    now(): number {
      const elapsed = Math.max(performance.now() - monoStart, Date.now() - wallStart);
      last = Math.max(last, elapsed);
      return last;
    },
  };
}
