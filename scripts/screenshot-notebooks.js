#!/usr/bin/env node
// Refreshes docs/screenshots/ from the browser test's screenshots (test/notebooks/browser.test.ts: notebooks 01 and 04
// run in classic Jupyter Notebook + chromium, interactive charts and the volume viewer as a user sees them). Runs that
// test first unless --no-run is given (then it copies what the last run left in test-artifacts/browser-notebooks/).
// Usage: npm run build && node scripts/screenshot-notebooks.js [--no-run]
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const artifacts = join(root, "test-artifacts", "browser-notebooks");
const docs = join(root, "docs", "screenshots");
// The pictures the README shows (the test names them; see SHOTS in test/notebooks/browser.test.ts).
const FILES = ["table.png", "spacing-histogram.png", "slice-viewer.png", "training-curves.png", "prediction.png"];

if (!process.argv.includes("--no-run")) {
  execFileSync(process.execPath, [join(root, "node_modules", "vitest", "vitest.mjs"), "run", "test/notebooks/browser.test.ts"], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, TZ: "UTC" },
  });
}
mkdirSync(docs, { recursive: true });
for (const f of FILES) {
  const from = join(artifacts, f);
  if (!existsSync(from)) {
    console.error(`screenshot-notebooks: ${from} missing (run the browser test)`);
    process.exit(1);
  }
  copyFileSync(from, join(docs, f));
  console.log(`${join("docs", "screenshots", f)} (${(statSync(from).size / 1024).toFixed(0)} KB)`);
}
