// The `geolock` command a user runs (`npx geolock ...`, README): npm links the package's bin
// when it installs, before anything is built, and skips a link whose file is missing then, so
// the bin must be a committed file that runs the built CLI.

import { spawnSync } from "node:child_process";
import { readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cluster.js";

const CLIENT = join(ROOT, "packages/client");

describe("the geolock command", () => {
  it("is linked by npm to a committed file, not to build output", () => {
    const manifest = JSON.parse(readFileSync(join(CLIENT, "package.json"), "utf8")) as { bin: Record<string, string> };
    expect(manifest.bin).toEqual({ geolock: "./bin/geolock.js" });
    expect(realpathSync(join(ROOT, "node_modules/.bin/geolock"))).toBe(realpathSync(join(CLIENT, "bin/geolock.js")));
  });

  it("runs the built CLI through the link", () => {
    const result = spawnSync(join(ROOT, "node_modules/.bin/geolock"), ["--help"], { encoding: "utf8", timeout: 15_000 });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^usage: geolock <command>/);
  });
});
