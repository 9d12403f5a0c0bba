// Executes the tutorial notebooks headless, in order, with the project's tslab kernel (as CI does) and fails when a cell
// reports an error. tslab sends errors only as stderr text with an execute_reply of status "error" (no ename/evalue,
// so nbconvert's own error is empty): we run with --allow-errors and scan every output instead. The notebooks must
// also show their pictures: each listed cell needs its rich MIME types (PNG / SVG fallbacks, plotly JSON, HTML tables).
// The committed notebooks themselves carry no absolute path of the machine that executed them and no copy of the
// plotly.js library (scripts/run-notebooks.js drops it).
// Needs /usr/bin/jupyter (Debian jupyter-nbconvert) and a built package (`npm run build`, done by `npm test`). The
// kernel spec is registered in .jupyter-prefix/ of this checkout (JUPYTER_PATH), not in the user's Jupyter folder.

import { describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { skipUnlessCI } from "../helpers/ci.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const JUPYTER = "/usr/bin/jupyter";
const KERNEL = "nnssl-adapt";

const PLOTLY = "application/vnd.plotly.v1+json";
const SVG = "image/svg+xml";
const PNG = "image/png";
const HTML_IMG = "text/html+img"; // an HTML output with an embedded PNG (slice viewers with several images)
const TABLE = "text/html+table";
const VIEWER = "text/html+viewer"; // the interactive volume viewer (its voxels and page script) around static PNG slices
const FIGURE = "text/html+figure"; // a figure as HTML: plotly spec and script around the static SVG

/** Notebook -> cell id -> what its outputs must contain (in any of the cell's outputs). */
const EXPECTED: Record<string, Record<string, string[]>> = {
  "01-explore-dataset.ipynb": {
    load: [TABLE],
    "extract-fingerprint": [TABLE, PLOTLY, SVG, FIGURE],
    "four-cases": [HTML_IMG, VIEWER],
    "one-case-axes": [PNG, VIEWER],
    "label-volumes": [TABLE],
    plans: [TABLE],
    "plan-spacing-histogram": [PLOTLY, SVG, FIGURE],
  },
  "02-adaptation-modes.ipynb": {
    "show-checkpoint": [TABLE],
    "compare-modes": [TABLE, PLOTLY, SVG],
    "preprocess-all": [TABLE],
    "side-by-side": [HTML_IMG, VIEWER],
    "show-preprocessed": [TABLE, PNG, VIEWER],
  },
  "03-finetune-pretrained.ipynb": {
    preprocess: [TABLE, PNG],
    "finetune-pretrained": [PLOTLY, SVG, FIGURE],
    "finetune-scratch": [PLOTLY, SVG],
    curves: [PLOTLY, SVG],
    "dice-table": [TABLE],
    "show-training-run": [TABLE, PLOTLY, SVG],
  },
  "04-predict-and-inspect.ipynb": {
    "load-model": [TABLE],
    slices: [HTML_IMG, VIEWER],
    "dice-per-case": [TABLE],
  },
  "05-explore-checkpoints.ipynb": {
    preprocess: [TABLE],
    "finetune-modes": [PLOTLY, FIGURE],
    "plan-dynamic": [TABLE],
    "finetune-dynamic": [PLOTLY, FIGURE, TABLE],
    "dice-table": [TABLE],
    curves: [PLOTLY, SVG],
    volumes: [HTML_IMG, VIEWER],
  },
};

interface Output { output_type: string; name?: string; text?: string | string[]; data?: Record<string, unknown>; ename?: string; evalue?: string }
interface Cell { cell_type: string; id: string; source: string | string[]; outputs?: Output[] }

const text = (t: unknown) => (Array.isArray(t) ? t.join("") : String(t ?? ""));

const PREFIX = path.join(ROOT, ".jupyter-prefix");
const JUPYTER_PATH = path.join(PREFIX, "share", "jupyter");

function hasKernel(): boolean {
  const r = spawnSync(JUPYTER, ["kernelspec", "list", "--json"], { encoding: "utf8", env: { ...process.env, JUPYTER_PATH } });
  if (r.status !== 0) return false;
  return KERNEL in ((JSON.parse(r.stdout) as { kernelspecs: Record<string, unknown> }).kernelspecs ?? {});
}

/** Why the notebooks cannot run here, or null. Registers the kernel for this checkout first (idempotent). */
function skipReason(): string | null {
  if (!existsSync(JUPYTER)) return `${JUPYTER} not found (apt-get install jupyter-nbconvert python3-nbclient)`;
  if (!existsSync(path.join(ROOT, "dist", "sdk", "index.js"))) return "dist/ not built (npm run build)";
  if (existsSync(path.join(ROOT, "node_modules", "tslab"))) {
    spawnSync(process.execPath, [path.join(ROOT, "scripts", "install-kernel.js"), "--prefix", PREFIX], { encoding: "utf8" });
  }
  if (!hasKernel()) return `Jupyter kernelspec "${KERNEL}" missing (npm run kernel:install)`;
  return null;
}

/** Problems in an executed notebook: error outputs, stderr text, and missing rich outputs. */
export function notebookProblems(nb: { cells: Cell[] }, expected: Record<string, string[]>): string[] {
  const problems: string[] = [];
  const cells = new Map(nb.cells.map((c) => [c.id, c]));
  for (const c of nb.cells) {
    if (c.cell_type !== "code") continue;
    for (const o of c.outputs ?? []) {
      if (o.output_type === "error") problems.push(`cell ${c.id}: error ${o.ename}: ${o.evalue}`);
      if (o.output_type === "stream" && o.name === "stderr") problems.push(`cell ${c.id} wrote to stderr:\n${text(o.text).trim()}`);
    }
  }
  for (const [id, kinds] of Object.entries(expected)) {
    const c = cells.get(id);
    if (!c) { problems.push(`cell ${id} not found`); continue; }
    const datas = (c.outputs ?? []).filter((o) => o.data).map((o) => o.data!);
    for (const k of kinds) {
      const ok = datas.some((d) => {
        if (k === HTML_IMG) return /<img[^>]+src="data:image\/png;base64,/.test(text(d["text/html"]));
        if (k === TABLE) return /<table/.test(text(d["text/html"]));
        // The viewer with its voxels and script, or (in the committed notebooks) its static part, the data dropped.
        if (k === VIEWER) return /class="nnssl-viewer"/.test(text(d["text/html"])) && /window\.nnsslViewer\.mount\(|data-voxels=/.test(text(d["text/html"]));
        if (k === FIGURE) return /class="nnssl-figure"/.test(text(d["text/html"])) && /newPlot/.test(text(d["text/html"]));
        if (k === PLOTLY) return typeof d[PLOTLY] === "object" && Array.isArray((d[PLOTLY] as { data?: unknown }).data);
        return text(d[k]).length > 100; // nbformat stores text as a string or a list of lines
      });
      if (!ok) problems.push(`cell ${id}: no ${k} output (has: ${datas.map((d) => Object.keys(d).join("+")).join(", ") || "nothing"})`);
    }
  }
  return problems;
}

const reason = skipUnlessCI(skipReason());
describe("the committed notebooks", () => {
  const names = readdirSync(path.join(ROOT, "notebooks")).filter((f) => /^\d\d-.*\.ipynb$/.test(f)).sort();
  it("are the five tutorials, each tested below", () => {
    expect(names).toEqual(Object.keys(EXPECTED));
  });
  for (const name of names) {
    it(`${name}: executed, no cell errors, no absolute paths, no plotly.js or voxel copies`, () => {
      const raw = readFileSync(path.join(ROOT, "notebooks", name), "utf8");
      const nb = JSON.parse(raw) as { cells: Cell[] };
      expect(notebookProblems(nb, EXPECTED[name]!)).toEqual([]);
      // A path that starts a word (base64 picture data may contain "/home/" by chance, never " /home/").
      expect(raw.match(/(^|[\s"'(=])\/(home|root|work|tmp|Users|mnt|srv)\/[^\s"']*/g) ?? []).toEqual([]);
      expect(raw).not.toContain('class="nnssl-libraries"');
      expect(raw).not.toContain("window.nnsslViewer.mount(");
    });
  }
});

describe.skipIf(reason !== null)(`notebooks/ execute headless with the ${KERNEL} kernel${reason ? ` (skipped: ${reason})` : ""}`, () => {
  const out = mkdtempSync(path.join(tmpdir(), "nnssl-notebooks-"));
  // A fresh work folder: every notebook computes what it needs, as on a fresh clone.
  const env = { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: "1", NNSSL_WORK: path.join(out, "work"), JUPYTER_PATH };
  const timings: string[] = [];

  for (const name of Object.keys(EXPECTED)) {
    it(`${name}: no cell errors, pictures present`, () => {
      const t0 = Date.now();
      try {
        execFileSync(JUPYTER, [
          "nbconvert", "--to", "notebook", "--execute", "--allow-errors",
          `--ExecutePreprocessor.kernel_name=${KERNEL}`, "--ExecutePreprocessor.timeout=900",
          "--output-dir", out, path.join(ROOT, "notebooks", name),
        ], { env, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", maxBuffer: 64 << 20 });
      } catch (err) {
        throw new Error(`nbconvert failed for ${name}:\n${(err as { stderr?: string }).stderr?.slice(-4000) ?? err}`, { cause: err });
      }
      timings.push(`${name} ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      const nb = JSON.parse(readFileSync(path.join(out, name), "utf8")) as { cells: Cell[] };
      expect(notebookProblems(nb, EXPECTED[name]!)).toEqual([]);
    }, 20 * 60_000);
  }

  it("cleans up", () => {
    console.log(`notebook execution: ${timings.join(", ")}`);
    rmSync(out, { recursive: true, force: true });
  });
});

describe("notebookProblems(nb)", () => {
  it("reports tslab's stderr-only errors and missing pictures", () => {
    const nb = { cells: [
      { cell_type: "code", id: "a", source: "", outputs: [{ output_type: "stream", name: "stderr", text: ["1:7 - Type 'string' is not assignable"] }] },
      { cell_type: "code", id: "b", source: "", outputs: [{ output_type: "display_data", data: { "text/plain": "x" } }] },
    ] };
    expect(notebookProblems(nb, { b: [PNG] })).toEqual([
      "cell a wrote to stderr:\n1:7 - Type 'string' is not assignable",
      "cell b: no image/png output (has: text/plain)",
    ]);
  });
});
