#!/usr/bin/env node
// Executes the tutorial notebooks in place (jupyter nbconvert, the project's kernel), one at a time, so the repository
// carries them with their outputs. Before writing a notebook back it drops the injected plotly.js (2.6 MB of the page
// library, which every kernel session sends again; figures keep their static pictures until it is there) and fails if
// an output still holds an absolute path of this machine (the checkout or the work folder).
// Usage: npm run build && node scripts/run-notebooks.js [01 02 ...]   (needs the kernel: npm run kernel:install)
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const only = process.argv.slice(2);
const names = readdirSync(join(root, "notebooks")).filter((f) => /^\d\d-.*\.ipynb$/.test(f) && (!only.length || only.some((o) => f.startsWith(o)))).sort();
const out = mkdtempSync(join(tmpdir(), "nnssl-run-notebooks-"));
// A path counts when it starts a word (base64 data of pictures may contain "/tmp/" by chance, never " /tmp/").
const forbidden = [root, homedir(), tmpdir()].filter((p) => p.length > 1)
  .map((p) => [p, new RegExp(`(^|[^A-Za-z0-9+/])${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/`)]);

/** Removes the plotly.js payload from an executed notebook; returns how many outputs were emptied. */
export function stripLibraries(nb) {
  let n = 0;
  for (const c of nb.cells) {
    for (const o of c.outputs ?? []) {
      const html = o.data?.["text/html"];
      const text = Array.isArray(html) ? html.join("") : html ?? "";
      if (text.includes('class="nnssl-libraries"')) {
        o.data = { "text/plain": "[plotly.js for interactive charts: sent when the notebook runs]" };
        n++;
      }
    }
  }
  return n;
}

try {
  for (const name of names) {
    const t0 = Date.now();
    execFileSync("/usr/bin/jupyter", ["nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.kernel_name=nnssl-adapt",
      "--ExecutePreprocessor.timeout=1800", "--output-dir", out, join(root, "notebooks", name)],
    { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: "1" } });
    const nb = JSON.parse(readFileSync(join(out, name), "utf8"));
    const stripped = stripLibraries(nb);
    const text = JSON.stringify(nb);
    const bad = forbidden.filter(([, re]) => re.test(text)).map(([p]) => p);
    if (bad.length) throw new Error(`${name}: outputs contain absolute paths (${bad.join(", ")}/...); show them relative to the notebook`);
    const target = join(root, "notebooks", name);
    writeFileSync(`${target}.tmp`, JSON.stringify(nb, null, 1) + "\n");
    renameSync(`${target}.tmp`, target);
    console.log(`${name}: executed in ${((Date.now() - t0) / 1000).toFixed(0)} s${stripped ? ", plotly.js payload dropped" : ""}`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
