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
// The chosen-value, agreement and client-belief checks are safety-oracle.ts's, shared with
// the composed simulation (packages/sim). A violation throws, with the tick and the facts,
// and the run reports its seed.

import {
  Agreement,
  ChosenValues,
  compareBallots,
  formatBallot,
  HolderBeliefs,
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

export class Oracle {
  private readonly chosen: ChosenValues;
  private readonly answers: Agreement;
  private readonly states: Agreement;
  private readonly beliefs: HolderBeliefs;
  private readonly promised = new Map<string, Ballot>();
  private readonly nextTokens = new Map<string, number>();
  private readonly lastGrants = new Map<string, number>();
  now = 0;

  constructor(regionCount: number) {
    const fail = (message: string): never => this.fail(message);
    this.chosen = new ChosenValues(regionCount, fail);
    this.answers = new Agreement(fail);
    this.states = new Agreement(fail);
    this.beliefs = new HolderBeliefs(fail);
  }

  get chosenCount(): number {
    return this.chosen.count;
  }

  get grantsBelieved(): number {
    return this.beliefs.count;
  }

  private fail(message: string): never {
    throw new SafetyViolation(`tick ${this.now}: ${message}`);
  }

  /** An acceptor of `region` applied accept(ballot, value) at (key, instance) successfully. */
  accepted(region: RegionId, key: GlobalKey, instance: Instance, ballot: Ballot, value: PaxosValue): void {
    this.chosen.accepted(region, key, instance, ballot, value);
  }

  /** A region is about to learn `value` for (key, instance). */
  learned(region: RegionId, key: GlobalKey, instance: Instance, value: PaxosValue): void {
    this.chosen.learned(region, key, instance, value);
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
    this.answers.agree(`${key}#${instance}`, answers, `answers of ${region}`);
  }

  keyState(region: RegionId, key: GlobalKey, state: KeyState): void {
    this.states.agree(`${key}#${state.applied}`, JSON.stringify(state), `key state of ${region}`);
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
    this.beliefs.believes(key, clientId, token, untilTick, this.now);
  }

  /** A client stopped believing (it sent a release, or learned it is not the holder). */
  stopsBelieving(key: GlobalKey, clientId: string): void {
    this.beliefs.stopsBelieving(key, clientId, this.now);
  }
}
