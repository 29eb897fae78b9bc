// The simulator's agenda: events ordered by virtual time, ties broken by the order they
// were scheduled in. That tie-break is what makes a run deterministic: two events due at
// the same microsecond always run in the same order, on every machine, for a given seed.

export interface Scheduled<T> {
  /** Virtual time in microseconds at which the event is due. */
  readonly atUs: number;
  /** Insertion sequence number, unique within the queue. */
  readonly seq: number;
  readonly event: T;
}

/** A binary min-heap on (atUs, seq), bounded so that a runaway schedule fails loudly. */
export class EventQueue<T> {
  private readonly heap: Scheduled<T>[] = [];
  private nextSeq = 0;

  constructor(private readonly maxEvents: number) {
    if (!Number.isInteger(maxEvents) || maxEvents <= 0) {
      throw new Error(`EventQueue: maxEvents must be a positive integer, got ${maxEvents}`);
    }
  }

  get size(): number {
    return this.heap.length;
  }

  push(atUs: number, event: T): Scheduled<T> {
    if (!Number.isSafeInteger(atUs) || atUs < 0) throw new Error(`EventQueue: bad time ${atUs}`);
    if (this.heap.length >= this.maxEvents) {
      throw new Error(`EventQueue: more than ${this.maxEvents} pending events (at ${atUs}us)`);
    }
    const item: Scheduled<T> = { atUs, seq: this.nextSeq++, event };
    this.heap.push(item);
    this.siftUp(this.heap.length - 1);
    return item;
  }

  peek(): Scheduled<T> | undefined {
    return this.heap[0];
  }

  pop(): Scheduled<T> | undefined {
    const top = this.heap[0];
    const last = this.heap.pop();
    if (top === undefined || last === undefined) return undefined;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private siftUp(start: number): void {
    const heap = this.heap;
    let i = start;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i] as Scheduled<T>, heap[parent] as Scheduled<T>)) return;
      swap(heap, i, parent);
      i = parent;
    }
  }

  private siftDown(start: number): void {
    const heap = this.heap;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let best = i;
      if (left < heap.length && before(heap[left] as Scheduled<T>, heap[best] as Scheduled<T>)) best = left;
      if (right < heap.length && before(heap[right] as Scheduled<T>, heap[best] as Scheduled<T>)) best = right;
      if (best === i) return;
      swap(heap, i, best);
      i = best;
    }
  }
}

function before<T>(a: Scheduled<T>, b: Scheduled<T>): boolean {
  return a.atUs < b.atUs || (a.atUs === b.atUs && a.seq < b.seq);
}

function swap<T>(heap: T[], i: number, j: number): void {
  const tmp = heap[i] as T;
  heap[i] = heap[j] as T;
  heap[j] = tmp;
}
