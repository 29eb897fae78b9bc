#!/usr/bin/env node
// The `geolock` command-line tool. Every command is a short client session: connect, do
// one thing, close. `acquire` and `run` hold a lock for as long as the process wants it,
// with the library keeping the session alive and reporting the moment the lock may be lost.

import { spawn, type ChildProcess } from "node:child_process";
import { randomInt } from "node:crypto";
import { EXIT, parseCli, UsageError, type CliCommand, type GlobalOptions, type LockOptions } from "./cli-args.js";
import {
  decodeNodeHttpStatus,
  formatCluster,
  formatGlobalStatus,
  formatGlobalWatchChange,
  formatStatus,
  formatWatchChange,
  nodeReports,
  type NodeHttpStatus,
} from "./cli-format.js";
import { GeolockClient } from "./client.js";
import { GeolockError, isGeolockError } from "./errors.js";
import { isGlobalName } from "./global-locks.js";
import type { LockHandle } from "./lock-handle.js";

type Command<K extends CliCommand["kind"]> = Extract<CliCommand, { kind: K }>;

/** Prints events: a human sentence, or one JSON object per line with --json. Errors go to stderr. */
class Output {
  constructor(private readonly json: boolean) {}

  event(event: Record<string, unknown>, human: string): void {
    process.stdout.write(`${this.json ? JSON.stringify(event) : human}\n`);
  }

  error(error: unknown): void {
    const code = isGeolockError(error) ? error.code : "ERROR";
    const message = error instanceof Error ? error.message : String(error);
    const holders = isGeolockError(error) ? error.details.holders : undefined;
    process.stderr.write(`${this.json ? JSON.stringify({ error: code, message, ...(holders === undefined ? {} : { holders }) }) : `${code}: ${message}`}\n`);
  }
}

/** SIGINT/SIGTERM as an AbortSignal; a second signal exits at once. */
class Interrupts {
  private readonly controller = new AbortController();
  readonly received: NodeJS.Signals[] = [];
  private readonly handler = (signal: NodeJS.Signals): void => {
    this.received.push(signal);
    if (this.received.length > 1) process.exit(128 + (signal === "SIGINT" ? 2 : 15));
    this.controller.abort(signal);
  };

  constructor() {
    process.on("SIGINT", this.handler);
    process.on("SIGTERM", this.handler);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  dispose(): void {
    process.off("SIGINT", this.handler);
    process.off("SIGTERM", this.handler);
  }
}

function connectClient(global: GlobalOptions, lock?: LockOptions): Promise<GeolockClient> {
  return GeolockClient.connect({
    ...(global.endpoints === undefined ? {} : { endpoints: global.endpoints }),
    ...(global.region === undefined ? {} : { region: global.region }),
    ...(lock === undefined ? {} : { ttlMs: lock.ttlMs }),
    ...(lock?.owner === undefined ? {} : { owner: lock.owner }),
  });
}

/** Takes the lock for acquire/run; undefined (after printing why) if it cannot be had. */
async function takeLock(client: GeolockClient, lock: LockOptions, out: Output, signal: AbortSignal): Promise<LockHandle | number> {
  try {
    const handle = await client.acquire(lock.name, { waitMs: lock.waitMs, mode: lock.mode, signal, ...(lock.owner === undefined ? {} : { owner: lock.owner }) });
    const where = isGlobalName(handle.name) ? "a global lock with its own lease" : `session ${handle.sessionId} in ${handle.region}`;
    out.event(
      { event: "acquired", name: handle.name, token: handle.token, mode: handle.mode, sessionId: handle.sessionId, region: handle.region, clientId: client.clientId },
      `acquired ${handle.name} (${handle.mode}) with fencing token ${handle.token}; ${where}, client ${client.clientId}`,
    );
    return handle;
  } catch (error) {
    out.error(error);
    if (isGeolockError(error, "ABORTED")) return 130;
    return isGeolockError(error, "HELD") || isGeolockError(error, "TIMEOUT") ? EXIT.notAcquired : EXIT.error;
  }
}

function reportLost(handle: LockHandle, out: Output): void {
  const reason = handle.lost.reason instanceof GeolockError ? handle.lost.reason : new GeolockError("LOCK_LOST", String(handle.lost.reason));
  out.event({ event: "lost", name: handle.name, token: handle.token, code: reason.code, message: reason.message }, `LOST ${handle.name} (token ${handle.token}): ${reason.message}`);
  out.error(reason);
}

/** Releases after the holder is done; LOCK_LOST here still means the lock was lost. */
async function releaseOrReport(handle: LockHandle, out: Output, exitCode: number): Promise<number> {
  try {
    await handle.release();
    out.event({ event: "released", name: handle.name, token: handle.token }, `released ${handle.name}`);
    return exitCode;
  } catch (error) {
    if (handle.state === "lost") {
      reportLost(handle, out);
      return EXIT.lost;
    }
    out.error(error);
    return EXIT.error;
  }
}

function until(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })));
}

async function acquireCommand(command: Command<"acquire">, out: Output, interrupts: Interrupts): Promise<number> {
  const client = await connectClient(command.global, command.lock);
  try {
    const handle = await takeLock(client, command.lock, out, interrupts.signal);
    if (typeof handle === "number") return handle;
    let holdTimer: NodeJS.Timeout | undefined;
    const held = new Promise<void>((resolve) => {
      if (command.holdMs !== undefined) holdTimer = setTimeout(resolve, command.holdMs);
    });
    await Promise.race([held, until(interrupts.signal), until(handle.lost)]);
    clearTimeout(holdTimer);
    if (handle.lost.aborted) {
      reportLost(handle, out);
      return EXIT.lost;
    }
    return await releaseOrReport(handle, out, EXIT.ok);
  } finally {
    await client.close();
  }
}

async function runCommand(command: Command<"run">, out: Output, interrupts: Interrupts): Promise<number> {
  const client = await connectClient(command.global, command.lock);
  try {
    const handle = await takeLock(client, command.lock, out, interrupts.signal);
    if (typeof handle === "number") return handle;
    const env = { ...process.env, GEOLOCK_LOCK_NAME: handle.name, GEOLOCK_FENCING_TOKEN: String(handle.token) };
    const child = spawn(command.command, [...command.args], { stdio: "inherit", env });
    const exit = await superviseChild(child, handle, command.graceMs, interrupts);
    if (exit.kind === "cannotRun") {
      out.error(new Error(`cannot run ${command.command}: ${exit.message}`));
      return await releaseOrReport(handle, out, EXIT.cannotRun);
    }
    if (handle.lost.aborted) {
      reportLost(handle, out);
      return EXIT.lost;
    }
    return await releaseOrReport(handle, out, exit.code);
  } finally {
    await client.close();
  }
}

type ChildExit = { readonly kind: "exited"; readonly code: number } | { readonly kind: "cannotRun"; readonly message: string };

/** Waits for the child; stops it (SIGTERM, then SIGKILL after graceMs) if the lock is lost; forwards interrupts. */
function superviseChild(child: ChildProcess, handle: LockHandle, graceMs: number, interrupts: Interrupts): Promise<ChildExit> {
  return new Promise((resolve) => {
    let killTimer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      child.kill("SIGTERM");
      killTimer ??= setTimeout(() => child.kill("SIGKILL"), graceMs);
    };
    const forward = (): void => void child.kill((interrupts.received[0] ?? "SIGTERM") as NodeJS.Signals);
    handle.lost.addEventListener("abort", stop, { once: true });
    interrupts.signal.addEventListener("abort", forward, { once: true });
    const finish = (result: ChildExit): void => {
      clearTimeout(killTimer);
      handle.lost.removeEventListener("abort", stop);
      interrupts.signal.removeEventListener("abort", forward);
      resolve(result);
    };
    child.once("error", (error) => finish({ kind: "cannotRun", message: error.message }));
    child.once("exit", (code, signal) => finish({ kind: "exited", code: code ?? 128 + signalNumber(signal) }));
  });
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };
  return (signal === null ? undefined : numbers[signal]) ?? 1;
}

async function statusCommand(command: Command<"status">, out: Output): Promise<number> {
  const client = await connectClient(command.global);
  try {
    if (isGlobalName(command.name)) {
      const status = await client.globalStatus(command.name);
      out.event({ event: "status", scope: "global", ...status }, formatGlobalStatus(status));
      return EXIT.ok;
    }
    const status = await client.status(command.name);
    out.event({ event: "status", ...status }, formatStatus(status));
    return EXIT.ok;
  } finally {
    await client.close();
  }
}

async function watchCommand(command: Command<"watch">, out: Output, interrupts: Interrupts): Promise<number> {
  const client = await connectClient(command.global);
  try {
    const watch = isGlobalName(command.name)
      ? await client.watchGlobal(command.name, (event) => {
          if (event.type === "status") out.event({ event: "status", scope: "global", index: event.index, ...event.status }, formatGlobalStatus(event.status));
          else {
            const { type, ...change } = event;
            out.event({ event: type, ...change }, formatGlobalWatchChange(event));
          }
        })
      : await client.watch(command.name, (event) => {
          if (event.type === "status") out.event({ event: "status", index: event.index, ...event.status }, formatStatus(event.status));
          else {
            const { type, ...change } = event;
            out.event({ event: type, ...change }, formatWatchChange(event));
          }
        });
    if (!interrupts.signal.aborted) await new Promise((resolve) => interrupts.signal.addEventListener("abort", resolve, { once: true }));
    await watch.close();
    return EXIT.ok;
  } finally {
    await client.close();
  }
}

async function releaseCommand(command: Command<"release">, out: Output): Promise<number> {
  // Acting as the holder's client: a seq far above any it will use keeps our command out of its dedup window.
  const client = await GeolockClient.connect({
    ...(command.global.endpoints === undefined ? {} : { endpoints: command.global.endpoints }),
    clientId: command.clientId,
    firstSeq: 2 ** 52 + randomInt(2 ** 30),
  });
  try {
    if (isGlobalName(command.name)) {
      out.error(new GeolockError("INVALID_ARGUMENT", `${command.name} is a global lock: it has no session to end; its holder releases it, or its lease runs out`));
      return EXIT.error;
    }
    const status = await client.status(command.name);
    if (!status.holders.some((h) => h.sessionId === command.sessionId)) {
      out.error(new GeolockError("NOT_HOLDER", `session ${command.sessionId} does not hold ${command.name}; nothing was changed`));
      return EXIT.error;
    }
    const region = command.name.slice(0, command.name.indexOf(":"));
    const released = await client.closeSessionById(region, command.sessionId);
    out.event({ event: "sessionClosed", sessionId: command.sessionId, released }, `ended session ${command.sessionId}; released ${released.map((r) => `${r.name} (token ${r.token})`).join(", ") || "nothing"}`);
    return EXIT.ok;
  } finally {
    await client.close();
  }
}

async function clusterCommand(command: Command<"cluster">, out: Output): Promise<number> {
  const client = await connectClient(command.global);
  try {
    const view = await client.cluster();
    const nodes = view.regions.flatMap((r) => r.nodes);
    const statuses = new Map<string, NodeHttpStatus | undefined>(await Promise.all(nodes.map(async (n) => [n.name, await fetchStatus(n.host, n.port)] as const)));
    const reports = nodeReports(view, statuses);
    out.event({ event: "cluster", answeredBy: view.self, nodes: reports }, formatCluster(reports));
    return EXIT.ok;
  } finally {
    await client.close();
  }
}

async function fetchStatus(host: string, port: number): Promise<NodeHttpStatus | undefined> {
  try {
    const response = await fetch(`http://${host.includes(":") ? `[${host}]` : host}:${port}/status`, { signal: AbortSignal.timeout(1_000) });
    return response.ok ? decodeNodeHttpStatus(await response.json()) : undefined;
  } catch {
    return undefined;
  }
}

async function execute(command: CliCommand, interrupts: Interrupts): Promise<number> {
  if (command.kind === "help") {
    process.stdout.write(`${command.text}\n`);
    return EXIT.ok;
  }
  const out = new Output(command.global.json);
  try {
    switch (command.kind) {
      case "acquire":
        return await acquireCommand(command, out, interrupts);
      case "run":
        return await runCommand(command, out, interrupts);
      case "status":
        return await statusCommand(command, out);
      case "watch":
        return await watchCommand(command, out, interrupts);
      case "release":
        return await releaseCommand(command, out);
      case "cluster":
        return await clusterCommand(command, out);
    }
  } catch (error) {
    out.error(error);
    return EXIT.error;
  }
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let command: CliCommand;
  try {
    command = parseCli(argv, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return EXIT.usage;
  }
  const interrupts = new Interrupts();
  try {
    return await execute(command, interrupts);
  } finally {
    interrupts.dispose();
  }
}

process.exitCode = await main(process.argv.slice(2), process.env);
