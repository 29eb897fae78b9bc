// Tests the etcd harness against the real etcd binary (skipped when /usr/bin/etcd is absent):
// a 3-member cluster starts on free loopback ports, the raw gRPC client does what the lock
// scenarios rely on (put-if-absent refuses a held key, delete, v3lock), and stop() leaves
// no process and no data directory behind.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tcpReachable } from "@geolock/jepsen-lite";
import { afterAll, describe, expect, it } from "vitest";
import { EtcdClient } from "../src/etcd-client.js";
import { ETCD_BINARY, requireEtcd, startEtcdCluster, type EtcdCluster } from "../src/etcd-cluster.js";

const root = mkdtempSync(join(tmpdir(), "geolock-bench-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it("names the Debian packages when the etcd binary is missing", () => {
  expect(() => requireEtcd("/nonexistent/etcd")).toThrow(/apt-get install etcd-server etcd-client/);
});

describe.skipIf(!existsSync(ETCD_BINARY))("a 3-member etcd cluster", () => {
  it("serves the lock primitives and cleans up after itself", async () => {
    const dir = join(root, "etcd");
    const cluster: EtcdCluster = await startEtcdCluster({ dir });
    const client = new EtcdClient(cluster.endpoints);
    try {
      expect(cluster.endpoints).toHaveLength(3);
      expect(cluster.version).toMatch(/^etcd 3\.\d+\.\d+/);
      const lease = await client.grantLease(0, 30);
      const key = Buffer.from("test/lock");
      const value = Buffer.from("v");
      expect(await client.putIfAbsent(0, key, value, lease)).toBe(true);
      expect(await client.putIfAbsent(1, key, value, lease)).toBe(false);
      expect(await client.deleteKey(2, key)).toBe(1);
      expect(await client.deleteKey(2, key)).toBe(0);
      const ownerKey = await client.lockName(1, Buffer.from("test/v3lock"), lease);
      expect(ownerKey.toString()).toMatch(/^test\/v3lock\//);
      await client.unlockKey(1, ownerKey);
      await client.revokeLease(0, lease);
    } finally {
      client.close();
      await cluster.stop();
    }
    expect(existsSync(dir)).toBe(false);
    // No member is left listening.
    for (const endpoint of cluster.endpoints) {
      const [host, port] = endpoint.split(":");
      expect(await tcpReachable({ host: host as string, port: Number(port), timeoutMs: 1_000 }), endpoint).toBe(false);
    }
  }, 60_000);
});
