// Tests the result file contents: the Markdown names the command, machine, load, method and
// note, and the table carries every scenario with its repeats and extra columns.
import { describe, expect, it } from "vitest";
import { formatNumber, localDate, noiseSample, reportMarkdown, resultName, resultTable, type SuiteReport } from "../src/report.js";

const report: SuiteReport = {
  suite: "etcd",
  description: "etcd baseline",
  date: "2026-11-26",
  startedAt: "2026-11-26T09:00:00.000Z",
  durationSeconds: 170.4,
  command: "npm run bench -- etcd",
  machine: { cpuModel: "AMD EPYC", cores: 2, memoryGiB: 23.5, freeMemoryGiB: 20, kernel: "6.1", node: "v20.20.2", loadAverage: [1, 2, 3] },
  noise: {
    start: { loadAverage1m: 1, cpuPressurePct: 12.5, ioPressurePct: undefined },
    end: { loadAverage1m: 7.5, cpuPressurePct: 80, ioPressurePct: 9 },
  },
  settings: { repeats: 3, warmupSeconds: 1, measureSeconds: 5, quick: true },
  note: "machine shared",
  systems: ["etcd 3.4.23"],
  results: [
    {
      scenario: "etcd put 256 B",
      system: "etcd 3.4.23",
      concurrency: 16,
      opsPerSecond: 1940.2,
      p50Ms: 7.07,
      p99Ms: 24.19,
      runs: [
        { opsPerSecond: 1850, p50Ms: 7.4, p99Ms: 25 },
        { opsPerSecond: 2124, p50Ms: 6.4, p99Ms: 24 },
      ],
      extra: { jain: 0.998, perClientMinMax: "41-42" },
    },
  ],
};

describe("reportMarkdown", () => {
  it("records command, machine, load, method, note and the table", () => {
    const md = reportMarkdown(report);
    expect(md).toContain("- command: `npm run bench -- etcd`");
    expect(md).toContain("AMD EPYC, 2 cores, 23.5 GiB");
    expect(md).toContain("at start load 1, CPU pressure 12.5 %, I/O pressure n/a; at end load 7.5, CPU pressure 80 %");
    expect(md).toContain("3 repeat(s) of 1 s warm-up + 5 s");
    expect(md).toContain("QUICK smoke run");
    expect(md).toContain("- note: machine shared");
    expect(md).toContain("| etcd put 256 B | etcd 3.4.23 | 16 | 1,940 | 7.07 | 24.2 |  | 1,850 / 2,124 | jain=1.00 perClientMinMax=41-42 |");
  });
});

describe("resultName", () => {
  it("keeps an earlier run of the same day: the second is -2, the third -3", () => {
    const taken = new Set<string>();
    const next = (): string => {
      const name = resultName("2026-11-27", "versus", false, (n) => taken.has(n));
      taken.add(name);
      return name;
    };
    expect([next(), next(), next()]).toEqual(["2026-11-27-versus", "2026-11-27-versus-2", "2026-11-27-versus-3"]);
  });

  it("lets a smoke run replace the last smoke run, which is scratch output", () => {
    expect(resultName("2026-11-27", "floor", true, () => true)).toBe("2026-11-27-floor-quick");
  });

  it("stops counting at 99 runs a day", () => {
    expect(resultName("2026-11-27", "floor", false, () => true)).toBe("2026-11-27-floor-99");
  });
});

describe("formatting", () => {
  it("keeps about three significant figures", () => {
    expect([formatNumber(0.391), formatNumber(12.54), formatNumber(212.6), formatNumber(25562.4), formatNumber(undefined)])
      .toEqual(["0.39", "12.5", "213", "25,562", ""]);
  });

  it("prints a header and a separator line before the rows", () => {
    const lines = resultTable([]).split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\| scenario \| system \| c \| ops\/s/);
  });

  it("dates in local time as YYYY-MM-DD", () => {
    expect(localDate(new Date(2026, 0, 5, 23, 59))).toBe("2026-01-05");
  });

  it("samples the load average as a number", () => {
    expect(Number.isFinite(noiseSample().loadAverage1m)).toBe(true);
  });
});
