// The linearizability search for one key: Wing & Gong's backtracking search with Lowe's
// just-in-time linearization and a cache of visited configurations, as Porcupine and
// Knossos use it. Written from the papers' ideas; see README.md for the outline.
//
// Operations live in a doubly linked list of call and return entries in real-time order.
// A configuration is (set of linearized operations, model state). From a configuration the
// candidates are the calls before the first return still in the list: the operation of
// that return must be linearized before anything that starts after it. Linearizing a
// candidate lifts its call and return out of the list; backtracking puts them back (dancing
// links, undone in reverse order).
//
// Unknown (info) operations never return, so they are kept in a separate list of calls and
// tried only after the required candidates: the search needs them only when nothing else
// explains what follows. Leaving one out is "it never took effect". Their linearized set is
// kept out of the exact cache key: a configuration is pruned when one with the same
// required set and state, and a subset of its unknown operations, was visited before,
// because that one had every option this one has. (An unknown acquire followed by an
// unknown release of the same session returns to the state before: that detour is pruned.)
// For the same reason placing one that does not change the state is never tried.

import type { Model } from "./model.js";

export interface SearchOp<I> {
  readonly input: I;
  /** Event positions; for an optional operation only the invoke matters. */
  readonly invokeIndex: number;
  readonly completeIndex: number;
}

export interface SearchLimits {
  /** Loop iterations (model steps plus list moves) before giving up with "unknown". */
  readonly maxSteps: number;
  /** Visited configurations kept before giving up with "unknown". */
  readonly maxCacheEntries: number;
  /** performance.now() value after which the search gives up. */
  readonly deadlineMs: number;
  readonly now: () => number;
}

export type SearchStop = "step-limit" | "cache-limit" | "time-limit";

/** Operation references: required ops are 0..R-1, optional ops R..R+O-1. */
export interface SearchFailure {
  /** The longest sequence of operations the search managed to linearize. */
  readonly longest: readonly number[];
  /** The model state after `longest`, described. */
  readonly stateAfter: string;
  /** The required operation whose completion came before it could be placed. */
  readonly blocker: number;
  /** The operations that could have gone next but none of which fit. */
  readonly candidates: readonly number[];
}

export type SearchResult =
  | { readonly kind: "linearizable"; readonly steps: number; readonly cacheEntries: number; readonly order: readonly number[] }
  | { readonly kind: "not-linearizable"; readonly steps: number; readonly cacheEntries: number; readonly failure: SearchFailure }
  | { readonly kind: "unknown"; readonly steps: number; readonly cacheEntries: number; readonly stop: SearchStop };

const NONE = -1;
const DEADLINE_CHECK_STEPS = 1024;

/** The set of linearized required operations, with an exact, short text key. */
class RequiredSet {
  private readonly words: Uint32Array;
  /** Every id below lowWater is in the set; lowWater itself is not. */
  private lowWater = 0;
  /** The largest id in the set, or -1. */
  private maxId = -1;

  constructor(private readonly size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32) + 1);
  }

  has(id: number): boolean {
    return ((this.words[id >>> 5] as number) & (1 << (id & 31))) !== 0;
  }

  add(id: number): void {
    this.words[id >>> 5] = (this.words[id >>> 5] as number) | (1 << (id & 31));
    if (id > this.maxId) this.maxId = id;
    while (this.lowWater < this.size && this.has(this.lowWater)) this.lowWater++;
  }

  delete(id: number): void {
    this.words[id >>> 5] = (this.words[id >>> 5] as number) & ~(1 << (id & 31));
    if (id < this.lowWater) this.lowWater = id;
    while (this.maxId >= 0 && !this.has(this.maxId)) this.maxId--;
  }

  /** Exact: the low water mark plus the words from it to the largest member. */
  key(): string {
    if (this.maxId < this.lowWater) return `${this.lowWater}`;
    let key = `${this.lowWater}:`;
    for (let w = this.lowWater >>> 5; w <= this.maxId >>> 5; w++) key += `${(this.words[w] as number).toString(36)},`;
    return key;
  }
}

/** The set of linearized unknown operations, as bit words. */
class OptionalSet {
  private readonly words: Uint32Array;
  count = 0;

  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32) + 1);
  }

  add(id: number): void {
    this.words[id >>> 5] = (this.words[id >>> 5] as number) | (1 << (id & 31));
    this.count++;
  }

  delete(id: number): void {
    this.words[id >>> 5] = (this.words[id >>> 5] as number) & ~(1 << (id & 31));
    this.count--;
  }

  /** A copy trimmed of trailing zero words. */
  snapshot(): Uint32Array {
    if (this.count === 0) return EMPTY_WORDS;
    let end = this.words.length;
    while (end > 0 && this.words[end - 1] === 0) end--;
    return this.words.slice(0, end);
  }

  /** Whether every member of `other` is in this set. */
  includes(other: Uint32Array): boolean {
    for (let w = 0; w < other.length; w++) if (((other[w] as number) & ~(this.words[w] as number)) !== 0) return false;
    return true;
  }

  /** Whether every member of this set is in `other`. */
  within(other: Uint32Array): boolean {
    if (this.count === 0) return true;
    for (let w = 0; w < this.words.length; w++) if (((this.words[w] as number) & ~(other[w] ?? 0)) !== 0) return false;
    return true;
  }
}

const EMPTY_WORDS = new Uint32Array(0);

/**
 * Visited configurations: exact key of (state, required set) -> the unknown-operation sets
 * seen with it, kept as an antichain (no stored set contains another).
 */
class VisitedCache {
  private readonly seen = new Map<string, Uint32Array[]>();
  entries = 0;

  /** Records the configuration; false when an equal or stronger one was visited already. */
  visit(key: string, optional: OptionalSet): boolean {
    const sets = this.seen.get(key);
    if (sets === undefined) {
      this.seen.set(key, [optional.snapshot()]);
      this.entries++;
      return true;
    }
    for (const set of sets) if (optional.includes(set)) return false;
    // The new set is stronger than any stored superset of it: those can go.
    let kept = 0;
    for (const set of sets) if (!optional.within(set)) sets[kept++] = set;
    this.entries -= sets.length - kept;
    sets.length = kept;
    sets.push(optional.snapshot());
    this.entries++;
    return true;
  }
}

/** The two linked lists: required calls and returns by event position; optional calls by invoke. */
class EntryLists {
  // Required entry e: call of op e>>1 when e is even, its return when odd. Head sentinel 2R.
  readonly next: Int32Array;
  readonly prev: Int32Array;
  readonly position: Float64Array;
  readonly head: number;
  // Optional op o has entry o; head sentinel O.
  readonly optNext: Int32Array;
  readonly optPrev: Int32Array;
  readonly optHead: number;

  constructor(required: readonly SearchOp<unknown>[], optional: readonly SearchOp<unknown>[]) {
    const r = required.length;
    this.head = 2 * r;
    this.next = new Int32Array(2 * r + 1);
    this.prev = new Int32Array(2 * r + 1);
    this.position = new Float64Array(2 * r);
    required.forEach((op, i) => {
      if (!(op.invokeIndex < op.completeIndex)) throw new Error(`operation ${i} completes (${op.completeIndex}) before its invoke (${op.invokeIndex})`);
      this.position[2 * i] = op.invokeIndex;
      this.position[2 * i + 1] = op.completeIndex;
    });
    const order = Array.from({ length: 2 * r }, (_, e) => e).sort((a, b) => (this.position[a] as number) - (this.position[b] as number));
    link(this.next, this.prev, this.head, order);
    this.optHead = optional.length;
    this.optNext = new Int32Array(optional.length + 1);
    this.optPrev = new Int32Array(optional.length + 1);
    const optOrder = Array.from({ length: optional.length }, (_, o) => o).sort(
      (a, b) => (optional[a] as SearchOp<unknown>).invokeIndex - (optional[b] as SearchOp<unknown>).invokeIndex,
    );
    link(this.optNext, this.optPrev, this.optHead, optOrder);
  }

  /** Removes a required op's call and return; undone by restoreRequired in reverse order. */
  liftRequired(op: number): void {
    unlink(this.next, this.prev, 2 * op);
    unlink(this.next, this.prev, 2 * op + 1);
  }

  restoreRequired(op: number): void {
    relink(this.next, this.prev, 2 * op + 1);
    relink(this.next, this.prev, 2 * op);
  }

  liftOptional(op: number): void {
    unlink(this.optNext, this.optPrev, op);
  }

  restoreOptional(op: number): void {
    relink(this.optNext, this.optPrev, op);
  }
}

function link(next: Int32Array, prev: Int32Array, head: number, order: readonly number[]): void {
  let last = head;
  for (const e of order) {
    next[last] = e;
    prev[e] = last;
    last = e;
  }
  next[last] = NONE;
}

function unlink(next: Int32Array, prev: Int32Array, e: number): void {
  const p = prev[e] as number;
  const n = next[e] as number;
  next[p] = n;
  if (n !== NONE) prev[n] = p;
}

function relink(next: Int32Array, prev: Int32Array, e: number): void {
  const p = prev[e] as number;
  const n = next[e] as number;
  next[p] = e;
  if (n !== NONE) prev[n] = e;
}

/** One level of the depth-first search: what was linearized there and where to resume. */
interface Frame<S> {
  readonly ref: number;
  readonly stateBefore: S;
  /** For an optional op: the position of the first return at that level. */
  readonly bound: number;
}

/**
 * Decides whether the operations of one key are linearizable. `required` and `optional`
 * are each in invoke order.
 */
export function searchLinearization<S, I>(
  model: Model<S, I>,
  required: readonly SearchOp<I>[],
  optional: readonly SearchOp<I>[],
  limits: SearchLimits,
): SearchResult {
  return new Search(model, required, optional, limits).run();
}

class Search<S, I> {
  private readonly lists: EntryLists;
  private readonly linearized: RequiredSet;
  private readonly optionalLinearized: OptionalSet;
  private readonly cache = new VisitedCache();
  private readonly stack: Frame<S>[] = [];
  private state: S;
  private steps = 0;
  // The longest linearization: best[0..stable) always equals the current stack's prefix.
  private readonly best: number[] = [];
  private stable = 0;
  private bestState: S;
  private failure: SearchFailure | null = null;

  constructor(
    private readonly model: Model<S, I>,
    private readonly required: readonly SearchOp<I>[],
    private readonly optional: readonly SearchOp<I>[],
    private readonly limits: SearchLimits,
  ) {
    this.lists = new EntryLists(required, optional);
    this.linearized = new RequiredSet(required.length);
    this.optionalLinearized = new OptionalSet(optional.length);
    this.state = model.init();
    this.bestState = this.state;
  }

  run(): SearchResult {
    const lists = this.lists;
    const maxSteps = this.limits.maxSteps;
    let cursor = lists.next[lists.head] as number;
    let optCursor = NONE;
    let bound = 0; // position of the first return; meaningful while scanning optional calls
    let blockingReturn = NONE;
    let scanningOptional = false;
    for (;;) {
      if (this.stack.length - this.optionalLinearized.count === this.required.length) return this.success();
      const stop = this.checkLimits(maxSteps);
      if (stop !== null) return { kind: "unknown", steps: this.steps, cacheEntries: this.cache.entries, stop };
      if (!scanningOptional) {
        if (cursor === NONE) throw new Error(`search ran off the list with ${this.stack.length} of ${this.required.length} required operations placed`);
        if ((cursor & 1) === 1) {
          // The first return: only what was called before it can go next.
          blockingReturn = cursor;
          bound = lists.position[cursor] as number;
          scanningOptional = true;
          optCursor = lists.optNext[lists.optHead] as number;
          continue;
        }
        const op = cursor >> 1;
        if (this.tryPlace(op, bound)) cursor = lists.next[lists.head] as number;
        else cursor = lists.next[cursor] as number;
        continue;
      }
      if (optCursor !== NONE && (this.optional[optCursor] as SearchOp<I>).invokeIndex < bound) {
        const ref = this.required.length + optCursor;
        if (this.tryPlace(ref, bound)) {
          scanningOptional = false;
          cursor = lists.next[lists.head] as number;
        } else optCursor = lists.optNext[optCursor] as number;
        continue;
      }
      // No candidate fits before the blocking return: backtrack.
      this.noteFailure(blockingReturn >> 1, bound);
      const frame = this.stack.pop();
      if (frame === undefined) return this.notLinearizable();
      this.undo(frame);
      if (frame.ref < this.required.length) {
        scanningOptional = false;
        cursor = lists.next[2 * frame.ref] as number;
      } else {
        bound = frame.bound;
        optCursor = lists.optNext[frame.ref - this.required.length] as number;
        // The blocking return at that level is the first return in the restored list.
        blockingReturn = this.firstReturn();
      }
    }
  }

  private checkLimits(maxSteps: number): SearchStop | null {
    this.steps++;
    if (this.steps > maxSteps) return "step-limit";
    if (this.cache.entries > this.limits.maxCacheEntries) return "cache-limit";
    if (this.steps % DEADLINE_CHECK_STEPS === 0 && this.limits.now() > this.limits.deadlineMs) return "time-limit";
    return null;
  }

  /** Applies the operation if it fits and leads somewhere new; pushes a frame if so. */
  private tryPlace(ref: number, bound: number): boolean {
    const isRequired = ref < this.required.length;
    const op = isRequired ? (this.required[ref] as SearchOp<I>) : (this.optional[ref - this.required.length] as SearchOp<I>);
    const next = this.model.step(this.state, op.input);
    if (next === undefined) return false;
    const hash = this.model.hash(next);
    if (!isRequired && hash === this.model.hash(this.state)) return false;
    if (isRequired) this.linearized.add(ref);
    else this.optionalLinearized.add(ref - this.required.length);
    const key = `${hash}\u0000${this.linearized.key()}`;
    if (!this.cache.visit(key, this.optionalLinearized)) {
      if (isRequired) this.linearized.delete(ref);
      else this.optionalLinearized.delete(ref - this.required.length);
      return false;
    }
    this.stack.push({ ref, stateBefore: this.state, bound });
    this.state = next;
    if (isRequired) this.lists.liftRequired(ref);
    else this.lists.liftOptional(ref - this.required.length);
    this.noteProgress();
    return true;
  }

  private undo(frame: Frame<S>): void {
    this.state = frame.stateBefore;
    if (frame.ref < this.required.length) {
      this.linearized.delete(frame.ref);
      this.lists.restoreRequired(frame.ref);
    } else {
      this.optionalLinearized.delete(frame.ref - this.required.length);
      this.lists.restoreOptional(frame.ref - this.required.length);
    }
    if (this.stack.length < this.stable) this.stable = this.stack.length;
  }

  private firstReturn(): number {
    const lists = this.lists;
    let e = lists.next[lists.head] as number;
    while (e !== NONE && (e & 1) === 0) e = lists.next[e] as number;
    if (e === NONE) throw new Error(`no return left in the list with ${this.stack.length} operations placed`);
    return e;
  }

  /** Keeps the longest linearization, copying only the part of the stack that changed. */
  private noteProgress(): void {
    const depth = this.stack.length;
    if (depth <= this.best.length) return;
    for (let i = this.stable; i < depth; i++) this.best[i] = (this.stack[i] as Frame<S>).ref;
    this.best.length = depth;
    this.stable = depth;
    this.bestState = this.state;
    this.failure = null;
  }

  /** At the longest linearization, records what could not be placed, once. */
  private noteFailure(blocker: number, bound: number): void {
    // Only when the current stack is exactly the longest linearization.
    if (this.failure !== null || this.stack.length !== this.best.length || this.stable !== this.stack.length) return;
    const candidates: number[] = [];
    const lists = this.lists;
    for (let e = lists.next[lists.head] as number; e !== NONE && (e & 1) === 0; e = lists.next[e] as number) candidates.push(e >> 1);
    for (let o = lists.optNext[lists.optHead] as number; o !== NONE; o = lists.optNext[o] as number) {
      if ((this.optional[o] as SearchOp<I>).invokeIndex < bound) candidates.push(this.required.length + o);
    }
    this.failure = { longest: this.best.slice(), stateAfter: this.model.describeState(this.bestState), blocker, candidates };
  }

  private success(): SearchResult {
    return { kind: "linearizable", steps: this.steps, cacheEntries: this.cache.entries, order: this.stack.map((frame) => frame.ref) };
  }

  private notLinearizable(): SearchResult {
    if (this.failure === null) throw new Error(`search failed without recording a failure (longest ${this.best.length})`);
    return { kind: "not-linearizable", steps: this.steps, cacheEntries: this.cache.entries, failure: this.failure };
  }
}
