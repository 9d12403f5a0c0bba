#!/usr/bin/env node
// Executes the tutorial notebooks in place (jupyter nbconvert, the project's kernel), one at a time, so the repository
// carries them with their outputs. Before writing a notebook back it drops what only a live kernel session can use:
// the injected plotly.js (2.6 MB, sent again by every session) and the volume viewers' voxels and page script (a
// notebook opened from disk is untrusted, so its scripts do not run; re-running the cell brings the viewer back).
// Figures and viewers keep their static pictures. It fails if an output still holds an absolute path of this machine.
// Usage: npm run build && node scripts/run-notebooks.js [01 02 ...]   (needs the kernel: npm run kernel:install)
//        node scripts/run-notebooks.js --strip-only [01 ...]         (only the clean-up, on the notebooks as they are)
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const stripOnly = process.argv.includes("--strip-only");
const only = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const names = readdirSync(join(root, "notebooks"))
  .filter((f) => /^\d\d-.*\.ipynb$/.test(f) && (!only.length || only.some((o) => f.startsWith(o))))
  .sort();
const out = mkdtempSync(join(tmpdir(), "nnssl-run-notebooks-"));
// A path counts when it starts a word (base64 data of pictures may contain "/tmp/" by chance, never " /tmp/").
const forbidden = [root, homedir(), tmpdir()]
  .filter((p) => p.length > 1)
  .map((p) => /** @type {[string, RegExp]} */ ([p, new RegExp(`(^|[^A-Za-z0-9+/])${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/`)]));

/** Removes plotly.js and the viewers' voxels and scripts from an executed notebook; returns how many outputs changed. */
export function stripLibraries(nb) {
  let n = 0;
  for (const c of nb.cells) {
    for (const o of c.outputs ?? []) {
      const html = o.data?.["text/html"];
      const text = Array.isArray(html) ? html.join("") : (html ?? "");
      if (text.includes('class="nnssl-libraries"')) {
        o.data = { "text/plain": "[plotly.js for interactive charts: sent when the notebook runs]" };
        n++;
      } else if (text.includes('class="nnssl-viewer"') && text.includes("window.nnsslViewer.mount(")) {
        const stat = text
          .replace(/<script type="application\/json" id="nnssl-viewer-[0-9a-f]+-spec">[\s\S]*?<\/script><script>[\s\S]*?<\/script>$/, "")
          .replace('class="nnssl-viewer"', 'class="nnssl-viewer" data-voxels="run the cell for the interactive viewer"');
        if (stat.includes("window.nnsslViewer.mount(")) throw new Error(`cell ${c.id}: viewer output not in the expected form`);
        o.data["text/html"] = stat;
        n++;
      }
    }
  }
  return n;
}

try {
  for (const name of names) {
    const t0 = Date.now();
    if (!stripOnly)
      execFileSync(
        "/usr/bin/jupyter",
        [
          "nbconvert",
          "--to",
          "notebook",
          "--execute",
          "--ExecutePreprocessor.kernel_name=nnssl-adapt",
          "--ExecutePreprocessor.timeout=1800",
          "--output-dir",
          out,
          join(root, "notebooks", name),
        ],
        { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: "1" } },
      );
    const nb = JSON.parse(readFileSync(join(stripOnly ? join(root, "notebooks") : out, name), "utf8"));
    const stripped = stripLibraries(nb);
    const text = JSON.stringify(nb);
    const bad = forbidden.filter(([, re]) => re.test(text)).map(([p]) => p);
    if (bad.length) throw new Error(`${name}: outputs contain absolute paths (${bad.join(", ")}/...); show them relative to the notebook`);
    const target = join(root, "notebooks", name);
    writeFileSync(`${target}.tmp`, JSON.stringify(nb, null, 1) + "\n");
    renameSync(`${target}.tmp`, target);
    console.log(`${name}: ${stripOnly ? "cleaned" : `executed in ${((Date.now() - t0) / 1000).toFixed(0)} s`}, ${stripped} output(s) without page data`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
