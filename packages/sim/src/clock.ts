// Virtual time. Nothing in the simulator reads a real clock: time moves only when the event
// loop takes the next event, so a run takes the same virtual course however fast the host is.

export class VirtualClock {
  private now = 0;

  /** The current virtual time in microseconds. */
  nowUs(): number {
    return this.now;
  }

  /** Moves time forward to `atUs`; time never runs backwards. */
  advanceTo(atUs: number): void {
    if (atUs < this.now) throw new Error(`VirtualClock: cannot go back from ${this.now}us to ${atUs}us`);
    this.now = atUs;
  }
}

export const US_PER_MS = 1000;

export function msToUs(ms: number): number {
  return Math.round(ms * US_PER_MS);
}
