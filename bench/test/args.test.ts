// Tests the bench command line: BASELINES.md defaults, --quick, overrides and refusals.
import { describe, expect, it } from "vitest";
import { parseArgs } from "../src/args.js";

describe("parseArgs", () => {
  it("defaults to every suite, 3 repeats of 1 s warm-up and a 5 s window", () => {
    expect(parseArgs([])).toEqual({ suites: [], quick: false, repeats: 3, warmupSeconds: 1, measureSeconds: 5, note: undefined, baseDir: undefined });
  });

  it("keeps suite names in order and shortens everything with --quick", () => {
    const a = parseArgs(["etcd", "--quick", "redis"]);
    expect(a.suites).toEqual(["etcd", "redis"]);
    expect([a.repeats, a.warmupSeconds, a.measureSeconds]).toEqual([1, 0.2, 1]);
  });

  it("lets explicit flags override --quick", () => {
    const a = parseArgs(["--quick", "--repeats", "2", "--measure", "3", "--warmup", "0", "--note", "shared machine"]);
    expect([a.repeats, a.warmupSeconds, a.measureSeconds, a.note]).toEqual([2, 0, 3, "shared machine"]);
  });

  it("refuses unknown options, missing or out-of-range numbers and fractional repeats", () => {
    expect(() => parseArgs(["--fast"])).toThrow(/unknown option --fast/);
    expect(() => parseArgs(["--repeats"])).toThrow(/--repeats needs a number/);
    expect(() => parseArgs(["--measure", "0"])).toThrow(/--measure needs a number/);
    expect(() => parseArgs(["--warmup", "abc"])).toThrow(/--warmup needs a number/);
    expect(() => parseArgs(["--repeats", "1.5"])).toThrow(/whole/);
    expect(() => parseArgs(["--note"])).toThrow(/--note needs a text/);
    expect(() => parseArgs(["ab", "--base"])).toThrow(/--base needs a directory/);
    expect(() => parseArgs(["ab", "--base", ""])).toThrow(/--base needs a directory/);
    expect(() => parseArgs(["ab"])).toThrow(/the ab suite needs --base DIR/);
    expect(() => parseArgs(["versus", "--base", "/tmp/base"])).toThrow(/--base is for the ab suite only/);
    expect(() => parseArgs(["--base", "/tmp/base"])).toThrow(/--base is for the ab suite only/);
  });

  it("takes the base checkout the ab suite compares with", () => {
    expect(parseArgs(["ab", "--base", "/tmp/base", "--repeats", "30"])).toMatchObject({ suites: ["ab"], baseDir: "/tmp/base", repeats: 30 });
  });
});
