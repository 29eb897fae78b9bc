// The Raft protocol as a deterministic state machine (the shape of etcd's raft.go). It
// is driven from outside: tick() for time, step() for messages, propose()/readIndex()/
// transferLeader() for requests. It never performs I/O: what must be persisted, sent and
// applied accumulates here and leaves through RawNode's Ready.
//
// Term rules first (step), then per-role handlers. Every public entry point ends with
// assertInvariants(), so a protocol bug crashes loudly with the state in the message.

import { decodeConfChange, encodeConfChange, applyConfChange } from "./conf-change.js";
import { MAX_READ_CONTEXT_BYTES, resolveLimits } from "./config.js";
import type { Limits } from "./config.js";
import type { ProposeResult, RaftConfig, RefusalReason, RequestResult } from "./contract.js";
import { ENTRY_OVERHEAD_BYTES, entryBytes } from "./memory-storage.js";
import type { Progress } from "./progress.js";
import { RaftLog } from "./raft-log.js";
import { ReadOnly } from "./read-only.js";
import { SnapshotAssembly } from "./snapshot-assembly.js";
import { ProgressTracker } from "./tracker.js";
import { asIndex, asTerm, NO_NODE } from "./types.js";
import type {
  AppendMessage,
  AppendResponseMessage,
  ConfChange,
  Entry,
  EntryKind,
  HardState,
  HeartbeatMessage,
  HeartbeatResponseMessage,
  Index,
  Message,
  NodeId,
  ReadState,
  Role,
  Snapshot,
  SnapshotChunkMessage,
  SnapshotChunkResponseMessage,
  SoftState,
  Term,
  VoteResponseMessage,
} from "./types.js";

/** Heartbeat rounds without an answer after which the snapshot chunk in flight is resent. */
const SNAPSHOT_CHUNK_RESEND_HEARTBEATS = 2;

type Refusal = { readonly ok: false; readonly reason: RefusalReason; readonly leader: NodeId };

export class Raft {
  readonly id: NodeId;
  protected readonly config: RaftConfig;
  protected readonly limits: Limits;
  // The fields below are read by RawNode and status(); only this class changes them.
  /** Current term. Invariant: never decreases. */
  term: Term = asTerm(0);
  /** Vote in `term`. Invariant: a leader's (and a candidate's) vote is itself. */
  vote: NodeId = NO_NODE;
  /** The leader of `term` as far as this node knows. */
  lead: NodeId = NO_NODE;
  role: Role = "follower";
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  /** Leader: the voter a leadership transfer is handing over to. */
  leadTransferee: NodeId = NO_NODE;
  /** Ticks since the last election timeout reset (leader: since the last check-quorum round). */
  electionElapsed = 0;
  private heartbeatElapsed = 0;
  /** Invariant: electionTicks <= randomizedElectionTimeout < 2 * electionTicks. */
  private randomizedElectionTimeout = 0;
  private msgs: Message[] = [];
  /** Proposals were appended since the last broadcast; takeMessages sends them (batched). */
  private broadcastPending = false;
  private readStates: ReadState[] = [];
  private readonly readOnly: ReadOnly;
  /** Leader: reads that arrived before an entry of its term was committed. Bounded by maxPendingReads. */
  private readsAwaitingCommit: { from: NodeId; context: Uint8Array }[] = [];
  /** Leader: no conf change may be proposed until this index (its no-op or last change) is applied. */
  private pendingConfIndex: Index = asIndex(0);
  /** Leader: bytes of proposed entries not yet applied. Invariant: >= 0. */
  private uncommittedBytes = 0;
  /** Follower: a snapshot arriving in chunks. */
  private assembly: SnapshotAssembly | undefined = undefined;

  constructor(config: RaftConfig) {
    this.id = config.id;
    this.config = config;
    this.limits = resolveLimits(config);
    this.readOnly = new ReadOnly(this.limits.maxPendingReads);
    const storage = config.storage;
    const { hardState, confState } = storage.initialState();
    const snapIndex = storage.snapshot().metadata.index;
    const applied = config.applied ?? snapIndex;
    if (applied < snapIndex) throw new Error(`raft: config.applied ${applied} is below the snapshot index ${snapIndex}`);
    this.log = new RaftLog(storage, asIndex(Math.max(hardState.commit, snapIndex)), applied);
    this.tracker = new ProgressTracker(confState);
    this.replayConfChanges(snapIndex, applied);
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.becomeFollower(this.term, NO_NODE);
    this.assertInvariants();
  }

  /** On restart, membership as of the applied index: the snapshot's plus the changes applied after it. */
  private replayConfChanges(from: Index, to: Index): void {
    for (const entry of this.entriesBetween(from, to)) {
      if (entry.kind === "confChange") this.tracker.applyChange(entry.index, decodeConfChange(entry.data));
    }
  }

  /** Entries in (from, to], read in bounded batches. */
  private *entriesBetween(from: Index, to: Index): Generator<Entry> {
    let next = from + 1;
    while (next <= to) {
      const batch = this.log.slice(asIndex(next), asIndex(to + 1), this.limits.maxApplyBytes);
      if (batch === undefined || batch.length === 0) throw new Error(`raft: entries (${from}, ${to}] unavailable at ${next}`);
      yield* batch;
      next += batch.length;
    }
  }

  // ---- Seams (overridden by the simulator's deliberately broken variants) ----

  /** The voter's rule (paper 5.4.1): grant only to a candidate whose log is at least as up to date. */
  protected isLogUpToDate(lastIndex: Index, lastTerm: Term): boolean {
    const myLastTerm = this.log.lastTerm();
    return lastTerm > myLastTerm || (lastTerm === myLastTerm && lastIndex >= this.log.lastIndex());
  }

  /** Advances commit to what a quorum matched, but only onto an entry of the current term (paper 5.4.2). */
  protected maybeCommit(): boolean {
    const index = this.tracker.committedIndex();
    if (index <= this.log.committed || this.log.term(index) !== this.term) return false;
    this.log.commitTo(index);
    return true;
  }

  // ---- Requests from the application ----

  tick(): void {
    if (this.role === "leader") this.tickHeartbeat();
    else this.tickElection();
    this.assertInvariants();
  }

  propose(data: Uint8Array): ProposeResult {
    const refusal = this.refuseProposal(data.byteLength);
    if (refusal !== undefined) return refusal;
    this.uncommittedBytes += data.byteLength + ENTRY_OVERHEAD_BYTES;
    const index = this.appendEntries([{ kind: "normal", data }]);
    // Proposals made in the same turn go to followers together, in as few appends as the
    // byte limit allows, when the driver next collects messages (takeMessages).
    this.broadcastPending = true;
    this.assertInvariants();
    return { ok: true, index, term: this.term };
  }

  proposeConfChange(change: ConfChange): ProposeResult {
    const data = encodeConfChange(change);
    const refusal = this.refuseProposal(data.byteLength);
    if (refusal !== undefined) return refusal;
    if (this.pendingConfIndex > this.log.applied) return this.refuse("confChangePending");
    if (applyConfChange(this.tracker.conf, change) === undefined) return this.refuse("invalid");
    this.uncommittedBytes += data.byteLength + ENTRY_OVERHEAD_BYTES;
    const index = asIndex(this.log.lastIndex() + 1);
    // Count with the new configuration from the moment its entry exists (tracker.ts).
    this.tracker.addPending(index, change);
    this.tracker.syncProgress(this.id, index, this.limits.maxInflightAppends);
    this.appendEntries([{ kind: "confChange", data }]);
    this.pendingConfIndex = index;
    this.bcastAppend();
    this.assertInvariants();
    return { ok: true, index, term: this.term };
  }

  private refuseProposal(dataBytes: number): Refusal | undefined {
    if (this.role !== "leader") return this.refuse("notLeader");
    if (this.leadTransferee !== NO_NODE) return this.refuse("transferring");
    const bytes = dataBytes + ENTRY_OVERHEAD_BYTES;
    // One proposal is always accepted when nothing is pending, however large.
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.limits.maxUncommittedBytes) return this.refuse("overloaded");
    return undefined;
  }

  private refuse(reason: RefusalReason): Refusal {
    return { ok: false, reason, leader: this.lead };
  }

  readIndex(context: Uint8Array): RequestResult {
    if (context.byteLength === 0 || context.byteLength > MAX_READ_CONTEXT_BYTES) return this.refuse("invalid");
    let result: RequestResult = { ok: true };
    if (this.role === "leader") {
      result = this.leaderRead(this.id, context);
    } else if (this.lead === NO_NODE) {
      return this.refuse("notLeader");
    } else {
      this.send({ type: "readIndex", from: this.id, to: this.lead, term: this.term, context });
    }
    this.assertInvariants();
    return result;
  }

  transferLeader(to: NodeId): RequestResult {
    if (this.role !== "leader") return this.refuse("notLeader");
    if (to === this.id || !this.tracker.isVoter(to)) return this.refuse("invalid");
    if (this.leadTransferee === to) return { ok: true };
    this.config.logger?.info({ id: this.id, term: this.term, to }, "raft: transferring leadership");
    this.leadTransferee = to;
    // The transfer is abandoned when the next election timeout passes (tickHeartbeat).
    this.electionElapsed = 0;
    const pr = this.tracker.progress.get(to) as Progress;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to);
    this.assertInvariants();
    return { ok: true };
  }

  /** The driver could not reach `id`: stop pipelining to it and probe instead. */
  reportUnreachable(id: NodeId): void {
    const pr = this.tracker.progress.get(id);
    if (this.role === "leader" && pr !== undefined && pr.state === "replicate") pr.becomeProbe();
  }

  // ---- Time ----

  private tickElection(): void {
    this.electionElapsed++;
    // A node that cannot campaign (a learner, or a voter that has not yet applied its own
    // promotion) lets the time keep growing: its leader lease then lapses, and it answers
    // the votes the group may need from it (a pending configuration can count it).
    if (this.electionElapsed >= this.randomizedElectionTimeout && this.canCampaign()) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private canCampaign(): boolean {
    return this.role !== "leader" && this.tracker.isVoter(this.id);
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      if (this.limits.checkQuorum && !this.checkQuorum()) return;
      if (this.leadTransferee !== NO_NODE) this.leadTransferee = NO_NODE;
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat(this.readOnly.lastContext() ?? new Uint8Array(0));
    }
  }

  /** Check-quorum: a leader that did not hear from a quorum in an election timeout steps down. */
  private checkQuorum(): boolean {
    if (!this.tracker.quorumActive(this.id)) {
      this.config.logger?.warn({ id: this.id, term: this.term }, "raft: leader lost its quorum, stepping down");
      this.becomeFollower(this.term, NO_NODE);
      return false;
    }
    for (const [id, pr] of this.tracker.progress) if (id !== this.id) pr.recentActive = false;
    return true;
  }

  // ---- Elections ----

  private hup(transfer: boolean): void {
    if (this.role === "leader" || !this.tracker.isVoter(this.id)) return;
    // A pending snapshot must be persisted and restored before this log can be judged.
    if (this.log.unstable.snapshot !== undefined) return;
    this.campaign(this.limits.preVote && !transfer ? "preVote" : "vote", transfer);
  }

  private campaign(kind: "preVote" | "vote", transfer: boolean): void {
    if (kind === "preVote") this.becomePreCandidate();
    else this.becomeCandidate();
    this.loadPendingConfs();
    this.tracker.votes.set(this.id, true);
    if (this.tracker.voteResult() === "won") {
      this.electionWon(kind);
      return;
    }
    const term = asTerm(kind === "preVote" ? this.term + 1 : this.term);
    const lastLogIndex = this.log.lastIndex();
    const lastLogTerm = this.log.lastTerm();
    for (const to of this.tracker.allVoters()) {
      if (to === this.id) continue;
      if (kind === "preVote") this.send({ type: "preVote", from: this.id, to, term, lastLogIndex, lastLogTerm });
      else this.send({ type: "vote", from: this.id, to, term, lastLogIndex, lastLogTerm, transfer });
    }
  }

  private electionWon(kind: "preVote" | "vote"): void {
    if (kind === "preVote") this.campaign("vote", false);
    else this.becomeLeader();
  }

  /** The configurations the log may still make effective: every conf change above applied. */
  private loadPendingConfs(): void {
    this.tracker.clearPending();
    for (const entry of this.entriesBetween(this.log.applied, this.log.lastIndex())) {
      if (entry.kind === "confChange") this.tracker.addPending(entry.index, decodeConfChange(entry.data));
    }
  }

  private handleVoteRequest(m: Extract<Message, { type: "preVote" | "vote" }>): void {
    const pre = m.type === "preVote";
    const type = pre ? "preVoteResp" : "voteResp";
    const canVote = this.vote === m.from || (this.vote === NO_NODE && this.lead === NO_NODE) || (pre && m.term > this.term);
    if (canVote && this.isLogUpToDate(m.lastLogIndex, m.lastLogTerm)) {
      // A vote is recorded in the hard state of the same Ready that carries the answer.
      if (!pre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
      this.send({ type, from: this.id, to: m.from, term: m.term, reject: false });
    } else {
      this.send({ type, from: this.id, to: m.from, term: this.term, reject: true });
    }
  }

  private handleVoteResponse(m: VoteResponseMessage): void {
    const pre = this.role === "preCandidate";
    if ((m.type === "preVoteResp") !== pre) return;
    // A grant counts only for the campaign it answered (pre-votes ask for term + 1).
    if (!m.reject && m.term !== (pre ? this.term + 1 : this.term)) return;
    if (!this.tracker.votes.has(m.from)) this.tracker.votes.set(m.from, !m.reject);
    const result = this.tracker.voteResult();
    if (result === "won") this.electionWon(pre ? "preVote" : "vote");
    else if (result === "lost") this.becomeFollower(this.term, NO_NODE);
  }

  // ---- Role transitions ----

  private reset(term: Term): void {
    if (term < this.term) throw new Error(`raft ${this.id}: term would go back from ${this.term} to ${term}`);
    if (term !== this.term) {
      this.term = term;
      this.vote = NO_NODE;
    }
    this.lead = NO_NODE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.config.electionTicks + this.config.rng.nextInt(this.config.electionTicks);
    this.leadTransferee = NO_NODE;
    this.tracker.votes.clear();
    this.tracker.progress.clear();
    this.tracker.clearPending();
    this.readOnly.reset();
    this.readsAwaitingCommit = [];
    this.pendingConfIndex = asIndex(0);
    this.uncommittedBytes = 0;
  }

  private becomeFollower(term: Term, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = "follower";
  }

  private becomePreCandidate(): void {
    if (this.role === "leader") throw new Error(`raft ${this.id}: leader cannot become pre-candidate in term ${this.term}`);
    // Term and vote stay: a pre-vote changes nothing durable.
    this.reset(this.term);
    this.role = "preCandidate";
  }

  private becomeCandidate(): void {
    if (this.role === "leader") throw new Error(`raft ${this.id}: leader cannot become candidate in term ${this.term}`);
    this.reset(asTerm(this.term + 1));
    this.vote = this.id;
    this.role = "candidate";
  }

  private becomeLeader(): void {
    if (this.role !== "candidate") throw new Error(`raft ${this.id}: only a candidate becomes leader (role ${this.role}, term ${this.term})`);
    this.reset(this.term);
    this.loadPendingConfs();
    this.role = "leader";
    this.lead = this.id;
    this.tracker.syncProgress(this.id, asIndex(this.log.lastIndex() + 1), this.limits.maxInflightAppends, this.log.stableLastIndex());
    // The no-op commits the previous terms' entries (which may not be committed by counting),
    // and no conf change may be proposed until it is applied.
    this.pendingConfIndex = this.appendEntries([{ kind: "normal", data: new Uint8Array(0) }]);
    this.config.logger?.info({ id: this.id, term: this.term }, "raft: became leader");
    this.bcastAppend();
  }

  // ---- Messages ----

  step(m: Message): void {
    if (m.to !== this.id || m.from === this.id || m.from === NO_NODE) return;
    if (m.term > this.term && !this.onHigherTerm(m)) return;
    if (m.term < this.term) {
      this.onLowerTerm(m);
      return;
    }
    if (m.type === "preVote" || m.type === "vote") this.handleVoteRequest(m);
    else if (this.role === "leader") this.stepLeader(m);
    else if (this.role === "follower") this.stepFollower(m);
    else this.stepCandidate(m);
    this.assertInvariants();
  }

  /** Returns whether to go on processing a message from a higher term. */
  private onHigherTerm(m: Message): boolean {
    if (m.type === "preVote" || m.type === "vote") {
      const transfer = m.type === "vote" && m.transfer;
      // Leader lease: a node that hears from a live leader ignores campaigns (thesis 4.2.3).
      if (this.inLease() && !transfer) return false;
    }
    // Pre-votes and their grants carry the term a campaign would use, not a term anyone is in.
    if (m.type === "preVote" || (m.type === "preVoteResp" && !m.reject)) return true;
    const fromLeader = m.type === "append" || m.type === "heartbeat" || m.type === "snapshot";
    this.becomeFollower(m.term, fromLeader ? m.from : NO_NODE);
    return true;
  }

  private inLease(): boolean {
    return this.limits.checkQuorum && this.lead !== NO_NODE && this.electionElapsed < this.config.electionTicks;
  }

  private onLowerTerm(m: Message): void {
    if (m.type === "append" || m.type === "heartbeat") {
      // A stale leader (e.g. after a partition) learns the new term and steps down.
      this.sendAppendResp(m.from, asIndex(0), true, asIndex(0), asTerm(0));
    } else if (m.type === "preVote") {
      this.send({ type: "preVoteResp", from: this.id, to: m.from, term: this.term, reject: true });
    }
  }

  private stepLeader(m: Message): void {
    const pr = this.tracker.progress.get(m.from);
    switch (m.type) {
      case "appendResp":
        if (pr !== undefined) this.handleAppendResp(m, pr);
        return;
      case "heartbeatResp":
        if (pr !== undefined) this.handleHeartbeatResp(m, pr);
        return;
      case "snapshotResp":
        if (pr !== undefined) this.handleSnapshotResp(m, pr);
        return;
      case "readIndex":
        if (m.context.byteLength > 0 && m.context.byteLength <= MAX_READ_CONTEXT_BYTES) this.leaderRead(m.from, m.context);
        return;
      case "append":
      case "heartbeat":
      case "snapshot":
        throw new Error(`raft ${this.id}: two leaders in term ${this.term} (${this.id} and ${m.from}): election safety violated`);
      default:
        return;
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case "append":
      case "heartbeat":
      case "snapshot":
        // A leader of this term exists: stop campaigning and follow it.
        this.becomeFollower(this.term, m.from);
        this.stepFollower(m);
        return;
      case "preVoteResp":
      case "voteResp":
        this.handleVoteResponse(m);
        return;
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "append":
      case "heartbeat":
      case "snapshot":
        if (this.lead !== NO_NODE && this.lead !== m.from) {
          throw new Error(`raft ${this.id}: ${m.from} acts as leader of term ${this.term} led by ${this.lead}: election safety violated`);
        }
        this.electionElapsed = 0;
        this.lead = m.from;
        if (m.type === "append") this.handleAppend(m);
        else if (m.type === "heartbeat") this.handleHeartbeat(m);
        else this.handleSnapshotChunk(m);
        return;
      case "timeoutNow":
        this.config.logger?.info({ id: this.id, term: this.term, from: m.from }, "raft: campaigning for a leadership transfer");
        this.hup(true);
        return;
      case "readIndexResp":
        this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  // ---- Replication: follower side ----

  private handleAppend(m: AppendMessage): void {
    if (m.prevLogIndex < this.log.committed) {
      // Everything up to commit already matches the leader's log.
      this.sendAppendResp(m.from, this.log.committed, false, asIndex(0), asTerm(0));
      return;
    }
    const lastNew = this.log.maybeAppend(m.prevLogIndex, m.prevLogTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.sendAppendResp(m.from, lastNew, false, asIndex(0), asTerm(0));
      return;
    }
    const hint = this.log.findConflictByTerm(asIndex(Math.min(m.prevLogIndex, this.log.lastIndex())), m.prevLogTerm);
    this.sendAppendResp(m.from, m.prevLogIndex, true, hint.index, hint.term);
  }

  private sendAppendResp(to: NodeId, index: Index, reject: boolean, rejectHint: Index, hintTerm: Term): void {
    const resp: AppendResponseMessage = { type: "appendResp", from: this.id, to, term: this.term, index, reject, rejectHint, hintTerm };
    this.send(resp);
  }

  private handleHeartbeat(m: HeartbeatMessage): void {
    this.log.commitTo(m.commit);
    this.send({ type: "heartbeatResp", from: this.id, to: m.from, term: this.term, context: m.context });
  }

  private handleSnapshotChunk(m: SnapshotChunkMessage): void {
    const reply = (nextOffset: number, reject: boolean): void =>
      this.send({ type: "snapshotResp", from: this.id, to: m.from, term: this.term, snapshotIndex: m.metadata.index, nextOffset, reject });
    if (m.metadata.index <= this.log.committed) {
      // Already covered: the leader can go on with appends after it.
      this.assembly = undefined;
      reply(m.totalBytes, false);
      return;
    }
    if (m.totalBytes > this.limits.maxSnapshotBytes) {
      this.config.logger?.warn({ id: this.id, totalBytes: m.totalBytes }, "raft: refusing a snapshot above maxSnapshotBytes");
      reply(0, true);
      return;
    }
    if (m.offset === 0) this.assembly = new SnapshotAssembly(m.metadata, m.totalBytes);
    const assembly = this.assembly;
    if (assembly === undefined || assembly.metadata.index !== m.metadata.index || assembly.totalBytes !== m.totalBytes) {
      reply(0, true);
      return;
    }
    if (assembly.accept(m.offset, m.chunk) === "mismatch") {
      reply(assembly.received, true);
      return;
    }
    if (assembly.complete()) {
      this.assembly = undefined;
      this.restore(assembly.snapshot());
    }
    reply(assembly.received, false);
  }

  /** Installs a snapshot from the leader; false when the log already covers it. */
  private restore(snapshot: Snapshot): boolean {
    const { index, term, confState } = snapshot.metadata;
    if (index <= this.log.committed) return false;
    if (this.log.matchTerm(index, term)) {
      this.log.commitTo(index);
      return false;
    }
    this.config.logger?.info({ id: this.id, term: this.term, index }, "raft: restoring a snapshot");
    this.log.restore(snapshot);
    this.tracker.resetConf(confState);
    return true;
  }

  // ---- Replication: leader side ----

  /** Appends entries of the current term to the leader's log; returns the last index. */
  private appendEntries(items: readonly { kind: EntryKind; data: Uint8Array }[]): Index {
    const first = this.log.lastIndex() + 1;
    const entries: Entry[] = items.map((item, i) => ({ term: this.term, index: asIndex(first + i), kind: item.kind, data: item.data }));
    // The leader counts itself towards commit only once these entries are durable here
    // (onStable), so the driver may send them to followers while its own fsync runs
    // (Raft thesis 10.2.1): a commit always rests on a majority of durable copies.
    return this.log.append(entries);
  }

  /** Sends the appends that proposals deferred, if the node still leads. */
  private flushBroadcast(): void {
    if (!this.broadcastPending) return;
    this.broadcastPending = false;
    if (this.role === "leader") this.bcastAppend();
  }

  private bcastAppend(): void {
    for (const id of this.tracker.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  /** Sends to `to` what it lacks (or an empty append carrying the commit index), filling the window. */
  private sendAppend(to: NodeId): void {
    if (!this.maybeSendAppend(to, true)) return;
    while (this.maybeSendAppend(to, false)) {
      // Bounded: every send adds to the follower's inflight window or marks the probe sent.
    }
  }

  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.tracker.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const last = this.log.lastIndex();
    const prevLogIndex = asIndex(pr.next - 1);
    const prevLogTerm = this.log.term(prevLogIndex);
    const entries = pr.next <= last ? this.log.slice(pr.next, asIndex(last + 1), this.limits.maxAppendBytes) : [];
    if (entries === undefined || (prevLogIndex > 0 && prevLogTerm === 0)) return this.sendSnapshotChunk(to, pr);
    if (entries.length === 0 && !sendIfEmpty) return false;
    const commit = this.log.committed;
    this.send({ type: "append", from: this.id, to, term: this.term, prevLogIndex, prevLogTerm, entries, commit });
    pr.sentAppend(asIndex(prevLogIndex + entries.length));
    return true;
  }

  private handleAppendResp(m: AppendResponseMessage, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      // Fast backtracking: skip every entry of a term the follower cannot match.
      const hint = m.hintTerm > 0 ? this.log.findConflictByTerm(m.rejectHint, m.hintTerm).index : m.rejectHint;
      if (pr.maybeDecrTo(m.index, hint)) {
        if (pr.state === "replicate") pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    if (m.index > this.log.lastIndex()) {
      // A follower matches (or has committed) more than this leader holds.
      throw new Error(`raft ${this.id}: ${m.from} acknowledges ${m.index} beyond the leader's last index ${this.log.lastIndex()} in term ${this.term}: leader completeness violated`);
    }
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === "probe") pr.becomeReplicate();
    else if (pr.state === "snapshot" && pr.match >= (pr.snapshotSend?.metadata.index ?? 0)) pr.becomeProbe();
    else if (pr.state === "replicate") pr.inflights.freeLE(m.index);
    if (this.maybeCommit()) {
      this.releaseReadsAwaitingCommit();
      this.bcastAppend();
    } else {
      this.sendAppend(m.from);
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private bcastHeartbeat(context: Uint8Array): void {
    for (const [to, pr] of this.tracker.progress) {
      if (to === this.id) continue;
      const commit = asIndex(Math.min(this.log.committed, pr.match));
      const heartbeat: HeartbeatMessage = { type: "heartbeat", from: this.id, to, term: this.term, commit, context };
      this.send(heartbeat);
      const transfer = pr.snapshotSend;
      if (transfer !== undefined && transfer.inflightBytes >= 0 && ++transfer.idleHeartbeats >= SNAPSHOT_CHUNK_RESEND_HEARTBEATS) {
        this.sendSnapshotChunk(to, pr);
      }
    }
  }

  private handleHeartbeatResp(m: HeartbeatResponseMessage, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    // The link works: let one more append through even if the window is full.
    if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
    if (m.context.byteLength > 0) this.handleReadAck(m.from, m.context);
  }

  // ---- Snapshots: leader side ----

  /** Sends the next chunk of the storage snapshot (starting a transfer if needed). */
  private sendSnapshotChunk(to: NodeId, pr: Progress): boolean {
    if (pr.snapshotSend === undefined) {
      const snapshot = this.log.storage.snapshot();
      if (snapshot.metadata.index < pr.next - 1 && pr.next > this.log.firstIndex()) {
        throw new Error(`raft ${this.id}: snapshot at ${snapshot.metadata.index} does not cover next ${pr.next} of ${to}`);
      }
      this.config.logger?.info({ id: this.id, to, index: snapshot.metadata.index }, "raft: sending a snapshot");
      pr.becomeSnapshot(snapshot);
    }
    const transfer = pr.snapshotSend as NonNullable<Progress["snapshotSend"]>;
    const chunk = transfer.data.subarray(transfer.offset, Math.min(transfer.offset + this.limits.snapshotChunkBytes, transfer.totalBytes));
    transfer.inflightBytes = chunk.byteLength;
    transfer.idleHeartbeats = 0;
    const { metadata, offset, totalBytes } = transfer;
    this.send({ type: "snapshot", from: this.id, to, term: this.term, metadata, offset, totalBytes, chunk });
    return true;
  }

  private handleSnapshotResp(m: SnapshotChunkResponseMessage, pr: Progress): void {
    pr.recentActive = true;
    const transfer = pr.snapshotSend;
    if (transfer === undefined || m.snapshotIndex !== transfer.metadata.index) return;
    if (m.reject) {
      transfer.offset = 0;
      this.sendSnapshotChunk(m.from, pr);
    } else if (m.nextOffset === transfer.totalBytes) {
      pr.maybeUpdate(transfer.metadata.index);
      pr.becomeProbe();
      this.sendAppend(m.from);
    } else if (transfer.inflightBytes >= 0 && m.nextOffset === transfer.offset + transfer.inflightBytes) {
      transfer.offset = m.nextOffset;
      this.sendSnapshotChunk(m.from, pr);
    }
    // Anything else acknowledges an earlier chunk: stale, ignored.
  }

  // ---- Leadership transfer ----

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: "timeoutNow", from: this.id, to, term: this.term });
  }

  // ---- ReadIndex ----

  private committedInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private leaderRead(from: NodeId, context: Uint8Array): RequestResult {
    if (!this.committedInCurrentTerm()) {
      // Until its no-op commits, the leader's commit index may lag what was committed before.
      if (this.readsAwaitingCommit.length + this.readOnly.size >= this.limits.maxPendingReads) return this.refuse("overloaded");
      this.readsAwaitingCommit.push({ from, context });
      return { ok: true };
    }
    if (this.tracker.hasQuorum(new Set([this.id]))) {
      this.answerRead(from, context, this.log.committed);
      return { ok: true };
    }
    const added = this.readOnly.add(this.log.committed, from, context);
    if (added === "duplicate") return this.refuse("invalid");
    if (added === "full") return this.refuse("overloaded");
    this.bcastHeartbeat(context);
    return { ok: true };
  }

  private releaseReadsAwaitingCommit(): void {
    if (this.readsAwaitingCommit.length === 0 || !this.committedInCurrentTerm()) return;
    const reads = this.readsAwaitingCommit;
    this.readsAwaitingCommit = [];
    for (const read of reads) this.leaderRead(read.from, read.context);
  }

  private handleReadAck(from: NodeId, context: Uint8Array): void {
    const request = this.readOnly.recvAck(from, context);
    if (request === undefined) return;
    const acks = new Set(request.acks).add(this.id);
    if (!this.tracker.hasQuorum(acks)) return;
    for (const done of this.readOnly.advance(context)) this.answerRead(done.from, done.context, done.index);
  }

  private answerRead(from: NodeId, context: Uint8Array, index: Index): void {
    if (from === this.id) this.readStates.push({ index, context });
    else this.send({ type: "readIndexResp", from: this.id, to: from, term: this.term, context, index });
  }

  // ---- Applying (called by RawNode.advance) ----

  /** The application applied `entries`, ending at `index`: conf changes take effect now. */
  appliedTo(index: Index, entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.kind === "confChange") this.applyConfChangeEntry(entry);
    }
    this.log.appliedTo(index);
    if (this.role === "leader") {
      const bytes = entries.reduce((sum, e) => sum + entryBytes(e), 0);
      this.uncommittedBytes = Math.max(0, this.uncommittedBytes - bytes);
    }
    this.assertInvariants();
  }

  private applyConfChangeEntry(entry: Entry): void {
    const change = decodeConfChange(entry.data);
    if (!this.tracker.applyChange(entry.index, change)) {
      this.config.logger?.warn({ id: this.id, index: entry.index, change }, "raft: conf change does not apply, ignored");
      return;
    }
    this.config.logger?.info({ id: this.id, index: entry.index, change, conf: this.tracker.conf }, "raft: applied conf change");
    if (this.role !== "leader") return;
    if (!this.tracker.isVoter(this.id)) {
      this.becomeFollower(this.term, NO_NODE);
      return;
    }
    this.tracker.syncProgress(this.id, asIndex(this.log.lastIndex() + 1), this.limits.maxInflightAppends);
    if (this.leadTransferee !== NO_NODE && !this.tracker.isVoter(this.leadTransferee)) this.leadTransferee = NO_NODE;
    // The quorum changed: entries may now be committed.
    if (this.maybeCommit()) this.releaseReadsAwaitingCommit();
    this.bcastAppend();
  }

  /**
   * The driver made entries durable (RawNode.advance). A leader now counts them as its own
   * copies: commit may advance, and followers hear of it.
   */
  onStable(): void {
    if (this.role !== "leader") return;
    const self = this.tracker.progress.get(this.id) as Progress;
    if (self.maybeUpdate(this.log.stableLastIndex()) && this.maybeCommit()) {
      this.releaseReadsAwaitingCommit();
      this.bcastAppend();
    }
    this.assertInvariants();
  }

  // ---- Output for RawNode ----

  /** Committed entries the application has not applied yet, bounded by maxApplyBytes. */
  nextCommittedEntries(): Entry[] {
    return this.log.nextCommittedEntries(this.limits.maxApplyBytes);
  }

  /** Committed entries after `after` and at most `upTo`, bounded by maxApplyBytes. */
  committedEntriesBetween(after: Index, upTo: Index): Entry[] {
    return this.log.nextCommittedEntries(this.limits.maxApplyBytes, after, upTo);
  }

  /** The application restored the snapshot at `index`: it is applied. */
  appliedSnapshot(index: Index): void {
    if (index > this.log.applied) this.log.appliedTo(index);
    this.assertInvariants();
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { leader: this.lead, role: this.role };
  }

  hasOutput(): boolean {
    return this.msgs.length > 0 || this.readStates.length > 0 || this.broadcastPending;
  }

  takeMessages(): Message[] {
    this.flushBroadcast();
    const msgs = this.msgs;
    this.msgs = [];
    return msgs;
  }

  takeReadStates(): ReadState[] {
    const states = this.readStates;
    this.readStates = [];
    return states;
  }

  private send(m: Message): void {
    this.msgs.push(m);
  }

  // ---- Invariants ----

  protected assertInvariants(): void {
    const log = this.log;
    if (!(log.applied <= log.committed && log.committed <= log.lastIndex())) {
      throw new Error(`raft ${this.id}: invariant applied <= commit <= last violated (applied ${log.applied}, commit ${log.committed}, last ${log.lastIndex()})`);
    }
    if ((this.role === "leader" || this.role === "candidate") && this.vote !== this.id) {
      throw new Error(`raft ${this.id}: ${this.role} of term ${this.term} voted for ${this.vote}`);
    }
    if (this.role === "leader") {
      const self = this.tracker.progress.get(this.id);
      if (self === undefined || self.match > log.lastIndex()) {
        throw new Error(`raft ${this.id}: leader's own match ${self?.match} is beyond its last index ${log.lastIndex()}`);
      }
      if (this.lead !== this.id) throw new Error(`raft ${this.id}: leader believes the leader is ${this.lead}`);
    }
    const expected = this.config.electionTicks;
    if (this.randomizedElectionTimeout < expected || this.randomizedElectionTimeout >= 2 * expected) {
      throw new Error(`raft ${this.id}: election timeout ${this.randomizedElectionTimeout} outside [${expected}, ${2 * expected})`);
    }
  }
}
