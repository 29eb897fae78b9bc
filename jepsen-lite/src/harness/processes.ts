// Child processes the harness owns: geolock nodes, the unsafe server and client workers.
// Every one is registered, so that whatever happens (an error, SIGINT) the harness can
// resume and kill all of them before it exits: nothing it started outlives it.

import { fork, spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";

export interface ProcessSpec {
  /** A short name for logs and the nemesis record: "us-east/2", "worker 3". */
  readonly name: string;
  /** A node script run with this Node.js binary. */
  readonly script: string;
  readonly args: readonly string[];
  /** Where stdout and stderr go (appended, so restarts keep the earlier output). */
  readonly logFile: string;
  /** With an IPC channel (client workers talk to the harness over it). */
  readonly ipc: boolean;
  /**
   * Runs until the harness stops it (a node): an exit the harness did not cause (kill,
   * stop) is recorded as a crash, which fails the run. Workers finish by themselves.
   */
  readonly runsUntilStopped?: boolean;
}

/** A process that exited without the harness stopping it. */
export interface ProcessCrash {
  readonly name: string;
  readonly code: number | null;
  readonly signal: string | null;
  /** Wall-clock time of the exit (ISO 8601). */
  readonly at: string;
  readonly logFile: string;
}

/** Bound on waiting for a process to exit after SIGKILL: the kernel reaps it long before. */
const KILL_WAIT_MS = 5_000;

export class ManagedProcess {
  private child: ChildProcess | undefined;
  private exit: Promise<void> = Promise.resolve();
  private paused = false;
  /** Set once the harness sends the signal that ends this run of the process. */
  private stopping = false;

  constructor(readonly spec: ProcessSpec, private readonly registry: ProcessRegistry) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get isPaused(): boolean {
    return this.paused && this.running;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get channel(): ChildProcess | undefined {
    return this.child;
  }

  start(env: NodeJS.ProcessEnv = {}): ChildProcess {
    if (this.running) throw new Error(`${this.spec.name} is already running (pid ${this.child?.pid})`);
    const fd = openSync(this.spec.logFile, "a");
    const fullEnv = { ...process.env, ...env };
    const child = this.spec.ipc
      ? fork(this.spec.script, [...this.spec.args], { stdio: ["ignore", fd, fd, "ipc"], env: fullEnv, serialization: "json" })
      : spawn(process.execPath, [this.spec.script, ...this.spec.args], { stdio: ["ignore", fd, fd], env: fullEnv });
    closeSync(fd);
    this.child = child;
    this.paused = false;
    this.stopping = false;
    this.exit = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        if (this.spec.runsUntilStopped === true && !this.stopping) {
          this.registry.crashed({ name: this.spec.name, code, signal, at: new Date().toISOString(), logFile: this.spec.logFile });
        }
        resolve();
      }),
    );
    this.registry.add(this);
    return child;
  }

  /** kill -9, waiting (bounded) until it is gone. A paused process dies as well. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    this.child?.kill("SIGKILL");
    await this.waitExit(KILL_WAIT_MS);
    this.paused = false;
  }

  /** SIGTERM (a node hands over leadership), then SIGKILL after graceMs. */
  async stop(graceMs: number): Promise<void> {
    if (!this.running) return;
    this.resume();
    this.stopping = true;
    this.child?.kill("SIGTERM");
    if (!(await this.waitExit(graceMs))) await this.kill();
  }

  pause(): void {
    if (!this.running) return;
    this.child?.kill("SIGSTOP");
    this.paused = true;
  }

  resume(): void {
    if (!this.running) return;
    this.child?.kill("SIGCONT");
    this.paused = false;
  }

  /** Resolves true once exited, false if still running after timeoutMs. */
  async waitExit(timeoutMs: number): Promise<boolean> {
    if (!this.running) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const exited = await Promise.race([this.exit.then(() => true), timedOut]);
    clearTimeout(timer);
    return exited;
  }
}

/** Every process the harness started; killAll is the last word on cleanup. */
export class ProcessRegistry {
  private readonly processes = new Set<ManagedProcess>();
  private readonly crashList: ProcessCrash[] = [];

  /** Every exit of a process that runs until stopped which the harness did not cause, in order. */
  get crashes(): readonly ProcessCrash[] {
    return this.crashList;
  }

  crashed(crash: ProcessCrash): void {
    this.crashList.push(crash);
  }

  add(p: ManagedProcess): void {
    this.processes.add(p);
  }

  create(spec: ProcessSpec): ManagedProcess {
    return new ManagedProcess(spec, this);
  }

  async killAll(): Promise<void> {
    await Promise.all([...this.processes].map((p) => p.kill()));
  }

  /** Synchronous last resort for process "exit": SIGKILL whatever still runs. */
  killAllNow(): void {
    for (const p of this.processes) {
      if (p.running) p.channel?.kill("SIGKILL");
    }
  }
}
