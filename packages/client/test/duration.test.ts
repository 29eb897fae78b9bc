// Durations as the CLI accepts them, and their shortest rendering.

import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "../src/duration.js";

describe("durations", () => {
  it("parses milliseconds, seconds, minutes and hours, with decimals", () => {
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("5s")).toBe(5_000);
    expect(parseDuration("1.5s")).toBe(1_500);
    expect(parseDuration("2m")).toBe(120_000);
    expect(parseDuration("1h")).toBe(3_600_000);
    expect(parseDuration("0s")).toBe(0);
  });

  it("refuses bare numbers, unknown units, negatives and absurd lengths", () => {
    for (const text of ["5", "5 s", "5sec", "-1s", "s", "", "1e3ms", "9999h"]) {
      expect(parseDuration(text), text).toBeInstanceOf(Error);
    }
  });

  it("renders the shortest exact form", () => {
    expect(formatDuration(250)).toBe("250ms");
    expect(formatDuration(1_500)).toBe("1.5s");
    expect(formatDuration(120_000)).toBe("2m");
    expect(formatDuration(3_600_000)).toBe("1h");
    expect(formatDuration(1_234)).toBe("1234ms");
  });
});
