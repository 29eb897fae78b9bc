// Deliberately broken lock applications, defined only here, to prove that the lock checks
// can fail. The machine in packages/locks guards its own invariants, so a broken variant
// that went through it would be stopped by its assertion before any check of the
// simulator could see it; these variants therefore corrupt what the replica reports (the
// answers and events the server would send to clients), which is exactly what the
// simulator's checks read. Each must be caught within the test's seed budget.

import { asFencingToken, validateCommand } from "@geolock/locks";
import type { ApplyResult, LockAnswer, LockEvent, LockStateMachine, LogPosition } from "@geolock/locks";
import { LockApp } from "../../src/index.js";
import type { Application } from "../../src/index.js";

/**
 * Double grant: a try-lock that the machine refuses because the lock is held is reported
 * as granted (with the next token), as a machine that forgot to look at the holders would.
 */
export class GrantsOverHoldersApp extends LockApp {
  protected override applyCommand(machine: LockStateMachine, position: LogPosition, command: unknown): ApplyResult {
    const result = super.applyCommand(machine, position, command);
    const parsed = validateCommand(command);
    if (result.answer.type !== "held" || !parsed.ok || parsed.command.type !== "acquire") return result;
    const { name, mode } = parsed.command;
    const granted: LockAnswer = { type: "granted", name, mode, token: machine.stats().nextToken };
    return { answer: granted, events: result.events };
  }
}

/** Fencing tokens that do not advance: every grant of a name reports the name's first token. */
export class ReusesTokensApp extends LockApp {
  private readonly firstToken = new Map<string, number>();

  protected override applyCommand(machine: LockStateMachine, position: LogPosition, command: unknown): ApplyResult {
    const result = super.applyCommand(machine, position, command);
    const answer = result.answer.type === "granted" ? { ...result.answer, token: this.reuse(result.answer.name, result.answer.token) } : result.answer;
    const events = result.events.map((e): LockEvent => (e.type === "granted" ? { ...e, token: this.reuse(e.name, e.token) } : e));
    return { answer, events };
  }

  private reuse(name: string, token: number): ReturnType<typeof asFencingToken> {
    const first = this.firstToken.get(name) ?? token;
    this.firstToken.set(name, first);
    return asFencingToken(first);
  }
}

/**
 * A grant to a dead session (etcd #11456): when a session expires while waiting, its first
 * cancelled wait is reported granted anyway, as a machine that granted from the queue
 * without re-checking the waiter's session would.
 */
export class GrantsToExpiredWaiterApp extends LockApp {
  protected override applyCommand(machine: LockStateMachine, position: LogPosition, command: unknown): ApplyResult {
    const result = super.applyCommand(machine, position, command);
    const events: LockEvent[] = [];
    for (const e of result.events) {
      events.push(e);
      const name = e.type === "sessionExpired" ? e.cancelledWaits[0] : undefined;
      if (e.type !== "sessionExpired" || name === undefined) continue;
      events.push({ type: "granted", sessionId: e.sessionId, clientId: e.clientId, name, owner: "", mode: "exclusive", token: machine.stats().nextToken });
    }
    return { answer: result.answer, events };
  }
}

export const grantsOverHolders = (): Application => new GrantsOverHoldersApp();
export const reusesTokens = (): Application => new ReusesTokensApp();
export const grantsToExpiredWaiter = (): Application => new GrantsToExpiredWaiterApp();
