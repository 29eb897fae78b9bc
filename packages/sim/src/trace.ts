// The run's fingerprint. Every event the simulator executes is rendered as one canonical
// line of text and folded into a hash; two runs of one seed must produce the same hash, and
// any nondeterminism (a Map iterated in the wrong order, a stray Math.random) shows up as a
// different one. The last few lines are kept for the violation report.

import { FNV_OFFSET, fnvString, hex32 } from "./hash.js";

/** Receives every trace line when the run is verbose. */
export type TraceSink = (line: string) => void;

export class Trace {
  // Two FNV lanes with different seeds give a 64-bit fingerprint, so that a collision
  // between two different runs is not a practical worry.
  private laneA = FNV_OFFSET;
  private laneB = fnvString(FNV_OFFSET, "geolock-sim");
  private lines = 0;
  // A ring of the last recentLinesMax lines; `lines` also says where the next one goes.
  private readonly recent: string[] = [];

  constructor(
    private readonly recentLinesMax: number,
    private readonly sink?: TraceSink,
  ) {}

  record(line: string): void {
    this.laneA = fnvString(this.laneA, line);
    this.laneA = fnvString(this.laneA, "\n");
    this.laneB = fnvString(this.laneB, line);
    this.laneB = fnvString(this.laneB, "\n");
    if (this.recentLinesMax > 0) this.recent[this.lines % this.recentLinesMax] = line;
    this.lines += 1;
    this.sink?.(line);
  }

  /** 16 hex digits. */
  hash(): string {
    return hex32(this.laneA) + hex32(this.laneB);
  }

  lineCount(): number {
    return this.lines;
  }

  /** The last lines recorded, oldest first. */
  recentLines(): readonly string[] {
    if (this.lines <= this.recentLinesMax) return [...this.recent];
    const start = this.lines % this.recentLinesMax;
    return [...this.recent.slice(start), ...this.recent.slice(0, start)];
  }
}
