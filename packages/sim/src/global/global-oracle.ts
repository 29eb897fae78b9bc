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
// The chosen-value, agreement and belief checks are @geolock/paxos's safety-oracle.ts,
// shared with the Paxos simulation; the per-region Raft checks are this file's own.

import { Agreement, ChosenValues, compareBallots, formatBallot, HolderBeliefs } from "@geolock/paxos";
import type { Ballot, GlobalKey, Instance, KeyState, PaxosValue, RegionId } from "@geolock/paxos";
import { fnvString, FNV_OFFSET } from "../hash.js";

export class GlobalViolation extends Error {
  override readonly name = "GlobalViolation";
}

export class GlobalOracle {
  private readonly chosen: ChosenValues;
  private readonly answers: Agreement;
  private readonly keyStates: Agreement;
  private readonly beliefs: HolderBeliefs;
  private readonly stateAt = new Map<string, number>();
  private readonly promisesAt = new Map<string, readonly Ballot[]>();
  private readonly repliedMax = new Map<string, Ballot>();
  private readonly epochs = new Set<string>();
  private readonly tokenHolder = new Map<string, string>();
  private readonly lastGrant = new Map<string, number>();
  nowUs = 0;
  private readonly tallies = { learned: 0, grants: 0, stateChecks: 0 };

  constructor(regionCount: number) {
    const fail = (message: string): never => this.fail(message);
    this.chosen = new ChosenValues(regionCount, fail);
    this.answers = new Agreement(fail);
    this.keyStates = new Agreement(fail);
    this.beliefs = new HolderBeliefs(fail);
  }

  get counters(): Readonly<Record<"chosen" | "learned" | "grants" | "beliefs" | "stateChecks", number>> {
    const { learned, grants, stateChecks } = this.tallies;
    return { chosen: this.chosen.count, learned, grants, beliefs: this.beliefs.count, stateChecks };
  }

  fail(message: string): never {
    throw new GlobalViolation(`t=${(this.nowUs / 1000).toFixed(3)}ms: ${message}`);
  }

  /** `region`'s Raft group committed and applied accept(ballot, value) at (key, instance), successfully. */
  accepted(region: RegionId, key: GlobalKey, instance: Instance, ballot: Ballot, value: PaxosValue): void {
    this.chosen.accepted(region, key, instance, ballot, value);
  }

  /** A replica applies learn(key, instance, value). */
  learned(where: string, key: GlobalKey, instance: Instance, value: PaxosValue): void {
    this.chosen.learned(where, key, instance, value);
    this.tallies.learned++;
  }

  /**
   * A replica of `region` holds `stateHash` (and these promises, one per watched key) after
   * applying its log through `index`: it must equal every other replica's at that index, and
   * the promises must be at least those at the index before.
   */
  replicaState(where: string, region: RegionId, index: number, stateHash: number, promises: readonly Ballot[]): void {
    this.tallies.stateChecks++;
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
    this.answers.agree(`${key}#${instance}`, answers, `answers of ${where}`);
  }

  keyState(where: string, key: GlobalKey, state: KeyState): void {
    this.keyStates.agree(`${key}#${state.applied}`, JSON.stringify(state), `key state of ${where}`);
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
      this.tallies.grants++;
    } else if (holder !== clientId) this.fail(`${key} token ${token} granted to ${clientId} and to ${holder}`);
    if (duplicate) return;
    const last = this.lastGrant.get(`${node}/${key}`) ?? 0;
    if (token < last) this.fail(`${node} grants ${key} token ${token} after token ${last}`);
    this.lastGrant.set(`${node}/${key}`, token);
  }

  /** A client got granted/renewed: it believes it holds `key` until `untilUs`. */
  believes(key: GlobalKey, clientId: string, token: number, untilUs: number): void {
    this.beliefs.believes(key, clientId, token, untilUs, this.nowUs);
  }

  stopsBelieving(key: GlobalKey, clientId: string): void {
    this.beliefs.stopsBelieving(key, clientId, this.nowUs);
  }
}

export function hashText(text: string): number {
  return fnvString(FNV_OFFSET, text);
}
