// The `geolock` command as npm links it (packages/client/bin/geolock.js, which runs the built
// packages/client/dist/cli.js) as a child process for end-to-end
// tests: its --json events are read line by line from stdout, it can be killed, paused and
// resumed, and every process started here is killed by killAllCli() in the test's afterAll.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT, waitFor } from "./cluster.js";

export const CLI_ENTRY = join(ROOT, "packages/client/bin/geolock.js");
const CLI_BUILT = join(ROOT, "packages/client/dist/cli.js");

export interface CliExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const running = new Set<CliProcess>();

export class CliProcess {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  private readonly exit: Promise<CliExit>;

  constructor(args: readonly string[]) {
    if (!existsSync(CLI_BUILT)) throw new Error(`${CLI_BUILT} is missing: run "npx tsc -b packages/client" first`);
    this.child = spawn(process.execPath, [CLI_ENTRY, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (this.stdout += chunk));
    this.child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (this.stderr += chunk));
    const child = this.child;
    this.exit = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    running.add(this);
    void this.exit.then(() => running.delete(this));
  }

  /** The JSON objects printed on stdout so far (other lines, e.g. a `run` command's own output, are skipped). */
  events(): Record<string, unknown>[] {
    return this.stdout.split("\n").flatMap((line) => {
      if (!line.startsWith("{")) return [];
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  /** The first event of this kind, waiting up to timeoutMs; throws with the output if none comes. */
  async event(kind: string, timeoutMs: number): Promise<Record<string, unknown>> {
    const found = await waitFor(() => this.events().find((e) => e["event"] === kind), timeoutMs);
    if (found === undefined) throw new Error(`no "${kind}" event within ${timeoutMs} ms; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
    return found;
  }

  /** Resolves when the process exits; kills it (and throws) after timeoutMs. */
  async exited(timeoutMs: number): Promise<CliExit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
    const result = await Promise.race([this.exit, timeout]);
    clearTimeout(timer);
    if (result === "timeout") {
      this.signal("SIGKILL");
      throw new Error(`geolock did not exit within ${timeoutMs} ms; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
    }
    return result;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

/** Runs the CLI to completion (bounded by timeoutMs). */
export async function runCli(args: readonly string[], timeoutMs = 30_000): Promise<CliExit & { readonly stdout: string; readonly stderr: string; readonly events: Record<string, unknown>[] }> {
  const cli = new CliProcess(args);
  const exit = await cli.exited(timeoutMs);
  return { ...exit, stdout: cli.stdout, stderr: cli.stderr, events: cli.events() };
}

/** Kills every CLI process still running (SIGCONT first, so a paused one can die). */
export async function killAllCli(): Promise<void> {
  const all = [...running];
  for (const cli of all) {
    cli.signal("SIGCONT");
    cli.signal("SIGKILL");
  }
  await Promise.all(all.map((cli) => cli.exited(5_000).catch(() => undefined)));
}
