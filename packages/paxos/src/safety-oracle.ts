// Ground-truth checks of global-lock safety, shared by the Paxos simulation (test/sim) and
// the composed simulation of regions over Raft (packages/sim/src/global). Each is fed
// events as they happen and fails at once, through the caller's `fail` (which throws with
// the caller's time and error type):
// - ChosenValues: a value is chosen when a majority of regions accepted it in one ballot,
//   counted from acceptors' own successful accepts, never from a proposer's claim; at most
//   one value per (key, instance) ever, never two values in one ballot, and every learned
//   value is the chosen one (so a chosen value never changes);
// - Agreement: every replica reports the same digest for the same id (answers per
//   instance, key state after an instance);
// - HolderBeliefs: mutual exclusion in time as clients see it: nobody is granted a key while
//   another client still believes, by its own conservative lease deadline, that it holds it.
// Pure and deterministic like the rest of this package; only simulations and tests use it.

import { formatBallot, type Ballot } from "./ballot.js";
import { quorumSize } from "./config.js";
import type { PaxosValue } from "./commands.js";
import type { GlobalKey, Instance, RegionId } from "./types.js";
import { sameValue } from "./values.js";

export type Fail = (message: string) => never;

export class ChosenValues {
  private readonly votes = new Map<string, { readonly value: PaxosValue; readonly regions: Set<RegionId> }>();
  private readonly chosen = new Map<string, PaxosValue>();
  private readonly quorum: number;
  /** Instances chosen so far. */
  count = 0;

  constructor(
    regionCount: number,
    private readonly fail: Fail,
  ) {
    this.quorum = quorumSize(regionCount);
  }

  /** An acceptor of `region` durably accepted `value` in `ballot` at (key, instance). */
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
      this.count++;
    } else if (!sameValue(before, value)) {
      this.fail(`two values chosen for ${slot}: ${JSON.stringify(before)} then ${JSON.stringify(value)} (ballot ${formatBallot(ballot)})`);
    }
  }

  /** `where` (a region, a replica) learns `value` for (key, instance): it must be the chosen one. */
  learned(where: string, key: GlobalKey, instance: Instance, value: PaxosValue): void {
    const chosen = this.chosen.get(`${key}#${instance}`);
    if (chosen === undefined) this.fail(`${where} learns ${key}#${instance} = ${JSON.stringify(value)}, which no majority of regions accepted`);
    if (!sameValue(chosen, value)) this.fail(`${where} learns ${key}#${instance} = ${JSON.stringify(value)}, but ${JSON.stringify(chosen)} was chosen`);
  }
}

export class Agreement {
  private readonly seen = new Map<string, string>();

  constructor(private readonly fail: Fail) {}

  /** `what` reports `digest` for `id`: every report for one id must be the same. */
  agree(id: string, digest: string, what: string): void {
    const before = this.seen.get(id);
    if (before === undefined) this.seen.set(id, digest);
    else if (before !== digest) this.fail(`${what} at ${id} differ from another's: ${digest} vs ${before}`);
  }
}

interface Belief {
  readonly clientId: string;
  readonly token: number;
  until: number;
}

export class HolderBeliefs {
  private readonly beliefs = new Map<GlobalKey, Belief[]>();
  /** Distinct (client, token) beliefs recorded: grants as clients saw them. */
  count = 0;

  constructor(private readonly fail: Fail) {}

  /**
   * At time `now`, `clientId` got granted or renewed `token`: it believes it holds `key`
   * until `until` (same clock). A live belief of another client, or of another token,
   * is a violation. A late answer whose lease already ran out grants nothing.
   */
  believes(key: GlobalKey, clientId: string, token: number, until: number, now: number): void {
    if (until <= now) return;
    const live = (this.beliefs.get(key) ?? []).filter((b) => b.until > now);
    for (const b of live) {
      if (b.token !== token || b.clientId !== clientId) {
        this.fail(`${clientId} granted ${key} token ${token} while ${b.clientId} believes it holds token ${b.token} until ${b.until}`);
      }
    }
    const mine = live.find((b) => b.clientId === clientId);
    if (mine !== undefined) mine.until = Math.max(mine.until, until);
    else {
      live.push({ clientId, token, until });
      this.count++;
    }
    this.beliefs.set(key, live);
  }

  /** At `now`, `clientId` stopped believing it holds `key` (it sent a release, or learned it is not the holder). */
  stopsBelieving(key: GlobalKey, clientId: string, now: number): void {
    for (const b of this.beliefs.get(key) ?? []) if (b.clientId === clientId) b.until = Math.min(b.until, now);
  }
}
