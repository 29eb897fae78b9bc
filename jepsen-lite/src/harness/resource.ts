// The guarded resource: what a lock protects, living in the harness process so that it
// judges every write at one place on one clock. Fenced (geolock), it keeps the highest
// token it accepted per lock and rejects lower ones, as FencedResource does; naive (the
// unsafe target, modelling a user whose lock has no usable token) it accepts everything.
// Every decision goes to resource.jsonl as well as into the history.

import { appendFileSync } from "node:fs";

export interface WriteDecision {
  readonly accepted: boolean;
  /** The highest token accepted before this write, if any. */
  readonly highest: number | null;
}

/** Locks guarded at most: one resource per lock name the workload uses. */
const LOCKS_MAX = 10_000;

export class GuardedResource {
  private readonly highest = new Map<string, number>();
  private accepted = 0;
  private rejected = 0;

  constructor(
    private readonly fenced: boolean,
    private readonly logFile: string,
  ) {}

  get counts(): { readonly accepted: number; readonly rejected: number } {
    return { accepted: this.accepted, rejected: this.rejected };
  }

  /** Decides a write now: accepted or rejected (stale token, fenced resources only). */
  write(lock: string, token: number): WriteDecision {
    const highest = this.highest.get(lock) ?? null;
    if (highest === null && this.highest.size >= LOCKS_MAX) throw new Error(`the guarded resource already tracks ${LOCKS_MAX} locks`);
    const accepted = !this.fenced || highest === null || token >= highest;
    if (accepted && (highest === null || token > highest)) this.highest.set(lock, token);
    if (accepted) this.accepted++;
    else this.rejected++;
    return { accepted, highest };
  }

  /** Appends a decision to resource.jsonl; `late`: the writer's lease may have ended before it arrived. */
  log(time: number, lock: string, token: number, decision: WriteDecision, process: number, late: boolean): void {
    appendFileSync(this.logFile, `${JSON.stringify({ time, lock, token, process, late, ...decision })}\n`);
  }
}
