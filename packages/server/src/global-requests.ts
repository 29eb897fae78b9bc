// Client requests on global locks in and out: from the wire request to GlobalService's
// request, and from the table's answer to the client's response. The wire names follow the
// regional ones where they mean the same (`granted`, `held`, `released`, NOT_HOLDER).

import { asGlobalKey, type GlobalKey, type LockAnswer } from "@geolock/paxos";
import type { ClientRequest, ClientResponse } from "@geolock/transport";
import type { GlobalRequest } from "./global-service.js";

export type GlobalClientRequest = Extract<ClientRequest, { op: "globalAcquire" | "globalRenew" | "globalRelease" }>;

export function isGlobalOp(request: ClientRequest): request is GlobalClientRequest {
  return request.op === "globalAcquire" || request.op === "globalRenew" || request.op === "globalRelease";
}

/** The name is the key: the paxos core checks its syntax and size when it is proposed. */
export function globalKeyOf(name: string): GlobalKey {
  return asGlobalKey(name);
}

export function globalRequestOf(request: GlobalClientRequest): GlobalRequest {
  const key = globalKeyOf(request.name);
  const requestId = { clientId: request.clientId, seq: request.seq };
  switch (request.op) {
    case "globalAcquire":
      return { op: "acquire", key, requestId, owner: request.owner, ttlMs: request.ttlMs };
    case "globalRenew":
      return { op: "renew", key, requestId, token: request.token, ttlMs: request.ttlMs };
    case "globalRelease":
      return { op: "release", key, requestId, token: request.token };
  }
}

/** The client's view of the table's answer to its command. */
export function globalResponse(id: number, name: string, answer: LockAnswer): ClientResponse {
  switch (answer.kind) {
    case "granted":
      return { id, ok: true, result: { type: "granted", name, token: answer.token, leaseVersion: answer.leaseVersion, ttlMs: answer.ttlMs } };
    case "held":
      return { id, ok: true, result: { type: "held", name, token: answer.token, holder: { region: answer.holder.region, clientId: answer.holder.clientId, owner: answer.holder.owner } } };
    case "renewed":
      return { id, ok: true, result: { type: "renewed", name, token: answer.token, leaseVersion: answer.leaseVersion, ttlMs: answer.ttlMs } };
    case "released":
      return { id, ok: true, result: { type: "released", name, token: answer.token } };
    case "notHolder":
      return { id, ok: false, error: { code: "NOT_HOLDER", message: `${name} is not held by this client with that token (released or expired)` } };
    case "staleSequence":
      return { id, ok: false, error: { code: "STALE_SEQUENCE", message: `a newer request of this client on ${name} was applied; this one never will be` } };
    case "expired":
    case "staleLease":
      // Answers to expire commands, which no client sends.
      return { id, ok: false, error: { code: "INVALID_ARGUMENT", message: `unexpected answer ${answer.kind} to a client command` } };
  }
}
