// The simulated lock clients. Each has a client id, increasing sequence numbers, and one or
// two sessions that it keeps alive every ttl/3 of its own time; now and then it abandons a
// session (stops keeping it alive, as a crashed client would, so that it expires holding
// its locks and waits) or closes one. It acquires names from a small set (so that there is
// contention), exclusive or shared, as a try-lock or waiting up to waitMs, and releases what
// it holds. A client has a bounded number of requests outstanding and gives up on one after
// a timeout; a given-up request is never retried with its seq (the next command takes a new
// one), so every committed command is fresh.
//
// Clients learn answers and events as the log commits them (from the first replica to
// apply each entry), like clients of the server that receive answers and pushed events.
// After the faults a probe client opens a session and acquires a name nobody uses: it must
// be granted (the lock part of the liveness phase).

import type { ApplyResult, ClientCommand, LockAnswer, LockCommand, LockMode, SessionId } from "@geolock/locks";
import type { SeededRng } from "@geolock/raft";
import { violated } from "./violation.js";

/** A client command before the leader stamps it (as the server's UnstampedCommand). */
export type UnstampedCommand = DistributiveOmit<ClientCommand, "nowMs">;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** What a client fills in itself: its id and the next seq. */
type Request = DistributiveOmit<UnstampedCommand, "clientId" | "seq">;

export interface LockWorkloadParams {
  readonly clients: number;
  readonly names: readonly string[];
  readonly ttlMsChoices: readonly number[];
  readonly sharedProbability: number;
  readonly tryLockProbability: number;
  readonly waitMsMax: number;
  /** Per turn: abandon a session (let it expire), close one, release a held name. */
  readonly abandonProbability: number;
  readonly closeProbability: number;
  readonly releaseProbability: number;
  readonly outstandingPerClientMax: number;
  readonly timeoutMs: number;
  /** How often the leader proposes a tick, by its own clock. */
  readonly tickCommandMs: number;
}

export const PROBE_NAME = "probe";
const PROBE_TTL_MS = 10_000;

export function drawLockWorkload(rng: SeededRng): LockWorkloadParams {
  const pick = <T>(choices: readonly T[]): T => choices[rng.nextInt(choices.length)] as T;
  return {
    clients: pick([2, 3, 4, 5]),
    names: pick([["a"], ["a", "b"], ["a", "b", "c"]]),
    ttlMsChoices: pick([[500, 1000], [1000, 2000, 4000]]),
    sharedProbability: pick([0, 0.3, 0.6]),
    tryLockProbability: pick([0.2, 0.5]),
    waitMsMax: pick([300, 1500, 5000]),
    abandonProbability: pick([0.02, 0.06]),
    closeProbability: pick([0.01, 0.04]),
    releaseProbability: pick([0.2, 0.4]),
    outstandingPerClientMax: 4,
    timeoutMs: 2000,
    tickCommandMs: 100,
  };
}

interface ClientSession {
  readonly id: SessionId;
  readonly ttlMs: number;
  /** When the client last sent a keepAlive (or the open); it counts its lease from there. */
  lastKeepAliveUs: number;
  abandoned: boolean;
}

interface Pending {
  readonly atUs: number;
  readonly command: UnstampedCommand;
}

/** Proposes a command to the current leader, which stamps it; says what happened. */
export type Proposer = (command: UnstampedCommand) => { readonly proposed: boolean; readonly text: string };

class LockClient {
  private nextSeq = 1;
  readonly sessions = new Map<number, ClientSession>();
  /** name -> the session holding it, as far as this client has learned. */
  readonly held = new Map<string, number>();
  readonly pending = new Map<number, Pending>();
  granted = 0;

  constructor(readonly id: string) {}

  /** Forgets requests that got no answer in time (their slots free up). */
  dropTimedOut(nowUs: number, timeoutUs: number): void {
    for (const [seq, p] of this.pending) if (nowUs - p.atUs >= timeoutUs) this.pending.delete(seq);
  }

  send(propose: Proposer, nowUs: number, request: Request): string {
    const full: UnstampedCommand = { ...request, clientId: this.id, seq: this.nextSeq++ };
    const outcome = propose(full);
    if (outcome.proposed) this.pending.set(full.seq, { atUs: nowUs, command: full });
    return `${this.id} ${describe(full)}: ${outcome.text}`;
  }

  /** A session the client may use: open as far as it knows, and not abandoned. */
  liveSessions(): ClientSession[] {
    return [...this.sessions.values()].filter((s) => !s.abandoned);
  }

  dueKeepAlive(nowUs: number): ClientSession | undefined {
    return this.liveSessions().find((s) => nowUs - s.lastKeepAliveUs >= (s.ttlMs * 1000) / 3);
  }

  opening(): boolean {
    return [...this.pending.values()].some((p) => p.command.type === "openSession");
  }

  learnAnswer(command: LockCommand, answer: LockAnswer): Pending | undefined {
    if (command.type === "tick") return undefined;
    const pending = this.pending.get(command.seq);
    if (pending === undefined) return undefined;
    this.pending.delete(command.seq);
    if (answer.type === "sessionOpened") {
      this.sessions.set(answer.sessionId, { id: answer.sessionId, ttlMs: answer.ttlMs, lastKeepAliveUs: pending.atUs, abandoned: false });
    } else if (answer.type === "granted" && "sessionId" in command) {
      this.held.set(answer.name, command.sessionId);
      this.granted += 1;
    } else if (answer.type === "released") {
      this.held.delete(answer.name);
    } else if ((answer.type === "sessionClosed" || (answer.type === "error" && answer.code === "SESSION_EXPIRED")) && "sessionId" in command) {
      this.forgetSession(command.sessionId);
    }
    return pending;
  }

  forgetSession(sessionId: number): void {
    this.sessions.delete(sessionId);
    for (const [name, holder] of this.held) if (holder === sessionId) this.held.delete(name);
  }
}

export class LockWorkload {
  private readonly clients: LockClient[];
  private readonly probe = new LockClient("probe");
  private probeGranted = false;

  constructor(
    readonly params: LockWorkloadParams,
    private readonly rng: SeededRng,
  ) {
    this.clients = Array.from({ length: params.clients }, (_, i) => new LockClient(`c${i + 1}`));
  }

  /** One request of a randomly chosen client (the fault phase). */
  turn(nowUs: number, propose: Proposer): string {
    const client = this.clients[this.rng.nextInt(this.clients.length)] as LockClient;
    client.dropTimedOut(nowUs, this.params.timeoutMs * 1000);
    if (client.pending.size >= this.params.outstandingPerClientMax) return `${client.id}: ${client.pending.size} outstanding`;
    const due = client.dueKeepAlive(nowUs);
    if (due !== undefined) {
      due.lastKeepAliveUs = nowUs;
      return client.send(propose, nowUs, { type: "keepAlive", sessionId: due.id });
    }
    const sessions = client.liveSessions();
    if (sessions.length === 0) {
      if (client.opening()) return `${client.id}: opening a session`;
      return client.send(propose, nowUs, { type: "openSession", ttlMs: this.pick(this.params.ttlMsChoices) });
    }
    return this.randomRequest(client, sessions, nowUs, propose);
  }

  /** The liveness phase: the probe opens a session, keeps it alive, and acquires a free name. */
  probeTurn(nowUs: number, propose: Proposer): string {
    const probe = this.probe;
    if (this.probeGranted) return "probe: granted, idle";
    probe.dropTimedOut(nowUs, this.params.timeoutMs * 1000);
    if (probe.pending.size > 0) return "probe: waiting for an answer";
    const session = probe.liveSessions()[0];
    if (session === undefined) return probe.send(propose, nowUs, { type: "openSession", ttlMs: PROBE_TTL_MS });
    if (probe.dueKeepAlive(nowUs) !== undefined) {
      session.lastKeepAliveUs = nowUs;
      return probe.send(propose, nowUs, { type: "keepAlive", sessionId: session.id });
    }
    return probe.send(propose, nowUs, { type: "acquire", sessionId: session.id, name: PROBE_NAME, mode: "exclusive", waitMs: 0, owner: "probe" });
  }

  probeDone(): boolean {
    return this.probeGranted;
  }

  /** A committed command's answer and events, as the clients would receive them. */
  learn(command: LockCommand, result: ApplyResult): void {
    for (const event of result.events) {
      const client = this.client(event.clientId);
      if (client === undefined) continue;
      if (event.type === "granted") client.held.set(event.name, event.sessionId);
      else if (event.type === "sessionExpired") client.forgetSession(event.sessionId);
      else if (event.type === "released" && event.reason !== "released") client.held.delete(event.name);
    }
    if (command.type === "tick") return;
    const client = this.client(command.clientId);
    const pending = client?.learnAnswer(command, result.answer);
    if (client === this.probe && pending !== undefined && command.type === "acquire") this.probeAnswered(result.answer);
  }

  counters(): Record<string, number> {
    const sessions = this.clients.reduce((n, c) => n + c.sessions.size, 0);
    return { clientGrants: this.clients.reduce((n, c) => n + c.granted, 0), clientSessions: sessions };
  }

  private probeAnswered(answer: LockAnswer): void {
    if (answer.type === "granted") {
      this.probeGranted = true;
      return;
    }
    // Its session may have expired under the faults' tail; it opens another and asks again.
    if (answer.type === "error" && answer.code === "SESSION_EXPIRED") return;
    violated("liveness", `after healing, an acquire of the free name ${PROBE_NAME} answered ${JSON.stringify(answer)}`);
  }

  private randomRequest(client: LockClient, sessions: readonly ClientSession[], nowUs: number, propose: Proposer): string {
    const p = this.params;
    const session = this.pick(sessions);
    const roll = this.rng.nextFloat();
    if (roll < p.abandonProbability) {
      // A client that crashes while it waits: the wait outlives the session, which expires
      // with it queued (or holding, if the wait was granted first).
      session.abandoned = true;
      const waitMs = 2 * session.ttlMs + p.waitMsMax;
      const request = { type: "acquire", sessionId: session.id, name: this.pick(p.names), mode: "exclusive", waitMs, owner: client.id } as const;
      return `${client.send(propose, nowUs, request)}, then abandons session ${session.id}`;
    }
    if (roll < p.abandonProbability + p.closeProbability) return client.send(propose, nowUs, { type: "closeSession", sessionId: session.id });
    if (roll < p.abandonProbability + p.closeProbability + 0.03 && sessions.length < 2) {
      return client.send(propose, nowUs, { type: "openSession", ttlMs: this.pick(p.ttlMsChoices) });
    }
    const name = this.pick(p.names);
    if (this.rng.chance(p.releaseProbability)) {
      // Mostly what it holds; sometimes any name (a withdrawn wait, or NOT_HOLDER).
      const held = [...client.held].filter(([, id]) => id === session.id).map(([n]) => n);
      const target = held.length > 0 && this.rng.chance(0.8) ? this.pick(held) : name;
      return client.send(propose, nowUs, { type: "release", sessionId: session.id, name: target });
    }
    const mode: LockMode = this.rng.chance(p.sharedProbability) ? "shared" : "exclusive";
    const waitMs = this.rng.chance(p.tryLockProbability) ? 0 : 1 + this.rng.nextInt(p.waitMsMax);
    return client.send(propose, nowUs, { type: "acquire", sessionId: session.id, name, mode, waitMs, owner: client.id });
  }

  private client(id: string): LockClient | undefined {
    if (id === this.probe.id) return this.probe;
    return this.clients.find((c) => c.id === id);
  }

  private pick<T>(choices: readonly T[]): T {
    return choices[this.rng.nextInt(choices.length)] as T;
  }
}

function describe(command: UnstampedCommand): string {
  const head = `#${command.seq} ${command.type}`;
  switch (command.type) {
    case "openSession":
      return `${head} ttl ${command.ttlMs}`;
    case "keepAlive":
    case "closeSession":
      return `${head} s${command.sessionId}`;
    case "acquire":
      return `${head} s${command.sessionId} ${command.name} ${command.mode} wait ${command.waitMs}`;
    case "release":
      return `${head} s${command.sessionId} ${command.name}`;
  }
}
