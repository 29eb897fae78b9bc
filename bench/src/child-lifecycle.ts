// What every server a suite starts as its own child process (stub-node.ts,
// floor-replica.ts) does to never outlive the benchmark: it exits when its parent is gone,
// after a lifetime in any case, and on SIGTERM/SIGINT; and it tells the parent its port on
// stdout once it listens, in the line the parent waits for.

import type { Server } from "node:http";

const PARENT_CHECK_MS = 1_000;
const HOST = "127.0.0.1";

/** Calls `exit(0)` when the parent process is gone, after `lifetimeMs`, or on SIGTERM/SIGINT. */
export function exitWithParent(name: string, lifetimeMs: number, exit: (code: number) => void): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) exit(0);
  }, PARENT_CHECK_MS).unref();
  setTimeout(() => {
    process.stderr.write(`${name}: lifetime of ${lifetimeMs / 1000} s is over, exiting\n`);
    exit(0);
  }, lifetimeMs).unref();
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => exit(0));
}

/** Listens on 127.0.0.1 at a port the OS picks, then prints "<name> listening on 127.0.0.1:<port>". */
export function listenAndAnnounce(http: Server, name: string, onListening: (port: number) => void = () => undefined): void {
  http.listen(0, HOST, () => {
    const address = http.address();
    if (address === null || typeof address !== "object") throw new Error(`${name}: unexpected listen address ${String(address)}`);
    onListening(address.port);
    process.stdout.write(`${name} listening on ${HOST}:${address.port}\n`);
  });
}
