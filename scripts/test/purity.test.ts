// The purity check guards the deterministic cores. These tests show it catches each kind of
// reach for the outside world, ignores look-alikes in comments, strings and property names,
// and fails the build (exit code 1) on a violating tree.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
// @ts-expect-error plain ESM script without type declarations
import { findViolations } from "../purity.mjs";

const check = (src: string): string[] => findViolations("core.ts", src) as string[];
const checkScript = fileURLToPath(new URL("../check-purity.mjs", import.meta.url));

describe("purity check", () => {
  it.each([
    ['import { readFileSync } from "node:fs";', 'imports "node:fs"'],
    ['import WebSocket from "ws";', 'imports "ws"'],
    ['import { Level } from "level";', 'imports "level"'],
    ['export * from "node:crypto";', 'imports "node:crypto"'],
    ["const now = Date.now();", "uses Date"],
    ["const t = new Date();", "uses Date"],
    ["const t = performance.now();", "uses performance"],
    ["const r = Math.random();", "Math.random"],
    ["setTimeout(() => {}, 10);", "uses setTimeout"],
    ["const h = setInterval(f, 1);", "uses setInterval"],
    ["queueMicrotask(f);", "uses queueMicrotask"],
    ["const env = process.env.X;", "uses process"],
    ["const d = globalThis.Date;", "globalThis.Date"],
    ['const m = await import("node:fs");', "dynamic import()"],
    ["async function f() {}", "async function"],
    ["const f = async () => 1;", "async function"],
  ])("flags %s", (src, expected) => {
    const violations = check(src);
    expect(violations.length).toBeGreaterThan(0);
    expect(violations.join("\n")).toContain(expected);
  });

  it("accepts pure code, and look-alikes in comments, strings and property names", () => {
    const src = [
      "// Date.now() and Math.random() are forbidden here, as is process.",
      'const note = "setTimeout is not for us";',
      "const o = { Date: 1, process: 2 };",
      "const x = o.Date + o.process;",
      "interface I { performance: number }",
      "export function f(rng: { next(): number }): number { return Math.floor(rng.next() * 10) + x; }",
      'import { Term } from "./types.js";',
    ].join("\n");
    expect(check(src)).toEqual([]);
  });

  it("reports the file, line and column of a violation", () => {
    expect(check("const a = 1;\nconst b = Date.now();")).toEqual(["core.ts:2:11 uses Date"]);
  });

  it("fails the build on a core that reads the clock, and passes a clean one", () => {
    const dir = mkdtempSync(join(tmpdir(), "purity-"));
    try {
      writeFileSync(join(dir, "clean.ts"), "export const one = 1;\n");
      const clean = spawnSync(process.execPath, [checkScript, dir], { encoding: "utf8" });
      expect(clean.status).toBe(0);
      writeFileSync(join(dir, "dirty.ts"), "export const now = Date.now();\n");
      const dirty = spawnSync(process.execPath, [checkScript, dir], { encoding: "utf8" });
      expect(dirty.status).toBe(1);
      expect(dirty.stderr).toContain("dirty.ts:1:20 uses Date");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
