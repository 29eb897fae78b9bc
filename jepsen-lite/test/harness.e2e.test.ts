// The harness end to end, as `npm run jepsen` runs it: real geolock node processes, client
// worker processes, kills, pauses (of nodes and of lock-holding clients) and nftables
// partitions, then the checkers. geolock must come out valid; the deliberately unsafe lock
// server must be caught. Needs the build (dist/node.js, jepsen-lite/dist). Partitions need
// root and nft; without them the geolock run leaves them out and says so.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findNft, nodeHost, parseHistory, tableExists, tcpReachable, type RunSummary } from "@geolock/jepsen-lite";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLI = join(ROOT, "jepsen-lite/dist/jepsen-cli.js");
const BUILT = [CLI, join(ROOT, "dist/node.js"), join(ROOT, "jepsen-lite/dist/harness/worker.js"), join(ROOT, "jepsen-lite/dist/unsafe-server-main.js")];
const canPartition = process.getuid?.() === 0 && findNft() !== undefined;
if (!canPartition) console.warn("harness.e2e.test.ts: partitions left out of the geolock run: they need root and nft (Debian package nftables)");

/** Port bases used by no other test. */
const GEOLOCK_PORTS = 19000;
const UNSAFE_PORTS = 19200;
const INTERRUPT_PORTS = 19300;
const RUN_TIMEOUT_MS = 240_000;

interface Cli {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runCli(args: readonly string[], interruptAfterLine?: RegExp): Promise<Cli> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let interrupted = false;
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (interruptAfterLine !== undefined && !interrupted && interruptAfterLine.test(stdout)) {
        interrupted = true;
        setTimeout(() => child.kill("SIGINT"), 3_000);
      }
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function runDirOf(runsDir: string): string {
  const dirs = readdirSync(runsDir);
  expect(dirs).toHaveLength(1);
  return join(runsDir, dirs[0] as string);
}

function results(runDir: string): RunSummary {
  return JSON.parse(readFileSync(join(runDir, "results.json"), "utf8")) as RunSummary;
}

/** No node of the 3 x 3 topology listens any more, and no partition rules are left. */
async function nothingLeft(portBase: number): Promise<void> {
  for (const r of [1, 2, 3]) {
    for (const n of [1, 2, 3]) {
      const listening = await tcpReachable({ host: nodeHost(r, n), port: portBase + 10 * r + n, timeoutMs: 1_000 });
      expect(listening, `node ${r}/${n}`).toBe(false);
    }
  }
  if (canPartition) expect(tableExists()).toBe(false);
}

describe("jepsen-lite harness", () => {
  const scratch = mkdtempSync(join(tmpdir(), "jepsen-lite-e2e-"));

  beforeAll(() => {
    const missing = BUILT.filter((p) => !existsSync(p));
    if (missing.length > 0) throw new Error(`build first (npm run build): missing ${missing.join(", ")}`);
  });

  afterAll(() => {
    if (process.env["KEEP_E2E_DATA"] === undefined) rmSync(scratch, { recursive: true, force: true });
  });

  // The title says which faults ran: without root and nft it reads "kill,pause" in the report.
  const geolockNemesis = canPartition ? "kill,pause,partition" : "kill,pause";
  it(`finds geolock valid under ${geolockNemesis}`, async () => {
    const runsDir = join(scratch, "geolock");
    const nemesis = geolockNemesis;
    const cli = await runCli(["--nemesis", nemesis, "--time", "35", "--concurrency", "4", "--keys", "1", "--seed", "13", "--port-base", String(GEOLOCK_PORTS), "--runs-dir", runsDir, "--check-time-limit", "30"]);
    const runDir = runDirOf(runsDir);
    const summary = results(runDir);
    expect(cli.stdout).toContain("verdict: valid");
    expect(cli.code).toBe(0);
    expect(summary).toMatchObject({ verdict: "valid", linearizable: true, fencingAnomalies: 0, mutualExclusionAnomalies: 0, watch: { anomalies: 0 } });
    // Every key had a watcher, and the watchers were told of grants.
    expect(summary.watch?.watchers).toBe(summary.keys.total);
    expect(summary.watch?.epochs).toBeGreaterThanOrEqual(summary.keys.total);
    expect(summary.watch?.changes).toBeGreaterThan(0);
    expect(readFileSync(join(runDir, "watch.jsonl"), "utf8").split("\n").filter((l) => l !== "").length).toBe((summary.watch?.epochs ?? 0) + (summary.watch?.changes ?? 0));
    for (const kind of nemesis.split(",")) expect(summary.faults[kind]).toBeGreaterThan(0);
    expect(summary.outcomes["acquire"]?.ok).toBeGreaterThan(0);
    expect(summary.outcomes["write"]?.ok).toBeGreaterThan(0);
    // Seed 13 pauses lock-holding clients past their TTL: their leases end in the history.
    expect(summary.errors["LEASE_MAY_HAVE_ENDED"]).toBeGreaterThan(0);
    const history = parseHistory(readFileSync(join(runDir, "history.jsonl"), "utf8"));
    expect(history.ok).toBe(true);
    const logs = readdirSync(join(runDir, "logs")).filter((f) => f.endsWith(".log") && !f.startsWith("worker"));
    expect(logs).toHaveLength(9);
    expect(statSync(join(runDir, "logs", "us-east-1.log")).size).toBeGreaterThan(0);
    expect(readFileSync(join(runDir, "report.html"), "utf8")).toContain('data-verdict="valid"');
    await nothingLeft(GEOLOCK_PORTS);
  }, RUN_TIMEOUT_MS);

  it("catches the unsafe lock server when a holder is paused past its TTL", async () => {
    const runsDir = join(scratch, "unsafe");
    // Seed 5 pauses a lock-holding client twice. One pause catches the server only when it
    // lands while a write is in flight; with seed 2's single client pause, a loaded CI
    // machine once missed it.
    const cli = await runCli(["--target", "unsafe", "--nemesis", "pause", "--time", "12", "--concurrency", "3", "--keys", "1", "--ttl-ms", "1000", "--seed", "5", "--port-base", String(UNSAFE_PORTS), "--runs-dir", runsDir]);
    const summary = results(runDirOf(runsDir));
    expect(cli.code).toBe(1);
    expect(summary.verdict).toBe("invalid");
    expect(summary.mutualExclusionAnomalies).toBeGreaterThan(0);
    expect(summary.fencingAnomalies).toBeGreaterThan(0);
  }, RUN_TIMEOUT_MS);

  it("finds the unsafe lock server valid without faults: the pauses are what break it", async () => {
    const runsDir = join(scratch, "unsafe-calm");
    const cli = await runCli(["--target", "unsafe", "--nemesis", "none", "--time", "6", "--concurrency", "3", "--keys", "1", "--ttl-ms", "1000", "--seed", "2", "--port-base", String(UNSAFE_PORTS), "--runs-dir", runsDir]);
    expect(results(runDirOf(runsDir)).verdict).toBe("valid");
    expect(cli.code).toBe(0);
  }, RUN_TIMEOUT_MS);

  it("stops everything on SIGINT and keeps the node logs", async () => {
    const runsDir = join(scratch, "interrupted");
    const nemesis = canPartition ? "partition" : "pause";
    const cli = await runCli(["--nemesis", nemesis, "--time", "120", "--concurrency", "2", "--seed", "3", "--port-base", String(INTERRUPT_PORTS), "--runs-dir", runsDir], /workload regional/);
    expect(cli.code).toBe(130);
    const runDir = runDirOf(runsDir);
    expect(readdirSync(join(runDir, "logs")).filter((f) => f.startsWith("us-") || f.startsWith("eu-"))).toHaveLength(9);
    await nothingLeft(INTERRUPT_PORTS);
  }, RUN_TIMEOUT_MS);
});
