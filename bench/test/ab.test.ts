// Tests the ab suite's pieces that need no cluster: loading another checkout's build, the
// paired comparison of its rows, and the refusal to run without --base.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConnectOptions } from "@geolock/client";
import { afterEach, describe, expect, it } from "vitest";
import { compareRows, loadBaseBuild, suite } from "../src/suites/ab.js";
import type { ScenarioResult } from "../src/suite.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function checkout(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "geolock-ab-test-"));
  dirs.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

function row(system: string, ops: readonly number[], p50: readonly number[]): ScenarioResult {
  return {
    scenario: "geolock lock cycle (leader)",
    system,
    concurrency: 64,
    opsPerSecond: 0,
    runs: ops.map((opsPerSecond, i) => ({ opsPerSecond, p50Ms: p50[i] ?? 0, p99Ms: 0 })),
    extra: { maxMs: 12 },
  };
}

describe("ab suite", () => {
  it("pairs the repeats: median ratios of this build over the base, and the pairs it won", () => {
    const [current, base] = compareRows(row("this", [110, 90, 130], [1.0, 2.0, 0.8]), row("base", [100, 100, 100], [1.0, 1.0, 1.0]));
    expect(current?.extra).toEqual({ maxMs: 12, pairedOpsRatio: 1.1, pairedP50Ratio: 1, pairsWon: "2 of 3" });
    expect(base?.system).toBe("base");
  });

  it("loads a built checkout's node program and client library", async () => {
    const dir = checkout({
      "dist/node.js": "",
      "packages/client/dist/index.js": "export class GeolockClient { static async connect(options) { return { connectedTo: options.endpoints, self: this === GeolockClient }; } }",
    });
    const base = await loadBaseBuild(dir);
    expect(base.entry).toBe(join(dir, "dist", "node.js"));
    // Outside a git work tree the checkout is named by its folder.
    expect(base.client.system).toMatch(/^geolock base geolock-ab-test-/);
    const options: ConnectOptions = { endpoints: ["ws://127.0.0.1:1/client"], region: "bench" };
    await expect(base.client.connect(options)).resolves.toEqual({ connectedTo: ["ws://127.0.0.1:1/client"], self: true });
  });

  it("names a git checkout by its commit, and a folder inside another repository by the folder", async () => {
    const dir = checkout({ "dist/node.js": "", "packages/client/dist/index.js": "export class GeolockClient { static async connect() { return {}; } }" });
    const git = (...args: string[]): string => execFileSync("git", ["-C", dir, ...args], { encoding: "utf8" }).trim();
    git("init", "-q");
    git("-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "-q", "--allow-empty", "-m", "base");
    const commit = git("rev-parse", "--short", "HEAD");
    expect((await loadBaseBuild(dir)).client.system).toBe(`geolock base ${commit}`);
    const nested = join(dir, "nested");
    mkdirSync(join(nested, "dist"), { recursive: true });
    mkdirSync(join(nested, "packages", "client", "dist"), { recursive: true });
    writeFileSync(join(nested, "dist", "node.js"), "");
    writeFileSync(join(nested, "packages", "client", "dist", "index.js"), "export class GeolockClient { static async connect() { return {}; } }");
    expect((await loadBaseBuild(nested)).client.system).toBe("geolock base nested");
  });

  it("refuses a checkout that is not built, or whose client library has no GeolockClient.connect", async () => {
    await expect(loadBaseBuild(checkout({ "packages/client/dist/index.js": "" }))).rejects.toThrow(/dist\/node\.js is missing/);
    await expect(loadBaseBuild(checkout({ "dist/node.js": "" }))).rejects.toThrow(/client\/dist\/index\.js is missing/);
    await expect(loadBaseBuild(checkout({ "dist/node.js": "", "packages/client/dist/index.js": "export const GeolockClient = {};" }))).rejects.toThrow(
      /exports no GeolockClient\.connect/,
    );
  });

  it("does not start without --base", async () => {
    const options = { warmupSeconds: 0, measureSeconds: 1, repeats: 1, scratchDir: tmpdir() };
    await expect(suite.run(options)).rejects.toThrow(/needs --base DIR/);
  });
});
