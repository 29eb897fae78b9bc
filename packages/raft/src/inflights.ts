// The window of append messages sent to one follower and not yet acknowledged, as a ring
// of the last index each message carried. Bounding it bounds what a slow follower can cost
// the leader in memory and bandwidth (flow control, as etcd's tracker/inflights.go).

export class Inflights {
  /** Ring storage; the live items are buffer[start .. start+count) modulo capacity. */
  private readonly buffer: number[];
  private start = 0;
  /** Invariant: 0 <= count <= capacity, and the live items strictly increase. */
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`inflights: capacity must be a positive integer, got ${capacity}`);
    this.buffer = new Array<number>(capacity).fill(0);
  }

  get size(): number {
    return this.count;
  }

  full(): boolean {
    return this.count === this.capacity;
  }

  /** Records a message whose last entry is `lastIndex`; indexes must increase. */
  add(lastIndex: number): void {
    if (this.full()) throw new Error(`inflights: add(${lastIndex}) to a full window of ${this.capacity}`);
    if (this.count > 0) {
      const last = this.buffer[(this.start + this.count - 1) % this.capacity] as number;
      if (lastIndex <= last) throw new Error(`inflights: add(${lastIndex}) does not exceed the last in flight ${last}`);
    }
    this.buffer[(this.start + this.count) % this.capacity] = lastIndex;
    this.count++;
  }

  /** Frees every message whose last index is at or below `index` (they are acknowledged). */
  freeLE(index: number): void {
    while (this.count > 0 && (this.buffer[this.start] as number) <= index) {
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
  }

  /** Frees the oldest message: a heartbeat answer shows the link works, so let one more through. */
  freeFirstOne(): void {
    if (this.count === 0) return;
    this.start = (this.start + 1) % this.capacity;
    this.count--;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}
