// report.html: self-contained, verdict first, one timeline lane per process, nemesis
// windows shaded, and the counterexample of a key that is not linearizable. Checked as
// text, then rendered in headless Chromium (Debian's, driven by playwright-core); that part
// is skipped, saying why, when either is missing.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { checkWatchStreams, DEFAULT_OPTIONS, renderReport, summarize, type NemesisEvent, type WatchRecord } from "@geolock/jepsen-lite";
import { checksOf } from "./checks-of.js";

const CHROMIUM = "/usr/bin/chromium";
const fixture = fileURLToPath(new URL("./fixtures/lock-bad-double-grant.jsonl", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "jepsen-lite-report-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const nemesis: NemesisEvent[] = [
  { time: 2500, type: "start", kind: "pause", variant: "pause-client", targets: ["worker 0"], detail: "SIGSTOP" },
  { time: 6500, type: "stop", kind: "pause", variant: "pause-client", targets: ["worker 0"], detail: "healed" },
];
const checks = checksOf(readFileSync(fixture, "utf8"));
const summary = summarize(DEFAULT_OPTIONS, dir, checks, nemesis, { accepted: 0, rejected: 0 }, 1, false, []);
const html = renderReport({ summary, checks, nemesis });
const file = join(dir, "report.html");
writeFileSync(file, html);
const processes = new Set(checks.history.operations.map((op) => op.process)).size;

describe("report.html", () => {
  it("puts the verdict first and explains the failing key", () => {
    expect(summary.verdict).toBe("invalid");
    expect(html.indexOf('id="verdict"')).toBeLessThan(html.indexOf('id="timeline"'));
    expect(html).toContain('data-verdict="invalid"');
    expect(html).toContain("Could not place:");
    expect(html).toContain("Longest partial linearization");
    expect(html).toMatch(/class="nem"/);
  });

  it("draws one lane per process", () => {
    expect(html.match(/class="lane"/g)?.length).toBe(processes);
  });

  it("loads nothing from anywhere: no external scripts, styles, images or links", () => {
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<link|<img|\ssrc=/i);
  });
});

describe("report.html with watch streams", () => {
  // Three grants, each released; the watcher was told the first and the third only.
  const lines = [3, 7, 9].flatMap((token, i) => [
    { process: i, type: "invoke", f: "acquire", key: "us-east:k0", value: null, time: 40 * i + 10 },
    { process: i, type: "ok", f: "acquire", key: "us-east:k0", value: { token }, time: 40 * i + 20 },
    { process: i, type: "invoke", f: "release", key: "us-east:k0", value: { token }, time: 40 * i + 30 },
    { process: i, type: "ok", f: "release", key: "us-east:k0", value: null, time: 40 * i + 40 },
  ]);
  const base = checksOf(lines.map((l) => JSON.stringify(l)).join("\n"));
  const told: WatchRecord[] = [
    { watcher: 0, key: "us-east:k0", time: 1, type: "status", index: 1, holderToken: null, floor: null },
    { watcher: 0, key: "us-east:k0", time: 25, type: "acquired", index: 2, token: 3 },
    { watcher: 0, key: "us-east:k0", time: 45, type: "released", index: 3, token: 3 },
    { watcher: 0, key: "us-east:k0", time: 105, type: "acquired", index: 6, token: 9 },
  ];

  it("is valid when every checker is, and names what the watchers were told", () => {
    const checks = { ...base, watchStreams: checkWatchStreams(base.history, told.slice(0, 3)) };
    const s = summarize(DEFAULT_OPTIONS, dir, checks, [], { accepted: 0, rejected: 0 }, 1, false, []);
    expect(s.verdict).toBe("valid");
    expect(s.watch).toEqual({ watchers: 1, epochs: 1, changes: 2, anomalies: 0 });
    expect(renderReport({ summary: s, checks, nemesis: [] })).toContain("Watch streams: ok (1 watchers, 1 statuses, 2 grants and releases told)");
  });

  it("is invalid, and lists the anomaly, when a watcher missed a grant", () => {
    const checks = { ...base, watchStreams: checkWatchStreams(base.history, told) };
    const s = summarize(DEFAULT_OPTIONS, dir, checks, [], { accepted: 0, rejected: 0 }, 1, false, []);
    expect(s.verdict).toBe("invalid");
    expect(s.exitCode).toBe(1);
    const page = renderReport({ summary: s, checks, nemesis: [] });
    expect(page).toContain("watch stream anomalies: <b>1</b>");
    expect(page).toMatch(/missed-grant on us-east:k0 \(watcher 0, index -\): token 7 was granted between tokens 3 and 9/);
  });
});

/** The few playwright-core calls used here (typed locally: it is an optional dev dependency). */
interface Page {
  goto(url: string): Promise<unknown>;
  textContent(selector: string): Promise<string | null>;
  locator(selector: string): { count(): Promise<number> };
}
interface Context {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}
interface Playwright {
  chromium: { launchPersistentContext(userDataDir: string, options: { executablePath: string; headless: boolean; args: string[] }): Promise<Context> };
}

async function loadPlaywright(): Promise<Playwright | string> {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing (apt-get install chromium)`;
  const name = "playwright-core";
  try {
    return (await import(name)) as Playwright;
  } catch {
    return "playwright-core is not installed (a dev dependency of the repository)";
  }
}

const playwright = await loadPlaywright();
if (typeof playwright === "string") console.warn(`report.test.ts: browser check skipped: ${playwright}`);

describe.skipIf(typeof playwright === "string")("report.html in headless Chromium", () => {
  it("renders the verdict and the lanes", async () => {
    const pw = playwright as Playwright;
    const profile = mkdtempSync(join(tmpdir(), "jepsen-lite-chromium-"));
    const args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
    const context = await pw.chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args });
    try {
      const page = await context.newPage();
      await page.goto(pathToFileURL(file).href);
      expect(await page.textContent("#verdict")).toMatch(/INVALID/);
      expect(await page.locator("#timeline .lane").count()).toBe(processes);
      expect(await page.locator("#timeline rect.ok").count()).toBeGreaterThan(0);
      expect(await page.locator("#timeline rect.nem").count()).toBe(1);
      expect(await page.textContent("#blocker")).toMatch(/acquire/);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }, 60_000);
});
