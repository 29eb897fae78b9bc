// The check command: its output and exit codes (0 true, 1 false or an anomaly, 2 unknown,
// 3 bad input), run in-process with the file system replaced by a table.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { formatHistory, generateRegisterHistory, runCheckCli } from "@geolock/jepsen-lite";

const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));

function run(argv: readonly string[], files: Record<string, string> = {}, now?: () => number) {
  const readText = (path: string) => {
    const text = files[path] ?? (path.startsWith("fixtures/") ? readFileSync(`${fixtures}${path.slice("fixtures/".length)}`, "utf8") : undefined);
    return text === undefined ? { ok: false as const, error: "no such file" } : { ok: true as const, value: text };
  };
  return now === undefined ? runCheckCli(argv, readText) : runCheckCli(argv, readText, now);
}

describe("check command", () => {
  it("exits 0 and says linearizable: true for a good history", () => {
    const result = run(["fixtures/cas-good-info.jsonl", "--model", "cas-register"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^linearizable: true\n/);
  });

  it("exits 1 with the counterexample for a bad history", () => {
    const result = run(["fixtures/cas-bad-stale-read.jsonl", "--model", "cas-register"]);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/^linearizable: false\n/);
    expect(result.stdout).toContain('key "x": not linearizable');
    expect(result.stdout).toContain("could not place: process 1 read null -> ok 1 (lines 5-6)");
    expect(result.stdout).toContain("state after it: 2");
  });

  it("exits 1 on a fencing anomaly even when the lock history is linearizable", () => {
    const result = run(["fixtures/lock-bad-stale-write.jsonl", "--model", "lock"]);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/^linearizable: true\n/);
    expect(result.stdout).toContain("fencing: 1 anomaly");
    expect(result.stdout).toContain("mutual exclusion: ok");
  });

  it("exits 2 with linearizable: unknown when the time limit is too short", () => {
    const text = formatHistory(generateRegisterHistory({ seed: 1, operations: 200, processes: 5, keys: 2, crashPercent: 1 }));
    let clock = 0;
    // Every reading of this clock is a second later than the one before.
    const result = run(["h.jsonl", "--model", "cas-register", "--time-limit", "500ms"], { "h.jsonl": text }, () => (clock += 1000));
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toMatch(/^linearizable: unknown\n/);
    expect(result.stdout).toContain("unknown (time-limit)");
  });

  it("exits 3 with file and line for a malformed history", () => {
    const result = run(["h.jsonl", "--model", "lock"], { "h.jsonl": '{"process":0,"type":"ok","f":"acquire","key":"a","value":null,"time":0}\n' });
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toContain("h.jsonl:1: process 0 completes (ok) with no open operation");
  });

  it.each([
    [["--model", "lock"], /no history file/],
    [["h.jsonl"], /--model must be lock or cas-register/],
    [["h.jsonl", "--model", "kv"], /--model must be/],
    [["h.jsonl", "--model", "lock", "--time-limit", "soon"], /--time-limit takes a duration/],
    [["h.jsonl", "--model", "lock", "--verbose"], /unknown option --verbose/],
    [["missing.jsonl", "--model", "lock"], /cannot read missing.jsonl/],
  ])("exits 3 for arguments %j", (argv, message) => {
    const result = run(argv, { "h.jsonl": "" });
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toMatch(message);
  });
});
