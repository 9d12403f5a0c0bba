#!/usr/bin/env node
// Renders the executed notebooks to HTML (jupyter nbconvert) and screenshots them with headless Chromium, the way a
// reader sees them on a code host or in nbconvert HTML (static fallbacks: SVG charts, PNG slices, HTML tables).
// Writes full-page screenshots into --out (for review) and one picture per kind of display into docs/screenshots/.
// Needs /usr/bin/jupyter and Debian's chromium (apt-get install -y chromium), and notebooks with outputs.
// Usage: node scripts/screenshot-notebooks.js [--notebooks DIR] [--out DIR] [--no-docs]
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : dflt; };
const notebooks = resolve(arg("--notebooks", join(root, "notebooks")));
const out = resolve(arg("--out", join(tmpdir(), "nnssl-notebook-screenshots")));
const docs = join(root, "docs", "screenshots");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** One picture per kind of display: notebook, cell id, and which output of the cell (default: the whole output area). */
const SHOTS = [
  { file: "slice-viewer.png", notebook: "02-adaptation-modes", cell: "side-by-side", output: 0 },
  { file: "spacing-histogram.png", notebook: "02-adaptation-modes", cell: "compare-modes", output: 1 },
  { file: "training-curves.png", notebook: "03-finetune-pretrained", cell: "curves", output: 0 },
  { file: "table.png", notebook: "02-adaptation-modes", cell: "compare-modes", output: 0 },
  { file: "prediction.png", notebook: "04-predict-and-inspect", cell: "slices", output: 0 },
];

for (const [what, p] of [["jupyter", "/usr/bin/jupyter"], ["chromium", CHROMIUM]]) {
  if (!existsSync(p)) { console.error(`screenshot-notebooks: ${p} not found (${what})`); process.exit(1); }
}
mkdirSync(out, { recursive: true });
const names = readdirSync(notebooks).filter((f) => /^\d\d-.*\.ipynb$/.test(f)).sort();
if (!names.length) { console.error(`screenshot-notebooks: no notebooks in ${notebooks}`); process.exit(1); }
execFileSync("/usr/bin/jupyter", ["nbconvert", "--to", "html", "--output-dir", out, ...names.map((n) => join(notebooks, n))], {
  stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: "1" },
});

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  // nbconvert pages reference CDN scripts (require.js, MathJax); offline they would only delay the load.
  await page.route(/^https?:/, (r) => r.abort());
  for (const name of names) {
    const base = name.replace(/\.ipynb$/, "");
    await page.goto(pathToFileURL(join(out, `${base}.html`)).href, { waitUntil: "load" });
    await page.screenshot({ path: join(out, `${base}.png`), fullPage: true });
    console.log(`${join(out, `${base}.png`)}`);
    if (process.argv.includes("--no-docs")) continue;
    const cellIds = JSON.parse(readFileSync(join(notebooks, name), "utf8")).cells.map((c) => c.id);
    for (const s of SHOTS.filter((s) => s.notebook === base)) {
      const index = cellIds.indexOf(s.cell);
      if (index < 0) throw new Error(`${name}: no cell ${s.cell}`);
      const cell = page.locator("div.jp-Cell").nth(index);
      const target = s.output === undefined ? cell.locator(".jp-Cell-outputWrapper")
        : cell.locator(".jp-OutputArea-child").nth(s.output).locator(".jp-OutputArea-output");
      mkdirSync(docs, { recursive: true });
      const file = join(docs, s.file);
      await target.screenshot({ path: file });
      console.log(`${file} (${(statSync(file).size / 1024).toFixed(0)} KB)`);
    }
  }
} finally {
  await browser.close();
}
