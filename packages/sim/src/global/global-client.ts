// A client of one region in the composed simulation: try-locks one of a few shared global
// keys, renews while it holds it, then releases; a request without an answer (no leader,
// NO_QUORUM, a lost message) is sent again with the same requestId (exactly once). It
// believes it holds a key until first-send + ttl of the request that was granted or renewed
// (the conservative rule of packages/paxos/README.md); the oracle checks beliefs never overlap.
// Some clients vanish while holding: they stop renewing and releasing, and the regions'
// lease clocks must expire the key, never before the client's own deadline has passed.

import type { SeededRng } from "@geolock/raft";
import type { FencingToken, GlobalKey, LockAnswer, LockCommand, RegionId } from "@geolock/paxos";
import type { GlobalOracle } from "./global-oracle.js";

export interface GlobalClientTiming {
  readonly ttlMs: number;
  /** Resend a request after this long without an answer. */
  readonly resendUs: number;
  readonly holdUsMax: number;
}

interface Pending {
  readonly key: GlobalKey;
  readonly command: LockCommand;
  readonly firstSentUs: number;
  sentUs: number;
}

export class GlobalClient {
  private seq = 0;
  private pending: Pending | null = null;
  /** `vanishes`: never renews nor releases; forgets the key when its own lease ends (the regions must expire it). */
  private hold: { key: GlobalKey; token: FencingToken; releaseAtUs: number; renewed: boolean; vanishes: boolean; untilUs: number } | null = null;
  /** Off in the liveness phase for the workload clients; the probe issues one acquire. */
  issuing = true;
  readonly counters = { sent: 0, resent: 0, granted: 0, held: 0, renewed: 0, released: 0, failed: 0 };
  lastAnswer: LockAnswer | null = null;

  constructor(
    readonly id: string,
    readonly region: RegionId,
    private readonly keys: readonly GlobalKey[],
    private readonly timing: GlobalClientTiming,
    private readonly rng: SeededRng,
    private readonly oracle: GlobalOracle,
    /** Hands the command to the region's current leader; false when there is none. */
    private readonly submit: (client: GlobalClient, key: GlobalKey, command: LockCommand) => boolean,
  ) {}

  get waitingFor(): { readonly key: GlobalKey; readonly command: LockCommand } | null {
    return this.pending;
  }

  step(nowUs: number): void {
    const p = this.pending;
    if (p !== null) {
      if (nowUs - p.sentUs >= this.timing.resendUs) {
        p.sentUs = nowUs;
        this.counters.resent++;
        this.submit(this, p.key, p.command);
      }
      return;
    }
    const h = this.hold;
    if (h !== null) {
      if (h.vanishes) {
        if (nowUs >= h.untilUs) this.hold = null;
        return;
      }
      if (nowUs >= h.releaseAtUs) {
        this.oracle.stopsBelieving(h.key, this.id);
        this.send(nowUs, h.key, { type: "release", requestId: this.nextId(), token: h.token });
      } else if (!h.renewed && this.rng.chance(0.3)) {
        h.renewed = true;
        this.send(nowUs, h.key, { type: "renew", requestId: this.nextId(), token: h.token, ttlMs: this.timing.ttlMs });
      }
      return;
    }
    if (!this.issuing) return;
    const key = this.keys[this.rng.nextInt(this.keys.length)];
    if (key === undefined) return;
    this.acquire(nowUs, key);
  }

  acquire(nowUs: number, key: GlobalKey): void {
    this.send(nowUs, key, { type: "acquire", requestId: this.nextId(), holder: { region: this.region, clientId: this.id, owner: "" }, ttlMs: this.timing.ttlMs });
  }

  /** The answer to (clientId, seq), from the region's leader when its table applied it. */
  answer(seq: number, answer: LockAnswer, nowUs: number): void {
    const p = this.pending;
    if (p === null || p.command.type === "expire" || p.command.requestId.seq !== seq) return;
    this.pending = null;
    this.lastAnswer = answer;
    const untilUs = p.firstSentUs + this.timing.ttlMs * 1000;
    switch (answer.kind) {
      case "granted":
        this.counters.granted++;
        this.oracle.believes(p.key, this.id, answer.token, untilUs);
        this.hold = { key: p.key, token: answer.token, releaseAtUs: nowUs + this.rng.nextInt(this.timing.holdUsMax), renewed: false, vanishes: this.rng.chance(0.15), untilUs };
        return;
      case "renewed":
        this.counters.renewed++;
        this.oracle.believes(p.key, this.id, answer.token, untilUs);
        if (this.hold !== null) this.hold.untilUs = Math.max(this.hold.untilUs, untilUs);
        return;
      case "held":
        this.counters.held++;
        return;
      case "released":
        this.counters.released++;
        this.hold = null;
        return;
      default:
        // notHolder, expired, staleSequence...: whatever it held is gone.
        if (this.hold !== null) this.oracle.stopsBelieving(this.hold.key, this.id);
        this.hold = null;
    }
  }

  /** NO_QUORUM / OVERLOADED / lost leadership: resend at the next step. */
  failed(seq: number): void {
    const p = this.pending;
    if (p === null || p.command.type === "expire" || p.command.requestId.seq !== seq) return;
    this.counters.failed++;
    p.sentUs = -Infinity;
  }

  private send(nowUs: number, key: GlobalKey, command: LockCommand): void {
    this.pending = { key, command, firstSentUs: nowUs, sentUs: nowUs };
    this.counters.sent++;
    this.submit(this, key, command);
  }

  private nextId(): { clientId: string; seq: number } {
    this.seq++;
    return { clientId: this.id, seq: this.seq };
  }
}
