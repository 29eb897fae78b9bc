// Whether a TCP connection opens: the harness's liveness probe for a server without a
// status page, and how the firewall test sees a partition (from a given local address).

import { connect } from "node:net";

export interface TcpProbe {
  readonly host: string;
  readonly port: number;
  /** Connect from this address (a node's own loopback address, so partition rules apply). */
  readonly localAddress?: string;
  readonly timeoutMs: number;
}

/** Resolves true once connected, false on an error or after timeoutMs; never rejects. */
export function tcpReachable(probe: TcpProbe): Promise<boolean> {
  return new Promise((resolve) => {
    const { host, port, localAddress, timeoutMs } = probe;
    const socket = connect({ host, port, timeout: timeoutMs, ...(localAddress === undefined ? {} : { localAddress }) });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.once("timeout", () => done(false));
  });
}
