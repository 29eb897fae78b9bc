// Client requests on global keys waiting, on the region's leader, for their command to be
// chosen and applied. A request is answered by the table's answer to its requestId (from an
// applied command, or from a dedup record after a catch-up install), or fails with its
// proposal's outcome (NO_QUORUM, OVERLOADED), its backstop deadline, or a leader change.
// A retry of the same requestId while the first waits shares the first's answer.

import type { GlobalKey, LockAnswer, ProposalId, RequestId } from "@geolock/paxos";
import { RequestError } from "@geolock/transport";

interface Waiter {
  readonly key: GlobalKey;
  readonly requestId: RequestId;
  readonly resolve: (answer: LockAnswer) => void;
  readonly reject: (error: RequestError) => void;
  readonly timer: NodeJS.Timeout;
  proposal: ProposalId | undefined;
}

export class GlobalWaiters {
  private readonly byRequest = new Map<string, Set<Waiter>>();
  private readonly byProposal = new Map<ProposalId, Waiter>();
  private count = 0;

  constructor(private readonly waitersMax: number) {}

  get size(): number {
    return this.count;
  }

  /**
   * Parks a request until answered; `propose` is then called to start it and returns its
   * proposal id (or throws a RequestError, which fails the request at once).
   */
  wait(key: GlobalKey, requestId: RequestId, backstopMs: number, propose: () => ProposalId): Promise<LockAnswer> {
    if (this.count >= this.waitersMax) return Promise.reject(new RequestError("OVERLOADED", `${this.count} global requests waiting`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.remove(waiter);
        reject(new RequestError("TIMEOUT", `no answer for ${key} within ${backstopMs} ms; the command may still take effect`));
      }, backstopMs);
      const waiter: Waiter = { key, requestId, resolve, reject, timer, proposal: undefined };
      this.add(waiter);
      try {
        waiter.proposal = propose();
        this.byProposal.set(waiter.proposal, waiter);
      } catch (error) {
        this.remove(waiter);
        reject(error instanceof RequestError ? error : new RequestError("UNAVAILABLE", String(error)));
      }
    });
  }

  /** The table answered (key, requestId): every request waiting on it gets the answer. */
  answer(key: GlobalKey, requestId: RequestId, answer: LockAnswer): void {
    const waiters = this.byRequest.get(requestKey(key, requestId));
    if (waiters === undefined) return;
    for (const waiter of [...waiters]) {
      this.remove(waiter);
      waiter.resolve(answer);
    }
  }

  /** The requests waiting on a key, to answer from dedup records after a catch-up. */
  waitingOn(key: GlobalKey): RequestId[] {
    const out: RequestId[] = [];
    for (const waiters of this.byRequest.values()) {
      for (const w of waiters) if (w.key === key) out.push(w.requestId);
    }
    return out;
  }

  /** A proposal failed: its request fails (a retry with the same requestId stays exactly-once). */
  failProposal(id: ProposalId, error: RequestError): void {
    const waiter = this.byProposal.get(id);
    if (waiter === undefined) return;
    this.remove(waiter);
    waiter.reject(error);
  }

  failAll(error: RequestError): void {
    for (const waiters of [...this.byRequest.values()]) {
      for (const waiter of [...waiters]) {
        this.remove(waiter);
        waiter.reject(error);
      }
    }
  }

  private add(waiter: Waiter): void {
    const k = requestKey(waiter.key, waiter.requestId);
    let set = this.byRequest.get(k);
    if (set === undefined) this.byRequest.set(k, (set = new Set()));
    set.add(waiter);
    this.count += 1;
  }

  private remove(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    const k = requestKey(waiter.key, waiter.requestId);
    const set = this.byRequest.get(k);
    if (set?.delete(waiter) !== true) return;
    if (set.size === 0) this.byRequest.delete(k);
    if (waiter.proposal !== undefined) this.byProposal.delete(waiter.proposal);
    this.count -= 1;
  }
}

function requestKey(key: GlobalKey, requestId: RequestId): string {
  return `${key}\u0000${requestId.clientId}\u0000${requestId.seq}`;
}
