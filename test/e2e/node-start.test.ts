// How `node dist/node.js` refuses to start, each failure with its own exit code and a
// message that says what is wrong: a bad flag, an unknown region or node, a bad config, a
// port in use, a data directory that belongs to another node.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NODE_ENTRY, waitFor } from "../helpers/cluster.js";

const SECRET = "node-start-test-secret-0123456789";
let dir: string;
let config: string;

interface Outcome {
  readonly code: number | null;
  readonly stderr: string;
}

/** Runs the node with a deadline; a node that starts is stopped with SIGTERM at the deadline. */
function run(args: string[], deadlineMs = 8_000): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [NODE_ENTRY, ...args], { env: { ...process.env, GEOLOCK_SECRET: SECRET }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), deadlineMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "geolock-start-"));
  config = join(dir, "cluster.json");
  const node = (id: number) => ({ id, host: "127.0.0.1", port: 15010 + id });
  writeFileSync(config, JSON.stringify({ clusterId: "start-test", regions: [{ name: "solo", id: 1, nodes: [node(1), node(2), node(3)] }] }));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("a node that cannot start", () => {
  it("exits 2 on an unknown region, an unknown node or an unknown flag", async () => {
    const region = await run(["--region", "mars"]);
    expect(region.code).toBe(2);
    expect(region.stderr).toContain('unknown region "mars"');
    const node = await run(["--region", "solo", "--node", "9", "--config", config]);
    expect(node.code).toBe(2);
    expect(node.stderr).toContain('unknown node "9"');
    const flag = await run(["--region", "us-east", "--frobnicate"]);
    expect(flag.code).toBe(2);
  });

  it("exits 3 on a config file that is not a valid topology", async () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ clusterId: "x", regions: [] }));
    const outcome = await run(["--region", "solo", "--config", bad]);
    expect(outcome.code).toBe(3);
    expect(outcome.stderr).toContain("regions must be a non-empty array");
  });

  it("exits 4 when its port is in use", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(15011, "127.0.0.1", resolve));
    try {
      const outcome = await run(["--region", "solo", "--node", "1", "--config", config, "--data", join(dir, "port-test")]);
      expect(outcome.code).toBe(4);
      expect(outcome.stderr).toContain("port 15011 on 127.0.0.1 is already in use");
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it("exits 5 when the data directory belongs to another node", async () => {
    const data = join(dir, "node-1-data");
    const first = spawn(process.execPath, [NODE_ENTRY, "--region", "solo", "--node", "1", "--config", config, "--data", data], {
      env: { ...process.env, GEOLOCK_SECRET: SECRET },
      stdio: "ignore",
    });
    const exited = new Promise((resolve) => first.once("exit", resolve));
    const up = await waitFor(async () => {
      const res = await fetch("http://127.0.0.1:15011/health").catch(() => undefined);
      return res?.ok === true ? true : undefined;
    }, 10_000);
    expect(up).toBe(true);
    first.kill("SIGKILL");
    await exited;
    const outcome = await run(["--region", "solo", "--node", "2", "--config", config, "--data", data]);
    expect(outcome.code).toBe(5);
    expect(outcome.stderr).toMatch(/node 1.*node 2|node 2.*node 1/);
  });
});
