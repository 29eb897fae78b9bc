// How a node resolves its command line against the topology, and how it refuses bad input
// with distinct exit codes.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EXIT, NodeStartError, parseNodeArgs } from "../src/args.js";
import { localTopology, parseTopology, TopologyError } from "../src/topology.js";
import { wanDelayMs, WanTransport } from "../src/wan.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempFile(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), "geolock-args-"));
  dirs.push(dir);
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function startError(argv: string[], env: NodeJS.ProcessEnv = {}): NodeStartError {
  try {
    parseNodeArgs(argv, env);
  } catch (error) {
    if (error instanceof NodeStartError) return error;
    throw error;
  }
  throw new Error(`expected ${argv.join(" ")} to be refused`);
}

describe("the built-in local topology", () => {
  it("has three regions of three nodes on ports 70rn", () => {
    const t = localTopology();
    expect(t.regions.map((r) => r.name)).toEqual(["us-east", "us-west", "eu-west"]);
    expect(t.regions[0]?.nodes[0]).toEqual({ id: 1, host: "127.0.0.1", port: 7011 });
    expect(t.regions[2]?.nodes[2]).toEqual({ id: 3, host: "127.0.0.1", port: 7033 });
  });
});

describe("node arguments", () => {
  it("defaults to node 1 of the named region and a data directory named after it", () => {
    const options = parseNodeArgs(["--region", "eu-west"], {});
    expect(options.self).toEqual({ id: 1, host: "127.0.0.1", port: 7031 });
    expect(options.dataDir.endsWith("data/eu-west-1")).toBe(true);
    expect(options.usingBuiltInTopology).toBe(true);
  });

  it("snapshots every 10,000 entries unless --snapshot-every says otherwise, and refuses a count that is not a whole number in range", () => {
    expect(parseNodeArgs(["--region", "eu-west"], {}).snapshotEveryEntries).toBe(10_000);
    expect(parseNodeArgs(["--region", "eu-west", "--snapshot-every", "200"], {}).snapshotEveryEntries).toBe(200);
    for (const bad of ["0", "-5", "1.5", "1e3", "ten", "", "10000001"]) {
      const error = startError(["--region", "eu-west", `--snapshot-every=${bad}`]);
      expect(error.exitCode).toBe(EXIT.usage);
      expect(error.message).toContain("--snapshot-every must be a whole number of entries from 1 to 10000000");
    }
  });

  it("refuses an unknown region or node with the usage exit code", () => {
    expect(startError(["--region", "mars"]).exitCode).toBe(EXIT.usage);
    expect(startError(["--region", "mars"]).message).toContain("known: us-east, us-west, eu-west");
    expect(startError(["--region", "us-east", "--node", "4"]).exitCode).toBe(EXIT.usage);
    expect(startError(["--node", "1"]).message).toContain("--region is required");
    expect(startError(["--region", "us-east", "--bogus"]).exitCode).toBe(EXIT.usage);
  });

  it("refuses a config file that is not valid JSON or not a valid topology", () => {
    const notJson = tempFile("a.json", "{ nope");
    expect(startError(["--region", "x", "--config", notJson], { GEOLOCK_SECRET: "s".repeat(16) }).exitCode).toBe(EXIT.badConfig);
    const badPort = tempFile("b.json", JSON.stringify({ clusterId: "c", regions: [{ name: "x", id: 1, nodes: [{ id: 1, host: "127.0.0.1", port: 70000 }] }] }));
    const error = startError(["--region", "x", "--config", badPort], { GEOLOCK_SECRET: "s".repeat(16) });
    expect(error.exitCode).toBe(EXIT.badConfig);
    expect(error.message).toContain("regions[0].nodes[0].port");
  });

  it("requires a real secret for a custom topology, and a long enough one", () => {
    const config = tempFile("c.json", JSON.stringify({ clusterId: "c", regions: [{ name: "x", id: 1, nodes: [{ id: 1, host: "127.0.0.1", port: 7100 }] }] }));
    expect(startError(["--region", "x", "--config", config]).message).toContain("secret is required");
    expect(startError(["--region", "x", "--config", config], { GEOLOCK_SECRET: "short" }).message).toContain("at least 16 bytes");
    const options = parseNodeArgs(["--region", "x", "--config", config], { GEOLOCK_SECRET: "0123456789abcdef" });
    expect(new TextDecoder().decode(options.secret)).toBe("0123456789abcdef");
  });
});

describe("topology validation", () => {
  const valid = { clusterId: "c1", regions: [{ name: "a", id: 1, nodes: [{ id: 1, host: "127.0.0.1", port: 7100 }] }] };

  it("accepts a valid topology unchanged", () => {
    expect(parseTopology(valid)).toEqual(valid);
  });

  it.each([
    ["a non-object", 42, "topology must be an object"],
    ["a missing clusterId", { regions: valid.regions }, "clusterId"],
    ["a region named global", { ...valid, regions: [{ ...valid.regions[0], name: "global" }] }, "name"],
    ["duplicate node addresses", { ...valid, regions: [valid.regions[0], { name: "b", id: 2, nodes: [{ id: 1, host: "127.0.0.1", port: 7100 }] }] }, "duplicate node address"],
    ["duplicate region ids", { ...valid, regions: [valid.regions[0], { name: "b", id: 1, nodes: [{ id: 1, host: "127.0.0.1", port: 7101 }] }] }, "duplicate region id"],
    ["a fractional node id", { ...valid, regions: [{ name: "a", id: 1, nodes: [{ id: 1.5, host: "h", port: 1 }] }] }, "nodes[0].id"],
  ])("refuses %s", (_what, input, message) => {
    expect(() => parseTopology(input)).toThrow(TopologyError);
    expect(() => parseTopology(input)).toThrow(message);
  });
});

describe("WAN emulation", () => {
  it("is off by default", () => {
    expect(parseNodeArgs(["--region", "us-east"], {}).wan.size).toBe(0);
  });

  it("takes the realistic preset from the flag or GEOLOCK_WAN", () => {
    const fromFlag = parseNodeArgs(["--region", "us-east", "--wan", "realistic"], {}).wan;
    expect(wanDelayMs(fromFlag, "us-east", "us-west")).toBe(30);
    expect(wanDelayMs(fromFlag, "eu-west", "us-east")).toBe(40);
    expect(wanDelayMs(fromFlag, "us-west", "eu-west")).toBe(70);
    expect(wanDelayMs(fromFlag, "us-east", "us-east")).toBe(0);
    const fromEnv = parseNodeArgs(["--region", "us-east"], { GEOLOCK_WAN: "us-east:eu-west=5" }).wan;
    expect(wanDelayMs(fromEnv, "eu-west", "us-east")).toBe(5);
    expect(wanDelayMs(fromEnv, "us-east", "us-west")).toBe(0);
  });

  it("refuses unknown regions and malformed pairs", () => {
    expect(startError(["--region", "us-east", "--wan", "us-east:mars=10"]).message).toContain('unknown region "mars"');
    expect(startError(["--region", "us-east", "--wan", "us-east-us-west=10"]).exitCode).toBe(EXIT.usage);
    expect(startError(["--region", "us-east", "--wan", "us-east:us-east=10"]).message).toContain("two different regions");
  });
});

describe("the WAN transport", () => {
  it("holds messages to another region for the delay, and keeps their order", async () => {
    vi.useFakeTimers();
    try {
      const sent: unknown[] = [];
      const inner = {
        self: "us-east/1",
        registerChannel: () => {},
        send: (_to: string, _channel: string, message: unknown) => {
          sent.push(message);
          return "queued" as const;
        },
        isConnected: () => true,
        stats: () => ({ peers: new Map(), handshakesRefused: 0 }),
        close: async () => {},
      };
      const wan = new WanTransport(inner, (peer) => (peer.startsWith("eu-west") ? 40 : 0));
      wan.send("us-east/2", "raft", "local");
      wan.send("eu-west/1", "raft", "far-1");
      wan.send("eu-west/1", "raft", "far-2");
      expect(sent).toEqual(["local"]);
      vi.advanceTimersByTime(39);
      expect(sent).toEqual(["local"]);
      vi.advanceTimersByTime(1);
      expect(sent).toEqual(["local", "far-1", "far-2"]);
      await wan.close();
      expect(wan.send("eu-west/1", "raft", "late")).toBe("droppedClosed");
    } finally {
      vi.useRealTimers();
    }
  });
});
