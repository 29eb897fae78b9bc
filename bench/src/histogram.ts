// A fixed-size latency histogram with logarithmic buckets, in the spirit of HdrHistogram.
//
// Values are whole microseconds. Below 128 µs every value has its own bucket; above, each
// power of two is split into 64 buckets, so a reported percentile is within 1/64 (1.6 %)
// of the true value. The counts live in one preallocated Float64Array: recording a value
// allocates nothing, which matters because the load generator records once per operation.

/** Buckets below this value are exact (one per microsecond). */
const EXACT_BUCKETS = 128;
/** Buckets per power of two above EXACT_BUCKETS. */
const SUB_BUCKETS = 64;
/** log2(SUB_BUCKETS): how many significant bits a bucket keeps. */
const SUB_BUCKET_BITS = 6;
/** The largest value kept as is; larger values are clamped (2^31 µs is about 36 minutes). */
export const HISTOGRAM_MAX_MICROS = 2 ** 31 - 1;
/** Highest shift used by a value <= HISTOGRAM_MAX_MICROS: its top bit is bit 30. */
const SHIFT_MAX = 30 - SUB_BUCKET_BITS;
const BUCKET_COUNT = EXACT_BUCKETS + SHIFT_MAX * SUB_BUCKETS;

/** Bucket index of a value in whole microseconds (0 <= micros <= HISTOGRAM_MAX_MICROS). */
export function bucketOf(micros: number): number {
  if (micros < EXACT_BUCKETS) return micros;
  const topBit = 31 - Math.clz32(micros);
  const shift = topBit - SUB_BUCKET_BITS;
  return EXACT_BUCKETS + (shift - 1) * SUB_BUCKETS + ((micros >>> shift) - SUB_BUCKETS);
}

/** The smallest value that falls into bucket `index`. */
export function bucketLowMicros(index: number): number {
  if (index < EXACT_BUCKETS) return index;
  const shift = Math.floor((index - EXACT_BUCKETS) / SUB_BUCKETS) + 1;
  const sub = ((index - EXACT_BUCKETS) % SUB_BUCKETS) + SUB_BUCKETS;
  return sub * 2 ** shift;
}

/** The width of bucket `index` in microseconds. */
function bucketWidthMicros(index: number): number {
  if (index < EXACT_BUCKETS) return 1;
  return 2 ** (Math.floor((index - EXACT_BUCKETS) / SUB_BUCKETS) + 1);
}

export class Histogram {
  private readonly counts = new Float64Array(BUCKET_COUNT);
  private total = 0;
  private sumMicros = 0;
  private minMicros = Number.POSITIVE_INFINITY;
  private maxMicros = 0;

  /** Records one latency given in milliseconds (as `performance.now()` differences are). */
  recordMs(ms: number): void {
    this.recordMicros(Math.round(ms * 1000));
  }

  recordMicros(micros: number): void {
    // A negative duration would mean a clock going backwards; keep it visible as 0, not a crash.
    const v = micros <= 0 ? 0 : micros >= HISTOGRAM_MAX_MICROS ? HISTOGRAM_MAX_MICROS : micros;
    const index = bucketOf(v);
    this.counts[index] = (this.counts[index] ?? 0) + 1;
    this.total += 1;
    this.sumMicros += v;
    if (v < this.minMicros) this.minMicros = v;
    if (v > this.maxMicros) this.maxMicros = v;
  }

  get count(): number {
    return this.total;
  }

  /**
   * The value at quantile q (0 < q <= 1) in milliseconds: the middle of the bucket holding the
   * ceil(q * count)-th smallest value, clamped to the exact min and max. 0 when empty.
   */
  quantileMs(q: number): number {
    if (!(q > 0 && q <= 1)) throw new Error(`quantile must be in (0, 1], got ${q}`);
    if (this.total === 0) return 0;
    const rank = Math.ceil(q * this.total);
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) {
        const mid = bucketLowMicros(i) + (bucketWidthMicros(i) - 1) / 2;
        return Math.min(this.maxMicros, Math.max(this.minMicros, mid)) / 1000;
      }
    }
    throw new Error(`histogram counts sum below total ${this.total}: corrupted buckets`);
  }

  get maxMs(): number {
    return this.maxMicros / 1000;
  }

  get minMs(): number {
    return this.total === 0 ? 0 : this.minMicros / 1000;
  }

  get meanMs(): number {
    return this.total === 0 ? 0 : this.sumMicros / this.total / 1000;
  }

  /** Adds every value recorded in `other` to this histogram. */
  merge(other: Histogram): void {
    for (let i = 0; i < BUCKET_COUNT; i++) {
      this.counts[i] = (this.counts[i] ?? 0) + (other.counts[i] ?? 0);
    }
    this.total += other.total;
    this.sumMicros += other.sumMicros;
    this.minMicros = Math.min(this.minMicros, other.minMicros);
    this.maxMicros = Math.max(this.maxMicros, other.maxMicros);
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.sumMicros = 0;
    this.minMicros = Number.POSITIVE_INFINITY;
    this.maxMicros = 0;
  }
}
