// A broken invariant. The checkers throw it with the state involved in the message; the run
// stops there and reports it together with the seed, the step and the virtual time, which
// is all that is needed to replay it.

export type Invariant =
  | "electionSafety"
  | "logMatching"
  | "leaderCompleteness"
  | "stateMachineSafety"
  | "commitMonotonic"
  | "durableStateMonotonic"
  | "applyOrder"
  | "readIndexSafety"
  | "liveness"
  | "exception"
  // The lock application's (see lock-checker.ts and lock-model.ts):
  | "lockMutualExclusion"
  | "lockFencing"
  | "lockSessionLiveness"
  | "lockReplicaAgreement"
  | "lockHistory"
  | "lockInvariants";

export class InvariantViolation extends Error {
  constructor(
    readonly invariant: Invariant,
    readonly detail: string,
  ) {
    super(`${invariant}: ${detail}`);
    this.name = "InvariantViolation";
  }
}

/** Where and how a run failed. */
export interface Violation {
  readonly invariant: Invariant;
  readonly detail: string;
  /** The number of events executed when it was detected. */
  readonly step: number;
  readonly timeUs: number;
  readonly phase: "faults" | "liveness";
}

export function violated(invariant: Invariant, detail: string): never {
  throw new InvariantViolation(invariant, detail);
}
