// Crash safety with a real process: a child appends entries with group commit, snapshots and
// compacts, and prints each index once its persist resolved; the test SIGKILLs it mid-stream,
// reopens the directory and checks that every acknowledged entry is there and intact (or
// covered by the snapshot), and that the log is a valid prefix: no holes, no garbage. Three
// rounds on the same directory, each killed at a different point.
// The child runs the built package, so the suite builds it first with tsc -b.

import { asIndex } from "@geolock/raft";
import { execFile, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { DurableLog } from "../src/index.js";
import { payload, withTempDir } from "./helpers.js";

const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const FIXTURE = fileURLToPath(new URL("./fixtures/append-until-killed.mjs", import.meta.url));
const IDENTITY = { clusterId: "crash-test", region: "local", nodeId: 1 };
const ROUND_MS_MAX = 20_000;
const BUILD_MS_MAX = 240_000;

const snapshotData = (index: number): Uint8Array => new TextEncoder().encode(`snap-${index};`.repeat(20));

interface Round {
  readonly ready: number;
  readonly acked: readonly number[];
}

beforeAll(async () => {
  const tsc = fileURLToPath(new URL("node_modules/typescript/bin/tsc", `file://${REPO_ROOT}`));
  await promisify(execFile)(process.execPath, [tsc, "-b", "packages/storage"], { cwd: REPO_ROOT, timeout: BUILD_MS_MAX });
}, BUILD_MS_MAX + 10_000);

/** Runs the child until it has acknowledged `acksWanted` entries, then SIGKILLs it and waits for it. */
async function runUntilKilled(dir: string, acksWanted: number): Promise<Round> {
  const child = spawn(process.execPath, [FIXTURE, dir, "4"], { stdio: ["ignore", "pipe", "pipe"] });
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  let ready = -1;
  const acked: number[] = [];
  const timer = setTimeout(() => child.kill("SIGKILL"), ROUND_MS_MAX);
  try {
    for await (const line of createInterface({ input: child.stdout })) {
      const [word, value] = line.split(" ");
      if (word === "ready") ready = Number(value);
      if (word === "ack") acked.push(Number(value));
      if (acked.length === acksWanted) child.kill("SIGKILL");
    }
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await closed;
  }
  expect(child.signalCode, `the child should die by our SIGKILL; stderr: ${stderr}`).toBe("SIGKILL");
  expect(acked.length, `acks before the kill; stderr: ${stderr}`).toBeGreaterThanOrEqual(acksWanted);
  return { ready, acked };
}

/** Reopens (which validates every record) and checks the log against what was acknowledged. */
async function checkRecovered(dir: string, acked: ReadonlySet<number>): Promise<number> {
  const log = await DurableLog.open(dir, IDENTITY);
  try {
    const view = log.view;
    const first = view.firstIndex();
    const last = view.lastIndex();
    const snapshot = view.snapshot();
    for (const index of acked) {
      expect(index, `acknowledged entry ${index} lost (last ${last})`).toBeLessThanOrEqual(last);
      if (index < first) expect(index).toBeLessThanOrEqual(snapshot.metadata.index);
    }
    expect(view.hardState().commit).toBeGreaterThanOrEqual(Math.max(0, ...acked));
    const all = view.entries(first, asIndex(last + 1), Number.MAX_SAFE_INTEGER);
    all.forEach((entry, i) => {
      expect(entry.index).toBe(first + i);
      expect(entry.term).toBe(1);
      expect(entry.data, `entry ${entry.index} is not intact`).toEqual(payload(entry.index));
    });
    if (snapshot.metadata.index > 0) expect(snapshot.data).toEqual(snapshotData(snapshot.metadata.index));
    return last;
  } finally {
    await log.close();
  }
}

describe("crash safety", () => {
  it("keeps every acknowledged entry intact across SIGKILLs mid-stream", async () => {
    await withTempDir(async (dir) => {
      const acked = new Set<number>();
      let lastRecovered = 0;
      for (const acksWanted of [150, 233, 311]) {
        const round = await runUntilKilled(dir, acksWanted);
        expect(round.ready).toBe(lastRecovered);
        // Calls resolve in order: a round's acknowledgements are the contiguous run after its start.
        const sorted = [...round.acked].sort((a, b) => a - b);
        expect(sorted).toEqual(sorted.map((_, i) => round.ready + 1 + i));
        for (const index of round.acked) acked.add(index);
        lastRecovered = await checkRecovered(dir, acked);
      }
      expect(lastRecovered).toBeGreaterThanOrEqual(150 + 233 + 311);
    });
  }, 3 * 20_000 + 30_000);
});
