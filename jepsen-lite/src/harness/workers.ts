// The client workers as the harness sees them: one child process each, whose messages feed
// the history recorder and the guarded resource. A message that fails validation is a bug
// in the worker; it is counted and logged, never guessed at.

import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ManagedProcess, ProcessRegistry } from "./processes.js";
import { decodeFromWorker, type ToWorker, type WorkerConfig } from "./protocol.js";
import type { HistoryRecorder } from "./recorder.js";
import type { GuardedResource } from "./resource.js";
import type { WorkerControl } from "./nemesis.js";

/** The worker's built entry (dist/harness/worker.js next to this module's build). */
export const WORKER_ENTRY = fileURLToPath(new URL("../../dist/harness/worker.js", import.meta.url));

export interface LateWrites {
  accepted: number;
  rejected: number;
}

export class WorkerPool implements WorkerControl {
  private readonly processes: ManagedProcess[] = [];
  private readonly done = new Set<number>();
  readonly late: LateWrites = { accepted: 0, rejected: 0 };
  /** Protocol violations by workers (bugs): a run with any is not trusted. */
  readonly errors: string[] = [];

  constructor(
    private readonly registry: ProcessRegistry,
    private readonly recorder: HistoryRecorder,
    private readonly resource: GuardedResource,
    private readonly runDir: string,
    private readonly now: () => number,
  ) {
    mkdirSync(join(runDir, "logs"), { recursive: true });
  }

  get count(): number {
    return this.processes.length;
  }

  holders(): number[] {
    return this.recorder.holders();
  }

  process(index: number): ManagedProcess | undefined {
    return this.processes[index];
  }

  start(configs: readonly WorkerConfig[]): void {
    for (const config of configs) {
      const p = this.registry.create({ name: `worker ${config.index}`, script: WORKER_ENTRY, args: [], logFile: join(this.runDir, "logs", `worker-${config.index}.log`), ipc: true });
      const child = p.start();
      this.processes[config.index] = p;
      child.on("message", (raw: unknown) => this.onMessage(config.index, raw));
      child.on("exit", () => this.done.add(config.index));
      const start: ToWorker = { t: "start", config };
      child.send(start);
    }
  }

  /** Asks every worker to finish its operation and stop; kills those that do not within graceMs. */
  async stop(graceMs: number): Promise<void> {
    const stop: ToWorker = { t: "stop" };
    for (const p of this.processes) {
      p.resume();
      if (p.running && p.channel?.connected === true) p.channel.send(stop);
    }
    const deadline = performance.now() + graceMs;
    await Promise.all(this.processes.map((p) => p.waitExit(Math.max(0, deadline - performance.now()))));
    await Promise.all(this.processes.map((p) => p.kill()));
  }

  private onMessage(index: number, raw: unknown): void {
    try {
      this.handle(index, raw);
    } catch (error) {
      this.fault(index, (error as Error).message);
    }
  }

  private fault(index: number, message: string): void {
    if (this.errors.length < 20) this.errors.push(`worker ${index}: ${message}`);
    appendFileSync(join(this.runDir, "logs", `worker-${index}.log`), `harness: ${message}\n`);
  }

  private handle(index: number, raw: unknown): void {
    const m = decodeFromWorker(raw);
    if (m === null) return this.fault(index, `invalid message ${JSON.stringify(raw)}`);
    switch (m.t) {
      case "invoke":
        return this.recorder.invoke(index, m);
      case "complete":
        return this.recorder.complete(index, m);
      case "lost":
        return this.recorder.lost(index, m);
      case "maybe-held":
        return this.recorder.maybeHeld(m);
      case "maybe-granted":
        return this.recorder.maybeGranted(m);
      case "done":
        this.done.add(index);
        return;
      case "write": {
        const time = this.now();
        const decision = this.resource.write(m.lock, m.token);
        const recorded = this.recorder.write(index, m, time, decision.accepted);
        this.resource.log(time, m.lock, m.token, decision, recorded.process, recorded.late);
        if (recorded.late) this.late[decision.accepted ? "accepted" : "rejected"]++;
        const answer: ToWorker = { t: "write-result", id: m.id, accepted: decision.accepted };
        const channel = this.processes[index]?.channel;
        if (channel?.connected === true) channel.send(answer);
        return;
      }
    }
  }
}
