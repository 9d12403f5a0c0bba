import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Worker threads spawned by the SDK load compiled files from dist/, so tests run after `npm run build`.
    pool: "forks",
    // One file at a time: the notebook tests' tslab kernels watch the checkout and fail a cell ("Unexpected pending
    // rebuildTimer") when another test file writes into it meanwhile; on 2 cores files gain little from running together.
    fileParallelism: false,
  },
});
