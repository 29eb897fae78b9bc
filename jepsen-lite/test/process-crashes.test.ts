// A node that exits without the harness stopping it is a crash, which fails the run even
// when every history checker is satisfied: the nodes run as real processes, and a fatal error
// in one of them is a bug the checkers alone would not report.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { DEFAULT_OPTIONS, ProcessRegistry, renderReport, summarize } from "@geolock/jepsen-lite";
import { checksOf } from "./checks-of.js";

const dir = mkdtempSync(join(tmpdir(), "jepsen-lite-crashes-"));
const EXITS_BY_ITSELF = join(dir, "exits.mjs");
const RUNS_ON = join(dir, "runs.mjs");
writeFileSync(EXITS_BY_ITSELF, "setTimeout(() => process.exit(7), 20);\n");
// Bounded: it ends by itself after 20 s should the test fail to stop it.
writeFileSync(RUNS_ON, "setTimeout(() => {}, 20_000);\n");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let registry = new ProcessRegistry();
afterEach(async () => {
  await registry.killAll();
  registry = new ProcessRegistry();
});

function spawned(name: string, script: string, runsUntilStopped: boolean) {
  const p = registry.create({ name, script, args: [], logFile: join(dir, `${name.replace("/", "-")}.log`), ipc: false, runsUntilStopped });
  p.start();
  return p;
}

describe("process crashes", () => {
  it("records a node that exits by itself, with its exit code", async () => {
    const node = spawned("us-east/3", EXITS_BY_ITSELF, true);
    expect(await node.waitExit(10_000)).toBe(true);
    expect(registry.crashes).toHaveLength(1);
    expect(registry.crashes[0]).toMatchObject({ name: "us-east/3", code: 7, signal: null });
  });

  it("does not count a node the harness killed, stopped or killed again after a restart", async () => {
    const node = spawned("us-east/1", RUNS_ON, true);
    await node.kill();
    node.start();
    await node.stop(5_000);
    node.start();
    await node.kill();
    expect(registry.crashes).toEqual([]);
  });

  it("counts a node killed from outside the harness (not by the nemesis)", async () => {
    const node = spawned("us-east/2", RUNS_ON, true);
    process.kill(node.pid as number, "SIGKILL");
    expect(await node.waitExit(10_000)).toBe(true);
    expect(registry.crashes[0]).toMatchObject({ name: "us-east/2", code: null, signal: "SIGKILL" });
  });

  it("does not count a process that finishes by itself by design (a client worker)", async () => {
    const worker = spawned("worker 0", EXITS_BY_ITSELF, false);
    expect(await worker.waitExit(10_000)).toBe(true);
    expect(registry.crashes).toEqual([]);
  });

  it("makes a run with valid histories invalid, and the report names the crashed node", () => {
    const checks = checksOf(
      [
        { process: 0, type: "invoke", f: "acquire", key: "us-east:k0", value: null, time: 10 },
        { process: 0, type: "ok", f: "acquire", key: "us-east:k0", value: { token: 1 }, time: 20 },
      ]
        .map((l) => JSON.stringify(l))
        .join("\n"),
    );
    const crash = { name: "us-west/2", code: 1, signal: null, at: "2026-11-27T01:00:00.000Z", logFile: "logs/us-west-2.log" };

    const clean = summarize(DEFAULT_OPTIONS, dir, checks, [], { accepted: 0, rejected: 0 }, 1, false, []);
    expect(clean.verdict).toBe("valid");
    const crashed = summarize(DEFAULT_OPTIONS, dir, checks, [], { accepted: 0, rejected: 0 }, 1, false, [crash]);
    expect(crashed.verdict).toBe("invalid");
    expect(crashed.exitCode).toBe(1);
    expect(crashed.crashes).toEqual([crash]);
    const page = renderReport({ summary: crashed, checks, nemesis: [] });
    expect(page).toContain("node crashes: <b>1</b>");
    expect(page).toContain("us-west/2 exited with code 1 at 2026-11-27T01:00:00.000Z without the harness stopping it (see logs/us-west-2.log)");
  });
});
