// Ground truth and safety checks of the composed simulation, fed as things happen and
// checked at once (a violation throws GlobalViolation):
// - chosen: a value accepted in one ballot by a majority of REGIONS, counted from the
//   accepts their Raft groups committed and applied (not from any proposer's claim); at
//   most one value per (key, instance) ever, never two values in one ballot;
// - every learned value is the chosen one, so a chosen value never changes;
// - per region, the replicated state after log index i is the same on every replica
//   (across restarts and snapshot installs), and its promised ballots never decrease
//   along the log; per node, promises never decrease between applies of one lifetime;
// - per region, no two proposers ever share an epoch (Raft term);
// - per region, the promise/accepted replies it sends never go below one it sent before
//   (what the other regions rely on);
// - every replica of every region applies the same answers per (key, instance) and has
//   the same key state (hence the same single holder) after each instance;
// - fencing tokens: a token names one holder per key, and a replica's fresh grants never go
//   back within one lifetime (a restart replays the log from its snapshot);
// - mutual exclusion as clients see it: no client is granted a key while another still
//   believes (until its conservative lease deadline) that it holds it.

import { compareBallots, formatBallot, quorumSize, sameValue } from "@geolock/paxos";
import type { Ballot, GlobalKey, Instance, KeyState, PaxosValue, RegionId } from "@geolock/paxos";
import { fnvString, FNV_OFFSET } from "../hash.js";

export class GlobalViolation extends Error {
  override readonly name = "GlobalViolation";
}

interface Belief {
  readonly clientId: string;
  readonly token: number;
  untilUs: number;
}

export class GlobalOracle {
  private readonly votes = new Map<string, { value: PaxosValue; regions: Set<RegionId> }>();
  private readonly chosen = new Map<string, PaxosValue>();
  private readonly stateAt = new Map<string, number>();
  private readonly promisesAt = new Map<string, readonly Ballot[]>();
  private readonly repliedMax = new Map<string, Ballot>();
  private readonly epochs = new Set<string>();
  private readonly answers = new Map<string, string>();
  private readonly keyStates = new Map<string, string>();
  private readonly tokenHolder = new Map<string, string>();
  private readonly lastGrant = new Map<string, number>();
  private readonly beliefs = new Map<GlobalKey, Belief[]>();
  private readonly quorum: number;
  nowUs = 0;
  readonly counters = { chosen: 0, learned: 0, grants: 0, beliefs: 0, stateChecks: 0 };

  constructor(regionCount: number) {
    this.quorum = quorumSize(regionCount);
  }

  fail(message: string): never {
    throw new GlobalViolation(`t=${(this.nowUs / 1000).toFixed(3)}ms: ${message}`);
  }

  /** `region`'s Raft group committed and applied accept(ballot, value) at (key, instance), successfully. */
  accepted(region: RegionId, key: GlobalKey, instance: Instance, ballot: Ballot, value: PaxosValue): void {
    const id = `${key}#${instance}@${formatBallot(ballot)}`;
    let vote = this.votes.get(id);
    if (vote === undefined) {
      vote = { value, regions: new Set() };
      this.votes.set(id, vote);
    } else if (!sameValue(vote.value, value)) {
      this.fail(`two values accepted in one ballot at ${id}: ${JSON.stringify(vote.value)} and ${JSON.stringify(value)}`);
    }
    vote.regions.add(region);
    if (vote.regions.size < this.quorum) return;
    const slot = `${key}#${instance}`;
    const before = this.chosen.get(slot);
    if (before === undefined) {
      this.chosen.set(slot, value);
      this.counters.chosen++;
    } else if (!sameValue(before, value)) {
      this.fail(`two values chosen for ${slot}: ${JSON.stringify(before)} then ${JSON.stringify(value)} (ballot ${formatBallot(ballot)})`);
    }
  }

  /** A replica applies learn(key, instance, value). */
  learned(where: string, key: GlobalKey, instance: Instance, value: PaxosValue): void {
    const chosen = this.chosen.get(`${key}#${instance}`);
    if (chosen === undefined) this.fail(`${where} learns ${key}#${instance} = ${JSON.stringify(value)}, which no majority of regions accepted`);
    if (!sameValue(chosen, value)) this.fail(`${where} learns ${key}#${instance} = ${JSON.stringify(value)}, but ${JSON.stringify(chosen)} was chosen`);
    this.counters.learned++;
  }

  /**
   * A replica of `region` holds `stateHash` (and these promises, one per watched key) after
   * applying its log through `index`: it must equal every other replica's at that index, and
   * the promises must be at least those at the index before.
   */
  replicaState(where: string, region: RegionId, index: number, stateHash: number, promises: readonly Ballot[]): void {
    this.counters.stateChecks++;
    const id = `${region}@${index}`;
    const known = this.stateAt.get(id);
    if (known !== undefined) {
      if (known !== stateHash) this.fail(`${where}: replicated state at index ${index} differs from another replica's`);
      return;
    }
    this.stateAt.set(id, stateHash);
    this.promisesAt.set(id, promises);
    const before = this.promisesAt.get(`${region}@${index - 1}`);
    if (before !== undefined) this.promisesNotBelow(`${where} at index ${index}`, before, promises);
  }

  promisesNotBelow(what: string, before: readonly Ballot[], after: readonly Ballot[]): void {
    for (let i = 0; i < after.length; i++) {
      const b = before[i];
      const a = after[i];
      if (a !== undefined && b !== undefined && compareBallots(a, b) < 0) {
        this.fail(`${what}: promise of key #${i} went down from ${formatBallot(b)} to ${formatBallot(a)}`);
      }
    }
  }

  /** A node of `region` starts a proposer with this epoch: never twice per (region, epoch), ballots rest on it. */
  proposerStarted(region: RegionId, epoch: number): void {
    const id = `${region}@${epoch}`;
    if (this.epochs.has(id)) this.fail(`${region} starts a second proposer with epoch ${epoch}`);
    this.epochs.add(id);
  }

  /** A region sends a promise or accepted reply for `ballot`. */
  replySent(region: RegionId, key: GlobalKey, kind: "promise" | "accepted", ballot: Ballot): void {
    const id = `${region}/${key}`;
    const max = this.repliedMax.get(id);
    if (max !== undefined && compareBallots(ballot, max) < 0) {
      this.fail(`${region} sends ${kind} ${formatBallot(ballot)} for ${key} after replying for ${formatBallot(max)}: its promise went back`);
    }
    if (max === undefined || compareBallots(ballot, max) > 0) this.repliedMax.set(id, ballot);
  }

  /** What a replica's table answered at (key, instance). */
  appliedInstance(where: string, key: GlobalKey, instance: Instance, answers: string): void {
    this.agree(this.answers, `${key}#${instance}`, answers, `answers of ${where}`);
  }

  keyState(where: string, key: GlobalKey, state: KeyState): void {
    this.agree(this.keyStates, `${key}#${state.applied}`, JSON.stringify(state), `key state of ${where}`);
  }

  /**
   * A replica's table granted `token` on `key` to `clientId`; a duplicate is a retry getting
   * its remembered answer (an older token), so only fresh grants must not go back.
   */
  granted(node: string, key: GlobalKey, token: number, clientId: string, duplicate: boolean): void {
    const id = `${key}/${token}`;
    const holder = this.tokenHolder.get(id);
    if (holder === undefined) {
      this.tokenHolder.set(id, clientId);
      this.counters.grants++;
    } else if (holder !== clientId) this.fail(`${key} token ${token} granted to ${clientId} and to ${holder}`);
    if (duplicate) return;
    const last = this.lastGrant.get(`${node}/${key}`) ?? 0;
    if (token < last) this.fail(`${node} grants ${key} token ${token} after token ${last}`);
    this.lastGrant.set(`${node}/${key}`, token);
  }

  /** A client got granted/renewed: it believes it holds `key` until `untilUs`. */
  believes(key: GlobalKey, clientId: string, token: number, untilUs: number): void {
    if (untilUs <= this.nowUs) return;
    const live = (this.beliefs.get(key) ?? []).filter((b) => b.untilUs > this.nowUs);
    for (const b of live) {
      if (b.token !== token || b.clientId !== clientId) {
        this.fail(`${clientId} granted ${key} token ${token} while ${b.clientId} believes it holds token ${b.token} until ${b.untilUs}us`);
      }
    }
    const mine = live.find((b) => b.clientId === clientId);
    if (mine !== undefined) mine.untilUs = Math.max(mine.untilUs, untilUs);
    else {
      live.push({ clientId, token, untilUs });
      this.counters.beliefs++;
    }
    this.beliefs.set(key, live);
  }

  stopsBelieving(key: GlobalKey, clientId: string): void {
    for (const b of this.beliefs.get(key) ?? []) if (b.clientId === clientId) b.untilUs = Math.min(b.untilUs, this.nowUs);
  }

  private agree(seen: Map<string, string>, id: string, digest: string, what: string): void {
    const before = seen.get(id);
    if (before === undefined) seen.set(id, digest);
    else if (before !== digest) this.fail(`${what} at ${id} differ from another replica's: ${digest} vs ${before}`);
  }
}

export function hashText(text: string): number {
  return fnvString(FNV_OFFSET, text);
}
