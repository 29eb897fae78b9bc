#!/usr/bin/env node
// The `geolock` command. npm links a package's bin when it installs, before anything is built,
// and skips a link whose file does not exist yet: so the link points at this committed file,
// which runs the built CLI (packages/client/dist/cli.js, written by `npm run build`).
import { existsSync } from "node:fs";

const cli = new URL("../dist/cli.js", import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write("geolock: the client is not built yet; run `npm run build` (or `npm start`) first\n");
  process.exit(1);
}
await import(cli.href);
