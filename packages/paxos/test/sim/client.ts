// A simulated client of one region: try-locks a global key, renews its lease while it holds
// it, releases it (or, sometimes, vanishes without releasing, so the lease must expire),
// and retries a request that got NO_QUORUM or no answer with the same requestId. It keeps
// the conservative lease deadline a real client library keeps: counted from the FIRST send
// of the request that was granted or renewed, by its own clock. The oracle checks that no
// two clients' beliefs ever overlap.

import type { SeededRng } from "@geolock/raft";
import type { FencingToken, GlobalKey, LockAnswer, LockCommand, RegionId } from "../../src/index.js";
import type { Oracle } from "./oracle.js";

export interface ClientTiming {
  readonly ttlMs: number;
  /** Ticks without an answer before the client sends the same request again. */
  readonly requestTimeoutTicks: number;
  readonly attemptsMax: number;
}

interface Request {
  readonly key: GlobalKey;
  readonly command: LockCommand;
  readonly firstSentTick: number;
  sentTick: number;
  attempts: number;
}

interface Hold {
  readonly key: GlobalKey;
  readonly token: FencingToken;
  leaseUntilTick: number;
  renewAtTick: number;
  readonly releaseAtTick: number;
  /** Vanishes: never renews nor releases (the majority must expire it). */
  readonly vanishes: boolean;
}

export interface ClientCounters {
  granted: number;
  held: number;
  noQuorum: number;
  renewed: number;
  released: number;
  lostLease: number;
}

export class SimClient {
  private seq = 0;
  private request: Request | null = null;
  private hold: Hold | null = null;
  private idleUntilTick: number;
  issuing = true;
  readonly counters: ClientCounters = { granted: 0, held: 0, noQuorum: 0, renewed: 0, released: 0, lostLease: 0 };
  /** Ticks at which requests were answered NO_QUORUM, and acquires granted. */
  readonly noQuorumAt: number[] = [];
  readonly grantedAt: number[] = [];
  /** Ticks from the first send to the answer, per answered request. */
  readonly latencyTicks: { readonly type: LockCommand["type"]; readonly ticks: number }[] = [];

  constructor(
    readonly id: string,
    readonly region: RegionId,
    private readonly keys: readonly GlobalKey[],
    private readonly timing: ClientTiming,
    /** This client's clock rate: its lease counts ttlMs on this clock. */
    private readonly clockRate: number,
    private readonly rng: SeededRng,
    private readonly oracle: Oracle,
    private readonly submit: (key: GlobalKey, command: LockCommand) => boolean,
  ) {
    this.idleUntilTick = rng.nextInt(300);
  }

  get busy(): boolean {
    return this.request !== null || (this.hold !== null && !this.hold.vanishes);
  }

  tick(now: number): void {
    const r = this.request;
    if (r !== null) {
      if (now - r.sentTick >= this.timing.requestTimeoutTicks) this.retry(r, now);
      return;
    }
    const h = this.hold;
    if (h !== null) return this.tickHold(h, now);
    if (this.issuing && now >= this.idleUntilTick) this.start(this.pickKey(), "acquire", now);
  }

  answer(seq: number, answer: LockAnswer, now: number): void {
    const r = this.request;
    if (r === null || requestSeq(r.command) !== seq) return;
    this.request = null;
    this.latencyTicks.push({ type: r.command.type, ticks: now - r.firstSentTick });
    switch (answer.kind) {
      case "granted":
        return this.granted(r, answer.token, now);
      case "renewed":
        this.counters.renewed++;
        return this.extend(r, answer.token, now);
      case "held":
        this.counters.held++;
        return this.rest(now);
      case "released":
        this.counters.released++;
        return this.rest(now);
      default:
        // notHolder, staleSequence, ...: whatever it held is gone.
        if (this.hold !== null) this.lose(now);
        return this.rest(now);
    }
  }

  fail(seq: number, now: number): void {
    const r = this.request;
    if (r === null || requestSeq(r.command) !== seq) return;
    this.counters.noQuorum++;
    this.noQuorumAt.push(now);
    r.sentTick = now - this.timing.requestTimeoutTicks + 50 + this.rng.nextInt(200); // retry soon
  }

  private tickHold(h: Hold, now: number): void {
    if (now >= h.leaseUntilTick) return this.lose(now);
    if (h.vanishes) return;
    if (now >= h.releaseAtTick) {
      this.oracle.stopsBelieving(h.key, this.id); // from the moment it sends the release
      this.hold = null;
      this.start(h.key, "release", now, h.token);
    } else if (now >= h.renewAtTick) {
      h.renewAtTick = Number.MAX_SAFE_INTEGER; // one renew in flight
      this.start(h.key, "renew", now, h.token);
    }
  }

  private granted(r: Request, token: FencingToken, now: number): void {
    this.counters.granted++;
    this.grantedAt.push(now);
    const until = this.leaseEnd(r);
    this.oracle.believes(r.key, this.id, token, until);
    if (until <= now) return this.rest(now);
    this.hold = {
      key: r.key,
      token,
      leaseUntilTick: until,
      renewAtTick: now + Math.floor(this.timing.ttlMs / 3),
      releaseAtTick: now + 100 + this.rng.nextInt(1_500),
      vanishes: this.rng.chance(0.15),
    };
  }

  private extend(r: Request, token: FencingToken, now: number): void {
    const h = this.hold;
    if (h === null || h.token !== token) return this.rest(now);
    h.leaseUntilTick = Math.max(h.leaseUntilTick, this.leaseEnd(r));
    h.renewAtTick = now + Math.floor(this.timing.ttlMs / 3);
    this.oracle.believes(r.key, this.id, token, h.leaseUntilTick);
  }

  /** The real tick at which ttlMs have passed on this client's clock since the first send. */
  private leaseEnd(r: Request): number {
    return r.firstSentTick + Math.floor(this.timing.ttlMs / this.clockRate);
  }

  private lose(now: number): void {
    if (this.hold !== null) this.oracle.stopsBelieving(this.hold.key, this.id);
    this.hold = null;
    this.counters.lostLease++;
    this.rest(now);
  }

  private rest(now: number): void {
    this.idleUntilTick = now + 50 + this.rng.nextInt(800);
  }

  private start(key: GlobalKey, type: "acquire" | "renew" | "release", now: number, token?: FencingToken): void {
    const requestId = { clientId: this.id, seq: ++this.seq };
    let command: LockCommand;
    if (type === "acquire") command = { type, requestId, holder: { region: this.region, clientId: this.id, owner: "sim" }, ttlMs: this.timing.ttlMs };
    else if (type === "renew") command = { type, requestId, token: token ?? (0 as FencingToken), ttlMs: this.timing.ttlMs };
    else command = { type, requestId, token: token ?? (0 as FencingToken) };
    this.request = { key, command, firstSentTick: now, sentTick: now, attempts: 1 };
    this.submit(key, command);
  }

  private retry(r: Request, now: number): void {
    if (r.attempts >= this.timing.attemptsMax) {
      this.request = null; // gives up; the outcome stays unknown
      if (this.hold !== null && r.command.type === "renew") this.hold.renewAtTick = now; // try renewing again
      else this.rest(now);
      return;
    }
    r.attempts++;
    r.sentTick = now;
    this.submit(r.key, r.command);
  }

  private pickKey(): GlobalKey {
    const key = this.keys[this.rng.nextInt(this.keys.length)];
    if (key === undefined) throw new Error("client without keys");
    return key;
  }
}

function requestSeq(command: LockCommand): number {
  return command.type === "expire" ? -1 : command.requestId.seq;
}
