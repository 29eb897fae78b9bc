// Child server processes for benchmarks (etcd, redis-server): start with output to a log file,
// stop with SIGTERM then SIGKILL after a deadline, and never leave one behind. Every server
// started here is also entered in a process-wide registry that a SIGINT/SIGTERM of the
// runner (or a plain exit) kills synchronously, together with the data directories.

import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync, readFileSync, rmSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

const DEFAULT_STOP_MS = 5_000;

/** Synchronous clean-up actions to run if the process is interrupted; keyed for removal. */
const emergencyCleanups = new Map<number, () => void>();
let nextCleanupId = 1;
let handlersInstalled = false;

/**
 * Runs every registered clean-up once, newest first (servers die before their directories
 * are removed, as with nested finally blocks); returns how many there were.
 */
function runEmergencyCleanups(): number {
  const count = emergencyCleanups.size;
  for (const fn of [...emergencyCleanups.values()].reverse()) {
    try {
      fn();
    } catch {
      // Best effort while dying: one failed clean-up must not skip the others.
    }
  }
  emergencyCleanups.clear();
  return count;
}

const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", runEmergencyCleanups);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      if (runEmergencyCleanups() > 0) {
        process.stderr.write(`bench: ${signal}, servers stopped and scratch data removed\n`);
      }
      process.exit(SIGNAL_EXIT_CODES[signal]);
    });
  }
}

/** Registers `fn` to run on SIGINT/SIGTERM/exit; returns the function that unregisters it. */
export function onInterrupt(fn: () => void): () => void {
  installHandlers();
  const id = nextCleanupId++;
  emergencyCleanups.set(id, fn);
  return () => emergencyCleanups.delete(id);
}

/** Removes a directory tree now and, should the run be interrupted first, then. */
export function removeDirOnInterrupt(dir: string): () => void {
  return onInterrupt(() => rmSync(dir, { recursive: true, force: true }));
}

export interface ServerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logPath: string;
  /** Whether the process has exited (for any reason). */
  exited(): boolean;
  /** SIGTERM, then SIGKILL if it has not exited after `deadlineMs`. Idempotent. */
  stop(deadlineMs?: number): Promise<void>;
  /** The last `bytes` of its log, for error messages. */
  logTail(bytes?: number): string;
}

/** Starts `command` with stdout and stderr appended to `logPath`. */
export function startServer(name: string, command: string, args: readonly string[], logPath: string): ServerProcess {
  if (!existsSync(command)) throw new Error(`${name}: ${command} not found`);
  const fd = openSync(logPath, "a");
  let child: ChildProcess;
  try {
    child = spawn(command, [...args], { stdio: ["ignore", fd, fd] });
  } finally {
    closeSync(fd); // the child holds its own copy of the descriptor
  }
  let hasExited = false;
  const exitPromise = new Promise<void>((resolve) => {
    child.once("exit", () => {
      hasExited = true;
      resolve();
    });
    child.once("error", () => {
      hasExited = true;
      resolve();
    });
  });
  const unregister = onInterrupt(() => {
    if (!hasExited) child.kill("SIGKILL");
  });
  const stop = async (deadlineMs = DEFAULT_STOP_MS): Promise<void> => {
    if (!hasExited) {
      child.kill("SIGTERM");
      // The deadline's timer is cancelled once the process exits, so it cannot hold the
      // runner's event loop open for the rest of deadlineMs.
      const deadline = new AbortController();
      const timedOut = await Promise.race([
        exitPromise.then(() => false),
        sleep(deadlineMs, undefined, { signal: deadline.signal }).then(
          () => true,
          () => false,
        ),
      ]);
      deadline.abort();
      if (timedOut && !hasExited) {
        child.kill("SIGKILL");
        await exitPromise;
      }
    }
    unregister();
  };
  return { name, child, logPath, exited: () => hasExited, stop, logTail: (bytes) => tail(logPath, bytes) };
}

/**
 * Throws, naming each and the tail of its log, if any of `servers` has exited: a benchmark
 * whose cluster lost a member measures a smaller cluster than it says (for a 3-member Raft
 * group, one fsync fewer per commit), so its numbers would read better, not worse.
 */
export function assertRunning(servers: readonly ServerProcess[]): void {
  const gone = servers.filter((s) => s.exited());
  if (gone.length === 0) return;
  const logs = gone.map((s) => `--- ${s.name} (log ${s.logPath}) ---\n${s.logTail(600)}`).join("\n");
  throw new Error(`${gone.map((s) => s.name).join(", ")} exited during the benchmark, which makes its numbers meaningless:\n${logs}`);
}

function tail(path: string, bytes = 2_000): string {
  try {
    const text = readFileSync(path, "utf8");
    return text.slice(Math.max(0, text.length - bytes));
  } catch {
    return "(no log)";
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port);
        else reject(new Error(`unexpected listen address ${String(address)}`));
      });
    });
  });
}

/**
 * Polls `probe` every `intervalMs` until it returns true, at most `timeoutMs` in total; throws
 * `what` with the probe's last error if it never does. A probe error counts as "not yet";
 * `fatal` (checked before each attempt) names a condition that makes waiting pointless,
 * such as the server having exited.
 */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
  fatal: () => string | undefined = () => undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = undefined;
  const maxAttempts = Math.ceil(timeoutMs / intervalMs) + 1;
  for (let attempt = 0; attempt < maxAttempts && Date.now() <= deadline; attempt++) {
    const reason = fatal();
    if (reason !== undefined) throw new Error(`gave up waiting for ${what}: ${reason}`);
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = err;
    }
    await sleep(intervalMs);
  }
  const cause = lastError instanceof Error ? `: ${lastError.message}` : "";
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
}

/** Runs `command args` and returns its stdout+stderr (for `--version` probes), bounded in time. */
export async function commandOutput(command: string, args: readonly string[], timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.stderr.on("data", (c: Buffer) => chunks.push(c));
    child.once("error", reject);
    child.once("close", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}
