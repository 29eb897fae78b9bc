// The geolock CLI's argument parsing: commands, lock options, durations, endpoints from
// flags or the environment, and the usage errors a typo must produce.

import { describe, expect, it } from "vitest";
import { HELP, parseCli, UsageError, type CliCommand } from "../src/cli-args.js";

function parse(...argv: string[]): CliCommand {
  return parseCli(argv, {});
}

describe("geolock argument parsing", () => {
  it("parses acquire with every lock option", () => {
    const command = parse("acquire", "us-east:job", "--wait", "5s", "--ttl", "2m", "--shared", "--owner", "me", "--hold", "500ms", "--json");
    expect(command).toEqual({
      kind: "acquire",
      global: { endpoints: undefined, region: undefined, json: true },
      lock: { name: "us-east:job", waitMs: 5_000, ttlMs: 120_000, mode: "shared", owner: "me" },
      holdMs: 500,
    });
  });

  it("defaults to a try-lock, a 10 s TTL, exclusive mode and holding until interrupted", () => {
    const command = parse("acquire", "us-east:job");
    expect(command).toMatchObject({ lock: { waitMs: 0, ttlMs: 10_000, mode: "exclusive", owner: undefined }, holdMs: undefined });
  });

  it("splits run at -- and keeps the command's own flags for it", () => {
    const command = parse("run", "us-east:job", "--wait", "1s", "--grace", "2s", "--", "sh", "-c", "echo --wait");
    expect(command).toMatchObject({ kind: "run", lock: { name: "us-east:job", waitMs: 1_000 }, graceMs: 2_000, command: "sh", args: ["-c", "echo --wait"] });
  });

  it("refuses run without a command", () => {
    expect(() => parse("run", "us-east:job")).toThrow(UsageError);
    expect(() => parse("run", "us-east:job", "--")).toThrow(/needs a command/);
  });

  it("takes endpoints from --endpoints over GEOLOCK_ENDPOINTS", () => {
    const env = { GEOLOCK_ENDPOINTS: "ws://a:1/client, ws://b:2/client" };
    expect(parseCli(["status", "us-east:x"], env)).toMatchObject({ global: { endpoints: ["ws://a:1/client", "ws://b:2/client"] } });
    expect(parseCli(["status", "us-east:x", "--endpoints", "ws://c:3/client"], env)).toMatchObject({ global: { endpoints: ["ws://c:3/client"] } });
  });

  it("refuses a malformed endpoint", () => {
    expect(() => parse("status", "us-east:x", "--endpoints", "http://a:1")).toThrow(/ws:\/\/host:port\/client/);
  });

  it("refuses a duration without a unit, and unknown flags", () => {
    expect(() => parse("acquire", "us-east:x", "--wait", "5")).toThrow(/not a duration/);
    expect(() => parse("acquire", "us-east:x", "--wiat", "5s")).toThrow(UsageError);
  });

  it("needs exactly one lock name", () => {
    expect(() => parse("status")).toThrow(/exactly one lock name/);
    expect(() => parse("status", "a:1", "b:2")).toThrow(/exactly one lock name/);
  });

  it("requires the session and client id to release", () => {
    expect(() => parse("release", "us-east:x")).toThrow(/--session and --client-id/);
    expect(() => parse("release", "us-east:x", "--session", "x", "--client-id", "c")).toThrow(/positive integer/);
    expect(parse("release", "us-east:x", "--session", "17", "--client-id", "gl-abc")).toMatchObject({ kind: "release", sessionId: 17, clientId: "gl-abc" });
  });

  it("answers --help for every command with that command's text", () => {
    for (const name of ["acquire", "run", "status", "watch", "release", "cluster"]) {
      expect(parse(name, "--help")).toEqual({ kind: "help", text: HELP[name] });
    }
    expect(parse()).toEqual({ kind: "help", text: HELP["main"] });
  });

  it("parses watch with one lock name, starting at the nodes of the lock's region unless --region says otherwise", () => {
    expect(parse("watch", "us-east:x", "--json")).toMatchObject({ kind: "watch", name: "us-east:x", global: { json: true, region: "us-east" } });
    expect(parse("watch", "eu-west:x", "--region", "us-west")).toMatchObject({ global: { region: "us-west" } });
    expect(parse("watch", "global:x")).toMatchObject({ kind: "watch", name: "global:x", global: { region: undefined } });
    expect(() => parse("watch")).toThrow(/exactly one lock name/);
    expect(() => parse("watch", "us-east:x", "--wait", "1s")).toThrow(/Unknown option '--wait'/);
  });

  it("refuses an unknown command", () => {
    expect(() => parse("lock", "us-east:x")).toThrow(/unknown command "lock"/);
  });
});
