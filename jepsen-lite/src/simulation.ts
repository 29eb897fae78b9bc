// The simulation behind generated histories: a real sequential execution with random
// real-time overlap, for property tests and the checker benchmark. Each operation is invoked, later takes effect
// on the true state (its linearization point), later completes; processes interleave these
// steps at random. So every history generated here is linearizable by construction.
// A process whose operation "crashes" completes it with info, is never used again (a new
// process id takes its slot), and its operation may still take effect later, or never.

import type { HistoryEvent } from "./history.js";
import type { JsonValue } from "./json.js";

/** A small seeded generator (mulberry32): the same seed always gives the same history. */
export class SeededRng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, bound). */
  int(bound: number): number {
    return Math.floor(this.next() * bound);
  }

  chance(percent: number): boolean {
    return this.next() * 100 < percent;
  }
}

export interface GenerateOptions {
  readonly seed: number;
  /** Operations to invoke in total (synthetic lease-loss releases come on top). */
  readonly operations: number;
  /** Concurrent client slots. */
  readonly processes: number;
  readonly keys: number;
  /** Chance, in percent, that a process crashes at one of its steps. */
  readonly crashPercent: number;
}

/** What a simulated operation does to the true state when it takes effect. */
export interface Pending {
  readonly process: number;
  readonly f: string;
  readonly key: string;
  readonly value: JsonValue;
  /** Set when it took effect: the completion's type and value. */
  result: { readonly type: "ok" | "fail"; readonly value: JsonValue } | null;
  readonly apply: () => { readonly type: "ok" | "fail"; readonly value: JsonValue };
}

/** The parts a concrete system (register, lock) plugs into the interleaving loop. */
export interface System {
  /** Picks the next operation for a process. */
  invoke(process: number, rng: SeededRng): Omit<Pending, "result" | "process">;
  /** Told when the process completes an operation, so it can track what it holds. */
  completed(pending: Pending): void;
  /** Told when a process crashes; may record extra (lease-loss) operations and later effects. */
  crashed(process: number, pending: Pending, history: Recorder): void;
}

/** Appends events with a strictly advancing clock. */
export class Recorder {
  readonly events: HistoryEvent[] = [];
  /** Effects that may still happen later: crashed operations (which may also never happen), lease expiries. */
  readonly zombies: Zombie[] = [];
  private time = 0;
  private nextProcess: number;

  constructor(
    private readonly rng: SeededRng,
    processes: number,
  ) {
    this.nextProcess = processes;
  }

  freshProcess(): number {
    return this.nextProcess++;
  }

  record(process: number, type: HistoryEvent["type"], f: string, key: string, value: JsonValue): void {
    this.time += 1 + this.rng.int(1000);
    this.events.push({ process, type, f, key, value, time: this.time });
  }
}

export interface Zombie {
  readonly effect: () => void;
  /** Whether it may be dropped without happening: a lost request may; a lease expiry may not. */
  readonly mayVanish: boolean;
}

/** Crashed operations kept for later at once; one beyond it simply never takes effect. */
const ZOMBIES_MAX = 64;

export function simulate(options: GenerateOptions, system: System): HistoryEvent[] {
  const rng = new SeededRng(options.seed);
  const recorder = new Recorder(rng, options.processes);
  const slots: { process: number; pending: Pending | null }[] = Array.from({ length: options.processes }, (_, i) => ({ process: i, pending: null }));
  let invoked = 0;
  const maxIterations = 20 * options.operations + 1000;
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    if (invoked >= options.operations && slots.every((s) => s.pending === null)) return recorder.events;
    runZombie(rng, recorder);
    const slot = slots[rng.int(slots.length)] as { process: number; pending: Pending | null };
    const pending = slot.pending;
    if (pending === null) {
      if (invoked >= options.operations) continue;
      const op = system.invoke(slot.process, rng);
      slot.pending = { ...op, process: slot.process, result: null };
      invoked++;
      recorder.record(slot.process, "invoke", op.f, op.key, op.value);
    } else if (rng.chance(options.crashPercent)) {
      recorder.record(slot.process, "info", pending.f, pending.key, null);
      if (pending.result === null && recorder.zombies.length < ZOMBIES_MAX) recorder.zombies.push({ effect: () => void pending.apply(), mayVanish: true });
      system.crashed(slot.process, pending, recorder);
      slot.process = recorder.freshProcess();
      slot.pending = null;
    } else if (pending.result === null) {
      pending.result = pending.apply();
    } else {
      recorder.record(slot.process, pending.result.type, pending.f, pending.key, pending.result.value);
      system.completed(pending);
      slot.pending = null;
    }
  }
  throw new Error(`history generation did not finish in ${maxIterations} iterations (${invoked} of ${options.operations} invoked)`);
}

/** Now and then a left-over effect happens (a crashed operation lands late); some never do. */
function runZombie(rng: SeededRng, recorder: Recorder): void {
  if (recorder.zombies.length === 0 || !rng.chance(5)) return;
  const [zombie] = recorder.zombies.splice(rng.int(recorder.zombies.length), 1);
  if (zombie !== undefined && (!zombie.mayVanish || rng.chance(80))) zombie.effect();
}
