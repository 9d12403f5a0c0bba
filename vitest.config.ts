import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Worker threads spawned by the SDK load compiled files from dist/, so tests run after `npm run build`.
    pool: "forks",
  },
});
