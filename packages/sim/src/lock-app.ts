// The lock state machine (packages/locks) as the simulator's replicated application. Every
// normal, non-empty entry is a lock command encoded as JSON (the sim's own deterministic
// encoding; the server uses MessagePack); empty entries (a new leader's no-op) and
// membership changes are not lock commands and leave the machine alone. The last outcome
// (command, answer, events) is kept for the lock checker, which reads it right after
// each apply. Snapshots are the machine's plain snapshot as JSON: the machine builds it
// in a fixed order, so two replicas with equal states give equal bytes.

import { DEFAULT_LOCK_CONFIG, LockStateMachine } from "@geolock/locks";
import type { ApplyResult, LockCommand, LockConfig, LogPosition } from "@geolock/locks";
import type { Entry } from "@geolock/raft";
import type { Application } from "./application.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeLockCommand(command: LockCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

/** The entry's command as the machine should see it; bytes that are not JSON stay recognisable. */
export function decodeLockEntry(data: Uint8Array): unknown {
  const text = decoder.decode(data);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { undecodable: text.slice(0, 80) };
  }
}

/** What one lock entry did on one replica. */
export interface LockOutcome {
  readonly index: number;
  readonly term: number;
  /** The decoded entry, as handed to the machine. */
  readonly command: unknown;
  readonly result: ApplyResult;
}

/** The reads the checker makes of a replica's applied state. */
export type LockStateView = Pick<LockStateMachine, "status" | "sessionInfo" | "assertInvariants" | "stats">;

export class LockApp implements Application {
  private machine: LockStateMachine;
  private outcome: LockOutcome | undefined;

  constructor(private readonly config: LockConfig = DEFAULT_LOCK_CONFIG) {
    this.machine = new LockStateMachine(config);
  }

  apply(entry: Entry): void {
    this.outcome = undefined;
    if (entry.kind !== "normal" || entry.data.length === 0) return;
    const position: LogPosition = { index: entry.index, term: entry.term };
    const command = decodeLockEntry(entry.data);
    this.outcome = { index: entry.index, term: entry.term, command, result: this.applyCommand(this.machine, position, command) };
  }

  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify(this.machine.snapshot()));
  }

  restore(bytes: Uint8Array): void {
    const restored = LockStateMachine.restore(JSON.parse(decoder.decode(bytes)) as unknown, this.config);
    if (!restored.ok) throw new Error(`LockApp: snapshot refused: ${restored.error}`);
    this.machine = restored.machine;
    this.outcome = undefined;
  }

  /** The outcome of the last entry applied, or undefined if it was not a lock command. */
  lastOutcome(): LockOutcome | undefined {
    return this.outcome;
  }

  get state(): LockStateView {
    return this.machine;
  }

  /**
   * The one place a command meets the machine. Tests override it to build deliberately
   * broken applications (ones that corrupt what the replica reports).
   */
  protected applyCommand(machine: LockStateMachine, position: LogPosition, command: unknown): ApplyResult {
    return machine.apply(position, command);
  }
}
