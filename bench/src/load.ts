// A closed-loop load generator: `concurrency` workers, each awaiting one operation after the
// other, as the clients of a lock service do. A warm-up phase lets connections, JIT and
// caches settle; then only operations that complete inside the measured window count.
//
// Bounded: the window ends at its deadline or after `maxOps` measured operations, whichever
// comes first, and the run returns at most `drainMs` after that even if some operation never
// resolves (a hung operation is reported in `unfinishedWorkers`, never waited for forever).
// Per operation it allocates nothing itself: timestamps are doubles from performance.now()
// and latencies go into preallocated histograms.

import { performance } from "node:perf_hooks";
import { Histogram } from "./histogram.js";

/**
 * One operation of worker `worker` (0-based). It may return the duration in milliseconds of
 * its interesting part, e.g. the acquire wait inside an acquire+release cycle; those are
 * summarised as `partLatency`.
 */
export type Operation = (worker: number) => Promise<number | void>;

export interface LoadOptions {
  /** Number of concurrent closed-loop workers, >= 1. */
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  /** Upper bound on measured operations (and, separately, on warm-up operations). */
  readonly maxOps: number;
  /** After this many failed operations the run stops and rejects with the first error. */
  readonly maxErrors?: number;
  /** How long to wait for in-flight operations once the window is over. */
  readonly drainMs?: number;
  readonly op: Operation;
}

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

export interface Fairness {
  /** Jain's fairness index over per-worker counts: 1 when all equal, 1/n when one worker did all. */
  readonly jain: number;
  readonly min: number;
  readonly max: number;
}

export interface LoadResult {
  readonly concurrency: number;
  /** Operations completed inside the measured window. */
  readonly ops: number;
  /** Operations that threw, warm-up included (never counted in `ops` or the latencies). */
  readonly errors: number;
  /** Length of the measured window actually used (shorter if `maxOps` was reached). */
  readonly elapsedMs: number;
  readonly opsPerSecond: number;
  readonly latency: LatencySummary;
  readonly partLatency?: LatencySummary;
  /** Measured operations per worker, index = worker. */
  readonly perWorker: readonly number[];
  readonly fairness: Fairness;
  /** Workers whose last operation had not resolved when the run returned. */
  readonly unfinishedWorkers: number;
}

const DEFAULT_MAX_ERRORS = 100;
const DEFAULT_DRAIN_MS = 10_000;

export function summarize(h: Histogram): LatencySummary {
  return {
    count: h.count,
    p50Ms: h.quantileMs(0.5),
    p90Ms: h.quantileMs(0.9),
    p99Ms: h.quantileMs(0.99),
    p999Ms: h.quantileMs(0.999),
    maxMs: h.maxMs,
    meanMs: h.meanMs,
  };
}

/** Jain's index (sum x)^2 / (n * sum x^2), with min and max; an all-zero input counts as fair. */
export function fairnessOf(counts: readonly number[]): Fairness {
  if (counts.length === 0) throw new Error("fairness of zero workers is undefined");
  let sum = 0;
  let sumSquares = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  for (const x of counts) {
    sum += x;
    sumSquares += x * x;
    min = Math.min(min, x);
    max = Math.max(max, x);
  }
  const jain = sumSquares === 0 ? 1 : (sum * sum) / (counts.length * sumSquares);
  return { jain, min, max };
}

function validate(o: LoadOptions): void {
  const ok =
    Number.isInteger(o.concurrency) && o.concurrency >= 1 &&
    o.warmupMs >= 0 && o.measureMs > 0 && Number.isInteger(o.maxOps) && o.maxOps >= 1;
  if (!ok) {
    throw new Error(
      `invalid load options: concurrency=${o.concurrency} warmupMs=${o.warmupMs} ` +
        `measureMs=${o.measureMs} maxOps=${o.maxOps}`,
    );
  }
}

/** Runs the closed loop described by `options` and summarises the measured window. */
export async function runClosedLoop(options: LoadOptions): Promise<LoadResult> {
  validate(options);
  const run = new LoadRun(options);
  return run.execute();
}

/** The mutable state of one run, shared by its workers. */
class LoadRun {
  private readonly latency = new Histogram();
  private readonly partLatency = new Histogram();
  private readonly perWorker: number[];
  private readonly maxErrors: number;
  private warmupEnd = 0;
  private measureEnd = 0;
  /** When the window actually ended: its deadline, or the moment maxOps was reached. */
  private windowEnd = 0;
  private warmupOps = 0;
  private measuredOps = 0;
  private errors = 0;
  private firstError: unknown = undefined;
  private stopped = false;
  private running = 0;

  constructor(private readonly o: LoadOptions) {
    this.perWorker = new Array<number>(o.concurrency).fill(0);
    this.maxErrors = o.maxErrors ?? DEFAULT_MAX_ERRORS;
  }

  async execute(): Promise<LoadResult> {
    this.startWindow(performance.now() + this.o.warmupMs);
    const workers: Promise<void>[] = [];
    for (let w = 0; w < this.o.concurrency; w++) workers.push(this.worker(w));
    await this.waitForWorkers(workers);
    if (this.errors > this.maxErrors) {
      throw new Error(`load run aborted after ${this.errors} failed operations; first: ${describe(this.firstError)}`);
    }
    return this.result();
  }

  /** Resolves when every worker is done, or `drainMs` after the window, whichever is first. */
  private async waitForWorkers(workers: Promise<void>[]): Promise<void> {
    const all = Promise.all(workers);
    const totalMs = this.o.warmupMs + this.o.measureMs + (this.o.drainMs ?? DEFAULT_DRAIN_MS);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, totalMs);
    });
    try {
      await Promise.race([all, deadline]);
    } finally {
      clearTimeout(timer);
      this.stopped = true;
    }
  }

  private async worker(w: number): Promise<void> {
    this.running += 1;
    try {
      while (!this.stopped) {
        const t0 = performance.now();
        let part: number | void = undefined;
        let failed = false;
        try {
          part = await this.o.op(w);
        } catch (err) {
          failed = true;
          this.firstError ??= err;
        }
        this.account(w, t0, performance.now(), part, failed);
      }
    } finally {
      this.running -= 1;
    }
  }

  /** Files one finished operation under warm-up or the window, and decides whether to stop. */
  private account(w: number, t0: number, t1: number, part: number | void, failed: boolean): void {
    if (this.stopped) return;
    if (t1 < this.warmupEnd) {
      this.warmupOps += 1;
      if (failed) this.countError();
      // Warm-up ends by time or, for very fast operations, after maxOps of them.
      if (this.warmupOps >= this.o.maxOps) this.startWindow(t1);
      return;
    }
    if (t1 >= this.measureEnd) {
      this.stopped = true;
      return;
    }
    if (failed) {
      this.countError();
      return;
    }
    this.measuredOps += 1;
    this.perWorker[w] = (this.perWorker[w] ?? 0) + 1;
    this.latency.recordMs(t1 - t0);
    if (typeof part === "number") this.partLatency.recordMs(part);
    if (this.measuredOps >= this.o.maxOps) {
      this.windowEnd = t1;
      this.stopped = true;
    }
  }

  private startWindow(now: number): void {
    this.warmupEnd = now;
    this.measureEnd = now + this.o.measureMs;
    this.windowEnd = this.measureEnd;
  }

  private countError(): void {
    this.errors += 1;
    if (this.errors > this.maxErrors) this.stopped = true;
  }

  private result(): LoadResult {
    // A window that ran to its deadline lasted exactly measureMs; (start + measureMs) - start
    // need not equal measureMs in floating point.
    const windowMs = this.windowEnd === this.measureEnd ? this.o.measureMs : this.windowEnd - this.warmupEnd;
    const elapsedMs = Math.max(windowMs, Number.MIN_VALUE);
    return {
      concurrency: this.o.concurrency,
      ops: this.measuredOps,
      errors: this.errors,
      elapsedMs,
      opsPerSecond: (this.measuredOps * 1000) / elapsedMs,
      latency: summarize(this.latency),
      ...(this.partLatency.count > 0 ? { partLatency: summarize(this.partLatency) } : {}),
      perWorker: this.perWorker.slice(),
      fairness: fairnessOf(this.perWorker),
      unfinishedWorkers: this.running,
    };
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
