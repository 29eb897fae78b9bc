// The one error type the library throws. Codes that cross the wire are the server's
// (client-protocol.ts); the rest name conditions only the client can see: a try-lock that
// found the lock held, a lock that may have been lost, an abort, a closed client.

import { CLIENT_ERROR_CODES, type ClientErrorCode } from "@geolock/transport";

export const LOCAL_ERROR_CODES = [
  /** A try-lock (or a wait) found the lock held; `holders` says by whom. */
  "HELD",
  /** The handle's lock may no longer be held: its session expired, or may have. */
  "LOCK_LOST",
  /** This client already holds or is acquiring the name (geolock locks are not reentrant). */
  "ALREADY_HELD",
  /** The caller's AbortSignal fired. */
  "ABORTED",
  /** The client was closed. */
  "CLOSED",
  /** A server message failed validation; the connection it came on was dropped. */
  "PROTOCOL",
  /** A FencedResource refused a token lower than one it already accepted. */
  "STALE_TOKEN",
] as const;

export type LocalErrorCode = (typeof LOCAL_ERROR_CODES)[number];
export type GeolockErrorCode = ClientErrorCode | LocalErrorCode;

/** A holder as a refused try-lock reports it. */
export interface HolderInfo {
  readonly sessionId: number;
  readonly owner: string;
  readonly mode: "exclusive" | "shared";
  readonly token: number;
}

export interface GeolockErrorDetails {
  /** With HELD: the current holders (at most 8, see holderCount). */
  readonly holders?: readonly HolderInfo[];
  readonly holderCount?: number;
  readonly waiterCount?: number;
  /** With NOT_LEADER: the server's hint, "region/node". */
  readonly leader?: string;
  /**
   * With an acquire's error: its first session ended while the acquire's outcome was
   * unknown, and it was tried again in a new one. The old session may have held the lock
   * for a while (it is closed now, which released whatever it held).
   */
  readonly sessionReplaced?: boolean;
}

export class GeolockError extends Error {
  override readonly name = "GeolockError";

  constructor(
    readonly code: GeolockErrorCode,
    message: string,
    readonly details: GeolockErrorDetails = {},
  ) {
    super(message);
  }
}

export function isServerErrorCode(value: unknown): value is ClientErrorCode {
  return typeof value === "string" && (CLIENT_ERROR_CODES as readonly string[]).includes(value);
}

export function isGeolockError(error: unknown, code?: GeolockErrorCode): error is GeolockError {
  return error instanceof GeolockError && (code === undefined || error.code === code);
}
