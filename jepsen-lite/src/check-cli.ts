#!/usr/bin/env node
// Entry point of `npm run check`: reads the history file and runs the checkers (cli.ts).

import { readFileSync, statSync } from "node:fs";
import { runCheckCli } from "./cli.js";
import type { Result } from "./json.js";

/** A history larger than this is refused rather than read into memory. */
const FILE_BYTES_MAX = 1024 * 1024 * 1024;

function readText(path: string): Result<string, string> {
  try {
    const size = statSync(path).size;
    if (size > FILE_BYTES_MAX) return { ok: false, error: `${size} bytes is more than the ${FILE_BYTES_MAX} allowed` };
    return { ok: true, value: readFileSync(path, "utf8") };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

const result = runCheckCli(process.argv.slice(2), readText);
process.stdout.write(result.stdout);
process.stderr.write(result.stderr);
process.exitCode = result.exitCode;
