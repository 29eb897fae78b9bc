// Tests the server-process helpers with ordinary commands standing in for servers: stop()
// asks with SIGTERM and insists with SIGKILL after its deadline, waitUntil is bounded and
// gives up at once on a fatal condition, and freePort hands out a bindable loopback port.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { assertRunning, freePort, startServer, waitUntil } from "../src/processes.js";

const dir = mkdtempSync(join(tmpdir(), "geolock-bench-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("startServer", () => {
  it("stops a process that honours SIGTERM and captures its output", async () => {
    const p = startServer("echo-sleep", "/bin/sh", ["-c", "echo started; exec sleep 60"], join(dir, "a.log"));
    await waitUntil("the log line", async () => p.logTail().includes("started"), 5_000, 20);
    await p.stop();
    expect(p.exited()).toBe(true);
    expect(p.child.signalCode).toBe("SIGTERM");
  });

  it("kills a process that ignores SIGTERM once the deadline passes", async () => {
    const p = startServer("stubborn", "/bin/sh", ["-c", "trap '' TERM; echo ready; while :; do sleep 1; done"], join(dir, "b.log"));
    await waitUntil("the trap to be set", async () => p.logTail().includes("ready"), 5_000, 20);
    await p.stop(100);
    expect(p.exited()).toBe(true);
    expect(p.child.signalCode).toBe("SIGKILL");
  });

  it("refuses a command that does not exist", () => {
    expect(() => startServer("ghost", "/nonexistent/server", [], join(dir, "c.log"))).toThrow(/not found/);
  });
});

describe("assertRunning", () => {
  it("passes while every server runs and names the one that exited, with its last words", async () => {
    const up = startServer("member-up", "/bin/sh", ["-c", "echo up; exec sleep 60"], join(dir, "up.log"));
    const down = startServer("member-down", "/bin/sh", ["-c", "echo fatal: disk on fire; exit 3"], join(dir, "down.log"));
    try {
      await waitUntil("the up member's log line", async () => up.logTail().includes("up"), 5_000, 20);
      await waitUntil("the down member to exit", async () => down.exited(), 5_000, 20);
      expect(() => assertRunning([up])).not.toThrow();
      expect(() => assertRunning([up, down])).toThrow(/^member-down exited during the benchmark[\s\S]*--- member-down \(log .*down\.log\) ---\nfatal: disk on fire/);
    } finally {
      await up.stop();
    }
  });
});

describe("waitUntil", () => {
  it("times out with the probe's last error", async () => {
    const probe = async (): Promise<boolean> => {
      throw new Error("connection refused");
    };
    await expect(waitUntil("a server", probe, 50, 10)).rejects.toThrow(/waiting for a server: connection refused/);
  });

  it("gives up at once on a fatal condition without probing", async () => {
    let probes = 0;
    const probe = async (): Promise<boolean> => {
      probes += 1;
      return false;
    };
    await expect(waitUntil("a server", probe, 60_000, 10, () => "it exited")).rejects.toThrow(/gave up waiting for a server: it exited/);
    expect(probes).toBe(0);
  });

  it("returns as soon as the probe succeeds", async () => {
    let probes = 0;
    await waitUntil("the third probe", async () => ++probes === 3, 60_000, 1);
    expect(probes).toBe(3);
  });
});

it("freePort returns a port that can be listened on", async () => {
  const port = await freePort();
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
  expect(port).toBeGreaterThan(0);
});
