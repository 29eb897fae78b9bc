// WAN emulation: a one-way delay on every message a node sends to a node of another region,
// so a cluster on one machine behaves like one spread over continents. Off by default.
// The delay is applied by the sender, per destination region, with one timer per message;
// messages to one peer keep their order because they all wait the same time.

import type { ChannelValidator, MessageHandler, PeerId, PeerTransport, SendOutcome, TransportStats } from "@geolock/transport";

/** One-way delays in ms between region pairs, in either order: "us-east/us-west" -> 30. */
export type WanDelays = ReadonlyMap<string, number>;

/**
 * A realistic preset for the built-in regions (one-way, ms): roughly what the public clouds
 * measure between Virginia, Oregon/California and Ireland.
 */
export const WAN_PRESET_REALISTIC: Readonly<Record<string, number>> = {
  "us-east/us-west": 30,
  "us-east/eu-west": 40,
  "us-west/eu-west": 70,
};

const DELAY_MS_MAX = 5_000;
/** Messages waiting on WAN timers at most; beyond it they are dropped, like a full queue. */
const DELAYED_MESSAGES_MAX = 100_000;

export class WanSpecError extends Error {
  override readonly name = "WanSpecError";
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}/${b}` : `${b}/${a}`;
}

/**
 * Parses `--wan realistic` or `--wan us-east:us-west=30,us-east:eu-west=40` (one-way ms),
 * checked against the known regions.
 */
export function parseWanSpec(spec: string, regions: readonly string[]): WanDelays {
  const entries: [string, number][] =
    spec === "realistic"
      ? Object.entries(WAN_PRESET_REALISTIC).map(([pair, ms]) => {
          const [a, b] = pair.split("/") as [string, string];
          return [pairKey(a, b), ms];
        })
      : spec.split(",").map((part) => parsePair(part.trim()));
  const delays = new Map<string, number>();
  for (const [pair, ms] of entries) {
    for (const region of pair.split("/")) {
      if (!regions.includes(region)) throw new WanSpecError(`--wan names unknown region "${region}" (known: ${regions.join(", ")})`);
    }
    delays.set(pair, ms);
  }
  return delays;
}

function parsePair(part: string): [string, number] {
  const match = /^([a-z][a-z0-9-]*):([a-z][a-z0-9-]*)=(\d+)$/.exec(part);
  if (match === null) throw new WanSpecError(`--wan expects "realistic" or "regionA:regionB=ms,...", got "${part}"`);
  const [, a, b, msText] = match as unknown as [string, string, string, string];
  const ms = Number(msText);
  if (a === b || ms > DELAY_MS_MAX) throw new WanSpecError(`--wan pair "${part}": two different regions and at most ${DELAY_MS_MAX} ms`);
  return [pairKey(a, b), ms];
}

/** The one-way delay from `from` to `to`, 0 within a region or for an unlisted pair. */
export function wanDelayMs(delays: WanDelays, from: string, to: string): number {
  return from === to ? 0 : (delays.get(pairKey(from, to)) ?? 0);
}

/** A PeerTransport that holds each message for the WAN delay of its destination region. */
export class WanTransport implements PeerTransport {
  readonly self: PeerId;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;
  dropped = 0;

  constructor(
    private readonly inner: PeerTransport & { handleUpgrade?: unknown },
    private readonly delayTo: (peer: PeerId) => number,
  ) {
    this.self = inner.self;
  }

  registerChannel<T>(name: string, validate: ChannelValidator<T>, onMessage: MessageHandler<T>): void {
    this.inner.registerChannel(name, validate, onMessage);
  }

  send(to: PeerId, channel: string, message: unknown): SendOutcome {
    if (this.closed) return "droppedClosed";
    const delay = this.delayTo(to);
    if (delay <= 0) return this.inner.send(to, channel, message);
    if (this.timers.size >= DELAYED_MESSAGES_MAX) {
      this.dropped += 1;
      return "droppedQueueFull";
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.inner.send(to, channel, message);
    }, delay);
    this.timers.add(timer);
    return "queued";
  }

  flush(): void {
    this.inner.flush?.();
  }

  isConnected(peer: PeerId): boolean {
    return this.inner.isConnected(peer);
  }

  stats(): TransportStats {
    return this.inner.stats();
  }

  close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    return this.inner.close();
  }
}
