// Runs only the bench tests (`npx vitest run --config bench/vitest.config.ts`) until the root
// vitest.config.ts includes "bench/test/**/*.test.ts".
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  root: fileURLToPath(new URL("./", import.meta.url)),
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    maxWorkers: 1,
    testTimeout: 30_000,
  },
});
