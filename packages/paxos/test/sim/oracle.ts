// The simulation's ground truth and safety checks, fed by every event as it happens:
// - chosen: a value accepted by a majority of acceptors in one ballot (counted from the
//   acceptors' own successful accepts, not from any proposer's claim); at most one value per
//   (key, instance) ever, and never two values in one ballot;
// - every learned value is the chosen one (so a chosen value never changes);
// - an acceptor's promise never decreases;
// - every region's table applies the same answers per (key, instance) and reaches the same
//   key state at the same instance; token counters never go back;
// - mutual exclusion in time, as clients see it: no client is granted a key while another
//   client still believes (by its own conservative lease deadline) that it holds it.
// A violation throws, with the tick and the facts, and the run reports its seed.

import {
  compareBallots,
  formatBallot,
  quorumSize,
  sameValue,
  type Ballot,
  type FencingToken,
  type GlobalKey,
  type Instance,
  type KeyState,
  type PaxosValue,
  type RegionId,
} from "../../src/index.js";

export class SafetyViolation extends Error {
  override readonly name = "SafetyViolation";
}

interface Belief {
  readonly clientId: string;
  readonly token: FencingToken;
  untilTick: number;
}

export class Oracle {
  private readonly votes = new Map<string, { value: PaxosValue; regions: Set<RegionId> }>();
  private readonly chosen = new Map<string, PaxosValue>();
  private readonly promised = new Map<string, Ballot>();
  private readonly answers = new Map<string, string>();
  private readonly states = new Map<string, string>();
  private readonly nextTokens = new Map<string, number>();
  private readonly lastGrants = new Map<string, number>();
  private readonly beliefs = new Map<GlobalKey, Belief[]>();
  private readonly quorum: number;
  now = 0;
  chosenCount = 0;
  grantsBelieved = 0;

  constructor(regionCount: number) {
    this.quorum = quorumSize(regionCount);
  }

  private fail(message: string): never {
    throw new SafetyViolation(`tick ${this.now}: ${message}`);
  }

  /** An acceptor of `region` applied accept(ballot, value) at (key, instance) successfully. */
  accepted(region: RegionId, key: GlobalKey, instance: Instance, ballot: Ballot, value: PaxosValue): void {
    const id = `${key}#${instance}@${formatBallot(ballot)}`;
    let vote = this.votes.get(id);
    if (vote === undefined) {
      vote = { value, regions: new Set() };
      this.votes.set(id, vote);
    } else if (!sameValue(vote.value, value)) {
      this.fail(`two values proposed in one ballot at ${id}: ${JSON.stringify(vote.value)} and ${JSON.stringify(value)}`);
    }
    vote.regions.add(region);
    if (vote.regions.size < this.quorum) return;
    const slot = `${key}#${instance}`;
    const before = this.chosen.get(slot);
    if (before === undefined) {
      this.chosen.set(slot, value);
      this.chosenCount++;
    } else if (!sameValue(before, value)) {
      this.fail(`two values chosen for ${slot}: ${JSON.stringify(before)} then ${JSON.stringify(value)} (ballot ${formatBallot(ballot)})`);
    }
  }

  /** A region is about to learn `value` for (key, instance). */
  learned(region: RegionId, key: GlobalKey, instance: Instance, value: PaxosValue): void {
    const chosen = this.chosen.get(`${key}#${instance}`);
    if (chosen === undefined) this.fail(`${region} learns ${key}#${instance} = ${JSON.stringify(value)}, which no majority accepted`);
    if (!sameValue(chosen, value)) this.fail(`${region} learns ${key}#${instance} = ${JSON.stringify(value)}, but ${JSON.stringify(chosen)} was chosen`);
  }

  promise(region: RegionId, key: GlobalKey, ballot: Ballot): void {
    const id = `${region}/${key}`;
    const before = this.promised.get(id);
    if (before !== undefined && compareBallots(ballot, before) < 0) {
      this.fail(`${region}'s promise for ${key} went down from ${formatBallot(before)} to ${formatBallot(ballot)}`);
    }
    this.promised.set(id, ballot);
  }

  /** What a region's table answered for one instance, and the key's state after it. */
  appliedInstance(region: RegionId, key: GlobalKey, instance: Instance, answers: string): void {
    this.agree(this.answers, `${key}#${instance}`, answers, `answers of ${region}`);
  }

  keyState(region: RegionId, key: GlobalKey, state: KeyState): void {
    this.agree(this.states, `${key}#${state.applied}`, JSON.stringify(state), `key state of ${region}`);
    const id = `${region}/${key}`;
    const before = this.nextTokens.get(id) ?? 0;
    if (state.nextToken < before) this.fail(`${region}'s token counter for ${key} went back from ${before} to ${state.nextToken}`);
    this.nextTokens.set(id, state.nextToken);
  }

  /**
   * A region's table granted `token` to a new holder (not a remembered answer, not the same
   * holder asking again): it must be above every token that region granted or installed.
   */
  freshGrant(region: RegionId, key: GlobalKey, token: FencingToken): void {
    const id = `${region}/${key}`;
    const last = this.lastGrants.get(id) ?? 0;
    if (token <= last) this.fail(`${region} granted ${key} token ${token} after token ${last}`);
    this.lastGrants.set(id, token);
  }

  /** A region installed a key state: every token below its counter was granted before. */
  installed(region: RegionId, key: GlobalKey, state: KeyState): void {
    const id = `${region}/${key}`;
    this.lastGrants.set(id, Math.max(this.lastGrants.get(id) ?? 0, state.nextToken - 1));
  }

  /** A client got "granted" or "renewed": it believes it holds the key until `untilTick`. */
  believes(key: GlobalKey, clientId: string, token: FencingToken, untilTick: number): void {
    // A late answer whose lease already ran out by the client's own clock grants nothing.
    if (untilTick <= this.now) return;
    const beliefs = (this.beliefs.get(key) ?? []).filter((b) => b.untilTick > this.now);
    for (const b of beliefs) {
      if (b.token !== token) {
        this.fail(`${clientId} granted ${key} token ${token} while ${b.clientId} believes it holds token ${b.token} until tick ${b.untilTick}`);
      }
    }
    const mine = beliefs.find((b) => b.token === token && b.clientId === clientId);
    if (mine !== undefined) mine.untilTick = Math.max(mine.untilTick, untilTick);
    else {
      beliefs.push({ clientId, token, untilTick });
      this.grantsBelieved++;
    }
    this.beliefs.set(key, beliefs);
  }

  /** A client stopped believing (it sent a release, or learned it is not the holder). */
  stopsBelieving(key: GlobalKey, clientId: string): void {
    for (const b of this.beliefs.get(key) ?? []) if (b.clientId === clientId) b.untilTick = Math.min(b.untilTick, this.now);
  }

  private agree(seen: Map<string, string>, id: string, digest: string, what: string): void {
    const before = seen.get(id);
    if (before === undefined) seen.set(id, digest);
    else if (before !== digest) this.fail(`${what} at ${id} differ from another region's: ${digest} vs ${before}`);
  }
}
