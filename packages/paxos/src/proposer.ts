// The proposer of one region: volatile, run by the region's Raft leader, stepped like Raft's
// RawNode. Per key it is a small Multi-Paxos leader:
//
//   idle --propose--> preparing --majority of promises--> accepting (leading)
//     ^                   |  nack                              |  decided: next instance, phase 2 only
//     |                   v                                    v  nack: lost the key
//     +----- backoff <----+------------------------------------+
//
// While it leads a key (its phase 1 for ballot b succeeded from instance f, and no acceptor
// has nacked b since), every further instance needs phase 2 only: one round trip to a
// majority, its own acceptor being one of them. Another region takes the key over by phase 1
// with a higher round, and first re-proposes, for every instance not known chosen, the value
// with the highest ballot any promise reported (a no-op where none was reported). At most one
// value is ever proposed per (ballot, instance): instances advance only after a decision, and
// anything abandoned (nack, refusal, deadline) forces a fresh phase 1 with a higher ballot.
//
// A proposal fails with NO_QUORUM when its deadline passes before its value is chosen. That
// is "unknown", not "did not happen": the value may still be chosen later (a takeover
// re-proposes it). Commands are exactly-once by requestId, so the client retries safely.

import { ballot as makeBallot, ballotEquals, compareBallots, type Ballot } from "./ballot.js";
import type { LockCommand, PaxosValue } from "./commands.js";
import { checkProposerConfig, quorumSize, type ProposerConfig } from "./config.js";
import type {
  AcceptedMessage,
  CatchUpReplyMessage,
  NackMessage,
  PaxosMessage,
  PromiseMessage,
  ProposerInbound,
  RefusedMessage,
} from "./messages.js";
import { asInstance, asProposalId, invariant, type GlobalKey, type Instance, type ProposalId, type RegionId } from "./types.js";
import { checkKey, checkLockCommand } from "./validate.js";
import { samePlain } from "./values.js";

export type FailureCode = "NO_QUORUM" | "OVERLOADED";

export type ProposalOutcome =
  /** The proposal's value was chosen at `instance`; its answer comes when the region's table applies it. */
  | { readonly kind: "chosen"; readonly id: ProposalId; readonly key: GlobalKey; readonly instance: Instance }
  /** Not known to be chosen by its deadline (NO_QUORUM), or a majority refused the key (OVERLOADED). */
  | { readonly kind: "failed"; readonly id: ProposalId; readonly key: GlobalKey; readonly code: FailureCode };

export type ProposeResult =
  | { readonly ok: true; readonly id: ProposalId }
  | { readonly ok: false; readonly reason: "overloaded" | "invalid"; readonly message: string };

export interface ProposerStats {
  readonly pendingProposals: number;
  readonly trackedKeys: number;
  readonly activeKeys: number;
  readonly droppedMessages: number;
  /** Phase 1 attempts started (takeovers, retries after a lost ballot). */
  readonly phase1Started: number;
  /** Instances this proposer got chosen. */
  readonly instancesDecided: number;
}

export interface Drained {
  readonly messages: readonly PaxosMessage[];
  readonly outcomes: readonly ProposalOutcome[];
}

interface Proposal {
  readonly id: ProposalId;
  readonly command: LockCommand;
  readonly deadlineTick: number;
}

interface Inflight {
  readonly instance: Instance;
  readonly value: PaxosValue;
  /** This proposer's proposals in the value (for a recovered value: those whose command it holds). */
  own: Proposal[];
  readonly votes: Set<RegionId>;
}

type Phase = "idle" | "preparing" | "accepting" | "backoff";

interface KeyProposer {
  readonly key: GlobalKey;
  phase: Phase;
  /** The ballot of the last phase 1 this proposer started for the key. */
  ballot: Ballot | null;
  /** Phase 1 for `ballot` succeeded and nothing was abandoned since: phase 2 only. */
  leading: boolean;
  readonly queue: Proposal[];
  fromInstance: Instance;
  readonly promises: Map<RegionId, PromiseMessage>;
  /** Values to re-propose before any new one, by instance (contiguous from nextInstance). */
  readonly recovered: Map<Instance, PaxosValue>;
  nextInstance: Instance;
  /** Highest instance known chosen (from decisions and acceptors' chosenThrough). */
  knownChosen: Instance;
  inflight: Inflight | null;
  /** Regions that refused the current step ("overloaded"): a majority of them fails it. */
  readonly refusals: Set<RegionId>;
  highestRoundSeen: number;
  lastSendTick: number;
  backoffUntilTick: number;
  lostAttempts: number;
}

export class Proposer {
  private readonly keys = new Map<GlobalKey, KeyProposer>();
  /** Keys not idle: only these need attention on a tick. */
  private readonly active = new Set<GlobalKey>();
  private readonly quorum: number;
  private now = 0;
  private nextProposalId = 1;
  private pendingCount = 0;
  private outbox: PaxosMessage[] = [];
  private outcomes: ProposalOutcome[] = [];
  private droppedMessages = 0;
  private phase1Started = 0;
  private instancesDecided = 0;
  private catchUpCursor = "";
  private catchUpPeer = 0;
  private ticksToCatchUp: number;

  constructor(private readonly config: ProposerConfig) {
    checkProposerConfig(config);
    this.quorum = quorumSize(config.paxos.regions.length);
    this.ticksToCatchUp = config.catchUpIntervalTicks;
  }

  /** Queues a command on a global key. The outcome comes later through drain(). */
  propose(key: GlobalKey, command: LockCommand, timeoutTicks = this.config.proposalTimeoutTicks): ProposeResult {
    const problem = checkKey(key, this.config.paxos) ?? checkLockCommand(command, this.config.paxos);
    if (problem !== null) return { ok: false, reason: "invalid", message: problem };
    if (!Number.isSafeInteger(timeoutTicks) || timeoutTicks < 1) return { ok: false, reason: "invalid", message: `timeoutTicks ${timeoutTicks}` };
    if (this.pendingCount >= this.config.pendingProposalsMax) {
      return { ok: false, reason: "overloaded", message: `${this.pendingCount} proposals pending (max ${this.config.pendingProposalsMax})` };
    }
    const k = this.track(key);
    if (k === undefined) return { ok: false, reason: "overloaded", message: `${this.keys.size} keys busy (max ${this.config.trackedKeysMax})` };
    const id = asProposalId(this.nextProposalId++);
    k.queue.push({ id, command, deadlineTick: this.now + timeoutTicks });
    this.pendingCount++;
    this.advance(k);
    return { ok: true, id };
  }

  /** A reply from an acceptor (or catch-up responder). Stale and foreign replies are ignored. */
  step(message: ProposerInbound): void {
    if (message.to !== this.config.region) return;
    if (message.kind === "catchUpReply") return this.onCatchUpReply(message);
    const k = this.keys.get(message.key);
    if (k === undefined || k.ballot === null || !ballotEquals(message.ballot, k.ballot)) return;
    switch (message.kind) {
      case "promise":
        return this.onPromise(k, message);
      case "accepted":
        return this.onAccepted(k, message);
      case "nack":
        return this.onNack(k, message);
      case "refused":
        return this.onRefused(k, message);
    }
  }

  tick(): void {
    this.now++;
    for (const key of [...this.active]) {
      const k = this.keys.get(key);
      invariant(k !== undefined, () => `active key ${key} has no proposer state`);
      this.tickKey(k);
    }
    if (--this.ticksToCatchUp <= 0) {
      this.ticksToCatchUp = this.config.catchUpIntervalTicks;
      this.sweepCatchUp();
    }
  }

  /** Hands out the messages to send and the outcomes to report, and forgets them. */
  drain(): Drained {
    const drained = { messages: this.outbox, outcomes: this.outcomes };
    this.outbox = [];
    this.outcomes = [];
    return drained;
  }

  /** Whether this proposer currently leads the key (its next proposal needs phase 2 only). */
  isLeading(key: GlobalKey): boolean {
    return this.keys.get(key)?.leading ?? false;
  }

  /** Counters for metrics: phase1Started / instancesDecided shows how often the fast path held. */
  stats(): ProposerStats {
    return {
      pendingProposals: this.pendingCount,
      trackedKeys: this.keys.size,
      activeKeys: this.active.size,
      droppedMessages: this.droppedMessages,
      phase1Started: this.phase1Started,
      instancesDecided: this.instancesDecided,
    };
  }

  assertInvariants(): void {
    let pending = 0;
    for (const k of this.keys.values()) {
      pending += k.queue.length + (k.inflight?.own.length ?? 0);
      invariant(k.phase === "idle" || this.active.has(k.key), () => `key ${k.key} in phase ${k.phase} is not active`);
      invariant(k.inflight === null || k.phase === "accepting", () => `key ${k.key}: inflight in phase ${k.phase}`);
      invariant(!k.leading || k.phase !== "preparing", () => `key ${k.key}: leading while preparing`);
      invariant(k.inflight === null || k.inflight.instance === k.nextInstance, () => `key ${k.key}: inflight ${k.inflight?.instance} != next ${k.nextInstance}`);
    }
    invariant(pending === this.pendingCount, () => `pending count ${this.pendingCount} != ${pending} held`);
  }

  // --- phase 1 -------------------------------------------------------------------------

  private startPrepare(k: KeyProposer): void {
    const { view, region, epoch } = this.config;
    // A proposer that keeps losing jumps further ahead: equal rounds are decided by region
    // name, so without this the region with the lowest name could starve under contention.
    const jump = 1 + Math.min(k.lostAttempts, 3);
    const round = Math.max(k.highestRoundSeen, view.promised(k.key).round, k.ballot?.round ?? 0) + jump;
    k.ballot = makeBallot(round, region, epoch);
    this.phase1Started++;
    k.fromInstance = asInstance(Math.max(view.appliedInstance(k.key), k.knownChosen) + 1);
    k.promises.clear();
    k.refusals.clear();
    k.recovered.clear();
    k.inflight = null;
    k.leading = false;
    this.setPhase(k, "preparing");
    this.sendPrepare(k, this.config.paxos.regions);
  }

  private onPromise(k: KeyProposer, m: PromiseMessage): void {
    if (m.chosenThrough > k.knownChosen) this.learnedChosenThrough(k, m.chosenThrough, m.from);
    if (k.phase !== "preparing") return;
    k.promises.set(m.from, m);
    if (k.promises.size >= this.quorum) this.finishPrepare(k);
  }

  private finishPrepare(k: KeyProposer): void {
    const promises = [...k.promises.values()];
    const start = asInstance(Math.max(k.fromInstance - 1, ...promises.map((p) => p.chosenThrough)) + 1);
    const recovered = this.recoverValues(start, promises);
    k.recovered.clear();
    for (const [instance, value] of recovered) k.recovered.set(instance, value);
    k.nextInstance = start;
    k.leading = true;
    this.setPhase(k, "accepting");
    this.advance(k);
  }

  /**
   * The values phase 2 must re-propose from `start` on: per instance, the value of the
   * highest ballot reported, and a no-op for a gap below the highest reported instance.
   * A value chosen in an earlier ballot was accepted by a majority, which intersects the
   * majority that promised, so it is reported here and nothing else can be proposed for it.
   */
  protected recoverValues(start: Instance, promises: readonly PromiseMessage[]): Map<Instance, PaxosValue> {
    const best = new Map<Instance, { ballot: Ballot; value: PaxosValue }>();
    let top = start - 1;
    for (const p of promises) {
      for (const e of p.accepted) {
        if (e.instance < start) continue;
        const known = best.get(e.instance);
        if (known === undefined || compareBallots(e.ballot, known.ballot) > 0) best.set(e.instance, e);
        top = Math.max(top, e.instance);
      }
    }
    invariant(top - start < 4 * this.config.paxos.instancesAheadMax, () => `recovery span ${start}..${top} beyond the acceptors' window`);
    const out = new Map<Instance, PaxosValue>();
    for (let i = start; i <= top; i++) out.set(asInstance(i), best.get(asInstance(i))?.value ?? []);
    return out;
  }

  // --- phase 2 -------------------------------------------------------------------------

  private startAccept(k: KeyProposer): void {
    invariant(k.leading && k.ballot !== null && k.inflight === null, () => `key ${k.key}: startAccept while leading=${k.leading} inflight=${k.inflight?.instance}`);
    const recovered = k.recovered.get(k.nextInstance);
    let own: Proposal[] = [];
    let value: PaxosValue;
    if (recovered !== undefined) {
      k.recovered.delete(k.nextInstance);
      value = recovered;
      own = claimQueued(k.queue, recovered);
    } else {
      own = k.queue.splice(0, this.config.paxos.batchCommandsMax);
      value = own.map((p) => p.command);
    }
    k.inflight = { instance: k.nextInstance, value, own, votes: new Set() };
    k.refusals.clear();
    this.sendAccept(k, this.config.paxos.regions);
  }

  private onAccepted(k: KeyProposer, m: AcceptedMessage): void {
    const inflight = k.inflight;
    if (k.phase !== "accepting" || inflight === null || inflight.instance !== m.instance) return;
    inflight.votes.add(m.from);
    if (inflight.votes.size >= this.quorum) this.decide(k, inflight);
  }

  private decide(k: KeyProposer, inflight: Inflight): void {
    for (const to of this.config.paxos.regions) {
      this.send({ kind: "chosen", from: this.config.region, to, key: k.key, instance: inflight.instance, value: inflight.value });
    }
    for (const p of inflight.own) this.finish(k, { kind: "chosen", id: p.id, key: k.key, instance: inflight.instance });
    k.knownChosen = asInstance(Math.max(k.knownChosen, inflight.instance));
    k.nextInstance = asInstance(inflight.instance + 1);
    this.instancesDecided++;
    k.inflight = null;
    k.lostAttempts = 0;
    this.advance(k);
  }

  // --- losing, refusals, deadlines -----------------------------------------------------

  private onNack(k: KeyProposer, m: NackMessage): void {
    if (k.phase !== "preparing" && k.phase !== "accepting") return;
    k.highestRoundSeen = Math.max(k.highestRoundSeen, m.promised.round);
    this.abandon(k);
    k.lostAttempts++;
    const span = Math.min(this.config.backoffTicksMax, this.config.backoffTicksMin * 2 ** Math.min(k.lostAttempts - 1, 20));
    k.backoffUntilTick = this.now + this.config.backoffTicksMin + this.config.rng.nextInt(span);
    this.setPhase(k, "backoff");
  }

  private onRefused(k: KeyProposer, m: RefusedMessage): void {
    if (m.chosenThrough > k.knownChosen) this.learnedChosenThrough(k, m.chosenThrough, m.from);
    if (m.reason === "chosen") {
      // The instance is chosen already: someone else moved the key on. Take it over again
      // from where it really is (no backoff: this is news, not contention).
      if (k.phase === "accepting" && k.inflight?.instance === m.instance) {
        this.abandon(k);
        this.setPhase(k, "idle");
        this.advance(k);
      }
      return;
    }
    if (m.reason === "behind") return; // that region will catch up; retransmission asks again
    k.refusals.add(m.from);
    if (this.config.paxos.regions.length - k.refusals.size < this.quorum) this.failAll(k, "OVERLOADED");
  }

  /** Gives up the current attempt: own commands go back to the queue head, leadership is lost. */
  private abandon(k: KeyProposer): void {
    if (k.inflight !== null) k.queue.unshift(...k.inflight.own);
    k.inflight = null;
    k.recovered.clear();
    k.promises.clear();
    k.leading = false;
  }

  private failAll(k: KeyProposer, code: FailureCode): void {
    this.abandon(k);
    for (const p of k.queue.splice(0)) this.finish(k, { kind: "failed", id: p.id, key: k.key, code });
    this.setPhase(k, "idle");
  }

  private tickKey(k: KeyProposer): void {
    this.expireDeadlines(k);
    if (k.phase === "backoff" && this.now >= k.backoffUntilTick) {
      this.setPhase(k, "idle");
      this.advance(k);
    } else if ((k.phase === "preparing" || k.inflight !== null) && this.now - k.lastSendTick >= this.config.retransmitTicks) {
      this.retransmit(k);
    }
  }

  private expireDeadlines(k: KeyProposer): void {
    const due = (p: Proposal): boolean => p.deadlineTick <= this.now;
    for (const p of k.queue.filter(due)) this.finish(k, { kind: "failed", id: p.id, key: k.key, code: "NO_QUORUM" });
    removeWhere(k.queue, due);
    if (k.inflight !== null) {
      for (const p of k.inflight.own.filter(due)) this.finish(k, { kind: "failed", id: p.id, key: k.key, code: "NO_QUORUM" });
      k.inflight.own = k.inflight.own.filter((p) => !due(p));
    }
    const ownInFlight = k.inflight !== null && k.inflight.own.length > 0;
    if (k.queue.length > 0 || ownInFlight) return;
    // Nobody waits any more. A half-done instance is abandoned (a later phase 1 recovers it);
    // a key between instances keeps its leadership for the fast path.
    if (k.inflight !== null || k.phase !== "accepting") this.abandon(k);
    this.setPhase(k, "idle");
  }

  private retransmit(k: KeyProposer): void {
    const regions = this.config.paxos.regions;
    if (k.phase === "preparing") this.sendPrepare(k, regions.filter((r) => !k.promises.has(r) && !k.refusals.has(r)));
    else if (k.inflight !== null) {
      const votes = k.inflight.votes;
      this.sendAccept(k, regions.filter((r) => !votes.has(r) && !k.refusals.has(r)));
    }
  }

  // --- the driver loop for one key -----------------------------------------------------

  /** Starts whatever the key needs next, if it is not already waiting for something. */
  private advance(k: KeyProposer): void {
    if (k.phase === "preparing" || k.phase === "backoff" || k.inflight !== null) return;
    if (k.queue.length === 0) {
      if (k.recovered.size > 0) this.abandon(k); // nobody waits for the recovery any more
      this.setPhase(k, "idle");
      return;
    }
    // Something was chosen beyond what this leader decided: another region led meanwhile.
    if (k.leading && Math.max(this.config.view.appliedInstance(k.key), k.knownChosen) >= k.nextInstance) k.leading = false;
    if (!k.leading) return this.startPrepare(k);
    this.setPhase(k, "accepting");
    this.startAccept(k);
  }

  private finish(k: KeyProposer, outcome: ProposalOutcome): void {
    invariant(this.pendingCount > 0, () => `finishing proposal ${outcome.id} of ${k.key} with none pending`);
    this.pendingCount--;
    this.outcomes.push(outcome);
  }

  private setPhase(k: KeyProposer, phase: Phase): void {
    k.phase = phase;
    if (phase === "idle") this.active.delete(k.key);
    else this.active.add(k.key);
  }

  /** The key's state, created (evicting the least recently used idle key) if needed. */
  private track(key: GlobalKey): KeyProposer | undefined {
    const existing = this.keys.get(key);
    if (existing !== undefined) {
      this.keys.delete(key);
      this.keys.set(key, existing); // most recently used last
      return existing;
    }
    if (this.keys.size >= this.config.trackedKeysMax) {
      const victim = [...this.keys.values()].find((k) => k.phase === "idle" && k.queue.length === 0);
      if (victim === undefined) return undefined;
      this.keys.delete(victim.key);
    }
    const created: KeyProposer = {
      key,
      phase: "idle",
      ballot: null,
      leading: false,
      queue: [],
      fromInstance: asInstance(1),
      promises: new Map(),
      recovered: new Map(),
      nextInstance: asInstance(1),
      knownChosen: asInstance(0),
      inflight: null,
      refusals: new Set(),
      highestRoundSeen: 0,
      lastSendTick: 0,
      backoffUntilTick: 0,
      lostAttempts: 0,
    };
    this.keys.set(key, created);
    return created;
  }

  // --- sending -------------------------------------------------------------------------

  private sendPrepare(k: KeyProposer, to: readonly RegionId[]): void {
    const ballot = k.ballot;
    invariant(ballot !== null, () => `key ${k.key}: prepare without a ballot`);
    for (const region of to) this.send({ kind: "prepare", from: this.config.region, to: region, key: k.key, ballot, fromInstance: k.fromInstance });
    k.lastSendTick = this.now;
  }

  private sendAccept(k: KeyProposer, to: readonly RegionId[]): void {
    const { ballot, inflight } = k;
    invariant(ballot !== null && inflight !== null, () => `key ${k.key}: accept without a ballot or value`);
    for (const region of to) {
      this.send({ kind: "accept", from: this.config.region, to: region, key: k.key, ballot, instance: inflight.instance, value: inflight.value });
    }
    k.lastSendTick = this.now;
  }

  private send(message: PaxosMessage): void {
    if (this.outbox.length >= this.config.outboxMessagesMax) {
      this.droppedMessages++;
      return;
    }
    this.outbox.push(message);
  }

  // --- learning and catch-up -----------------------------------------------------------

  /** An acceptor's region has applied further than this one: ask it for the key's state. */
  private learnedChosenThrough(k: KeyProposer, chosenThrough: Instance, from: RegionId): void {
    k.knownChosen = chosenThrough;
    if (from === this.config.region) return;
    const applied = this.config.view.appliedInstance(k.key);
    this.send({ kind: "catchUpRequest", from: this.config.region, to: from, key: k.key, known: [{ key: k.key, applied }], sweep: null });
  }

  /** Anti-entropy: one peer per interval compares a range of keys with this region. */
  private sweepCatchUp(): void {
    const peers = this.config.paxos.regions.filter((r) => r !== this.config.region);
    if (peers.length === 0) return;
    const to = peers[this.catchUpPeer++ % peers.length];
    invariant(to !== undefined, () => "no catch-up peer");
    const known = this.config.view.keysAfter(this.catchUpCursor, this.config.catchUpKeysMax);
    const through = known.length === this.config.catchUpKeysMax ? (known[known.length - 1]?.key ?? null) : null;
    const key = known[0]?.key ?? ("" as GlobalKey);
    this.send({ kind: "catchUpRequest", from: this.config.region, to, key, known, sweep: { after: this.catchUpCursor, through } });
    this.catchUpCursor = through ?? "";
  }

  private onCatchUpReply(m: CatchUpReplyMessage): void {
    if (m.resumeAfter !== null) this.catchUpCursor = m.resumeAfter;
  }
}

/**
 * Takes out of the queue the proposals whose command is in a recovered value: once that value
 * is chosen they are done. This is what keeps an abandoned batch (requeued after a nack) or a
 * client's retry from being chosen a second time when a takeover re-proposes the first one.
 */
function claimQueued(queue: Proposal[], value: PaxosValue): Proposal[] {
  const claimed = queue.filter((p) => value.some((c) => samePlain(c, p.command, 0)));
  if (claimed.length > 0) removeWhere(queue, (p) => claimed.includes(p));
  return claimed;
}

function removeWhere<T>(items: T[], predicate: (item: T) => boolean): void {
  let kept = 0;
  for (const item of items) if (!predicate(item)) items[kept++] = item;
  items.length = kept;
}
