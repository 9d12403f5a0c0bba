// The notebooks in a real browser, as a user sees them: Debian's classic Jupyter Notebook on 127.0.0.1 with the
// project's kernel, driven by puppeteer-core in Debian's chromium. Runs notebooks 01 and 04 (all cells) and checks
// that the plotly charts were drawn as interactive plots (plotly.js sent by the kernel, no network), that the volume
// viewer drew non-empty pixels and redraws another slice when the slider moves, that no cell failed, and that the
// page logged no error. Screenshots go to test-artifacts/browser-notebooks/ (CI keeps them; scripts/screenshot-
// notebooks.js copies the named ones into docs/screenshots/).
// Needs /usr/bin/jupyter-notebook (apt-get install jupyter-notebook), /usr/bin/chromium and a built package. The
// notebooks run on copies in a temporary folder (with links to the example data and the build), with their own
// NNSSL_WORK, so the repository's notebooks and other checkouts' kernels are not touched.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import puppeteer, { type Browser, type Page } from "puppeteer-core";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const NOTEBOOK_SERVER = "/usr/bin/jupyter-notebook";
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const ARTIFACTS = path.join(ROOT, "test-artifacts", "browser-notebooks");
const PREFIX = path.join(ROOT, ".jupyter-prefix");

/**
 * Screenshots of outputs: file name, notebook, cell id and how many of the cell's outputs (default all); the docs
 * pictures are refreshed from these.
 */
export const SHOTS: { file: string; notebook: string; cell: string; outputs?: number }[] = [
  { file: "table.png", notebook: "01-explore-dataset", cell: "load", outputs: 2 },
  { file: "spacing-histogram.png", notebook: "01-explore-dataset", cell: "plan-spacing-histogram" },
  { file: "slice-viewer.png", notebook: "01-explore-dataset", cell: "four-cases" },
  { file: "training-curves.png", notebook: "04-predict-and-inspect", cell: "ensure-models", outputs: 3 }, // progress, plotly.js, curves
  { file: "prediction.png", notebook: "04-predict-and-inspect", cell: "slices" },
];

function missing(): string | null {
  if (!existsSync(NOTEBOOK_SERVER)) return `${NOTEBOOK_SERVER} not found (apt-get install jupyter-notebook)`;
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} not found (apt-get install chromium)`;
  if (!existsSync(path.join(ROOT, "dist", "kernel-extensions", "index.js"))) return "dist/ not built (npm run build)";
  if (!existsSync(path.join(ROOT, "node_modules", "tslab"))) return "node_modules/tslab missing (npm ci)";
  return null;
}

const reason = missing();
// CI must run this test: a missing tool is a failure there, not a skip.
if (reason && process.env.CI === "true") throw new Error(`browser notebook test cannot run: ${reason}`);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

/** Index of each cell id in a notebook file (classic Notebook addresses cells by index). */
function cellIndex(file: string): Map<string, number> {
  const nb = JSON.parse(readFileSync(file, "utf8")) as { cells: { id: string }[] };
  return new Map(nb.cells.map((c, i) => [c.id, i]));
}

describe.skipIf(reason !== null)(`notebooks 01 and 04 in classic Jupyter Notebook + chromium${reason ? ` (skipped: ${reason})` : ""}`, () => {
  const ws = mkdtempSync(path.join(tmpdir(), "nnssl-browser-"));
  const token = randomBytes(12).toString("hex");
  let server: ChildProcess;
  let serverLog = "";
  let browser: Browser;
  let page: Page;
  let base = "";
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    // The kernel spec for this checkout, in a prefix inside it (not the user's Jupyter folder).
    const r = spawnSync(process.execPath, [path.join(ROOT, "scripts", "install-kernel.js"), "--prefix", PREFIX], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`install-kernel failed: ${r.stderr}`);
    mkdirSync(path.join(ws, "notebooks"));
    for (const name of ["01-explore-dataset", "04-predict-and-inspect"]) {
      const nb = JSON.parse(readFileSync(path.join(ROOT, "notebooks", `${name}.ipynb`), "utf8")) as { cells: { cell_type: string; outputs?: unknown[]; execution_count?: unknown }[] };
      for (const c of nb.cells) if (c.cell_type === "code") { c.outputs = []; c.execution_count = null; }
      writeFileSync(path.join(ws, "notebooks", `${name}.ipynb`), JSON.stringify(nb));
    }
    for (const d of ["datasets-examples", "dist", "node_modules", "package.json"]) symlinkSync(path.join(ROOT, d), path.join(ws, d));
    mkdirSync(ARTIFACTS, { recursive: true });
    // The page asks for the user's custom.js / custom.css; without them the server answers 404, which the browser
    // logs as an error that is not ours.
    mkdirSync(path.join(ws, ".jupyter-config", "custom"), { recursive: true });
    for (const f of ["custom.js", "custom.css"]) writeFileSync(path.join(ws, ".jupyter-config", "custom", f), "");
    // Classic Notebook always tries to load the ipywidgets extension (a hard-coded fallback in its main.js); without
    // ipywidgets installed that is a 404 and a refused script in the console. An empty extension stands in for it.
    const widgets = path.join(ws, ".jupyter-data", "nbextensions", "widgets", "notebook", "js");
    mkdirSync(widgets, { recursive: true });
    writeFileSync(path.join(widgets, "extension.js"), "define([], function () { return { load_ipython_extension: function () {} }; });\n");
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = spawn(NOTEBOOK_SERVER, [
      "--no-browser", "--ip=127.0.0.1", `--port=${port}`, `--NotebookApp.token=${token}`, `--notebook-dir=${ws}`,
      "--NotebookApp.port_retries=0",
      // CI machines run as root; the server refuses that unless told.
      ...(process.getuid?.() === 0 ? ["--allow-root"] : []),
    ], {
      env: {
        ...process.env, JUPYTER_PATH: [path.join(PREFIX, "share", "jupyter"), path.join(ws, ".jupyter-data")].join(path.delimiter), JUPYTER_CONFIG_DIR: path.join(ws, ".jupyter-config"),
        JUPYTER_RUNTIME_DIR: path.join(ws, ".jupyter-runtime"), NNSSL_WORK: path.join(ws, "work"), PYDEVD_DISABLE_FILE_VALIDATION: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    server.stdout!.on("data", (d) => { serverLog += String(d); });
    server.stderr!.on("data", (d) => { serverLog += String(d); });
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${base}/api/kernelspecs?token=${token}`)).ok) break;
      } catch { /* not up yet */ }
      if (i > 100 || server.exitCode !== null) throw new Error(`jupyter-notebook did not start:\n${serverLog.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    const specs = await (await fetch(`${base}/api/kernelspecs?token=${token}`)).json() as { kernelspecs: Record<string, unknown> };
    expect(Object.keys(specs.kernelspecs)).toContain("nnssl-adapt");
    browser = await puppeteer.launch({
      executablePath: CHROMIUM, headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking", "--disable-component-update"],
    });
  }, 120_000);

  /** A fresh tab (a notebook tab with unsaved outputs would ask before navigating away). */
  async function newPage(): Promise<Page> {
    if (page) await page.close({ runBeforeUnload: false });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 1000 });
    page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(`${m.text()} (${m.location().url ?? ""})`); });
    page.on("pageerror", (e) => consoleErrors.push(`page error: ${(e as Error).message}`));
    // Nothing outside 127.0.0.1: the charts and the viewer must not need the network.
    await page.setRequestInterception(true);
    page.on("request", (req) => (new URL(req.url()).hostname === "127.0.0.1" || req.url().startsWith("data:") || req.url().startsWith("blob:") ? req.continue() : req.abort()));
    return page;
  }

  afterAll(async () => {
    await browser?.close();
    server?.kill("SIGTERM");
    rmSync(ws, { recursive: true, force: true });
  });

  /** Opens a notebook, runs all cells and waits until every code cell has finished. */
  async function runNotebook(name: string, timeoutMs: number): Promise<void> {
    await newPage();
    await page.goto(`${base}/notebooks/notebooks/${name}.ipynb?token=${token}`, { waitUntil: "load" });
    await page.waitForFunction(() => {
      const J = (window as unknown as { Jupyter?: { notebook?: { kernel?: { is_connected?: () => boolean; info_reply?: object } } } }).Jupyter;
      return !!J?.notebook?.kernel?.is_connected?.() && !!J.notebook.kernel.info_reply;
    }, { timeout: 120_000 });
    await page.evaluate(() => {
      const J = (window as unknown as { Jupyter: { notebook: { set_autosave_interval(n: number): void; execute_all_cells(): void } } }).Jupyter;
      J.notebook.set_autosave_interval(0);
      J.notebook.execute_all_cells();
    });
    await page.waitForFunction(() => {
      const J = (window as unknown as { Jupyter: { notebook: { get_cells(): { cell_type: string; input_prompt_number?: unknown }[]; kernel_busy: boolean } } }).Jupyter;
      const cells = J.notebook.get_cells().filter((c) => c.cell_type === "code");
      return cells.every((c) => typeof c.input_prompt_number === "number") && !J.notebook.kernel_busy;
    }, { timeout: timeoutMs, polling: 1000 });
  }

  /** Text of every stderr output (tslab reports a failed cell there) and every error output. */
  async function cellErrors(): Promise<string[]> {
    return page.evaluate(() => [...document.querySelectorAll(".output_stderr, .output_error")].map((e) => (e.textContent ?? "").slice(0, 500)));
  }

  async function shoot(notebook: string, file: string): Promise<void> {
    const index = cellIndex(path.join(ROOT, "notebooks", `${notebook}.ipynb`));
    // A tall window, so every output fits below the page's fixed header.
    await page.setViewport({ width: 1280, height: 2400 });
    for (const s of SHOTS.filter((x) => x.notebook === notebook)) {
      const i = index.get(s.cell);
      expect(i, `${notebook}: no cell ${s.cell}`).toBeDefined();
      const clip = await page.evaluate((k: number, n: number) => {
        const areas = [...document.querySelectorAll("#notebook-container > .cell")[k]!.querySelectorAll(".output_area")]
          .filter((a) => (a as HTMLElement).offsetHeight > 2).slice(0, n);
        if (!areas.length) return null;
        areas[0]!.scrollIntoView({ block: "center" });
        const boxes = areas.map((a) => a.getBoundingClientRect());
        const top = Math.min(...boxes.map((b) => b.top)), bottom = Math.max(...boxes.map((b) => b.bottom));
        const left = Math.min(...boxes.map((b) => b.left)), right = Math.max(...boxes.map((b) => b.right));
        return { x: left + window.scrollX, y: top + window.scrollY, width: right - left, height: bottom - top };
      }, i!, s.outputs ?? 1000);
      expect(clip, `${notebook} ${s.cell}: no output`).not.toBeNull();
      await new Promise((r) => setTimeout(r, 300));
      await page.screenshot({ path: path.join(ARTIFACTS, s.file), clip: clip!, captureBeyondViewport: true });
    }
    await page.screenshot({ path: path.join(ARTIFACTS, file), fullPage: true });
    await page.setViewport({ width: 1280, height: 1000 });
  }

  /** Pixels of the first viewer canvas: [share of non-black pixels, a checksum]. */
  async function viewerPixels(selector: string): Promise<[number, number]> {
    return page.evaluate((sel: string) => {
      const c = document.querySelector(sel) as HTMLCanvasElement;
      const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
      let lit = 0, sum = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i]! + d[i + 1]! + d[i + 2]! > 30) lit++;
        sum = (sum * 31 + d[i]! + 7 * d[i + 1]! + 13 * d[i + 2]!) % 1_000_000_007;
      }
      return [lit / (d.length / 4), sum] as [number, number];
    }, selector);
  }

  it("01-explore-dataset: runs, plotly charts interactive, viewer draws and follows the slider, no console errors", async () => {
    await runNotebook("01-explore-dataset", 10 * 60_000);
    expect(await cellErrors()).toEqual([]);
    // plotly.js drew the figures (not the static <img>): plot root with its SVG layers and the mode bar (zoom, pan).
    const plots = await page.evaluate(() => [...document.querySelectorAll(".nnssl-figure")].map((f) => ({
      plotly: f.classList.contains("js-plotly-plot") && !!f.querySelector(".main-svg") && !!f.querySelector(".modebar"),
      traces: ((f as unknown as { data?: unknown[] }).data ?? []).length,
    })));
    expect(plots.length).toBeGreaterThanOrEqual(2);
    for (const p of plots) expect(p).toMatchObject({ plotly: true });
    expect(plots.every((p) => p.traces > 0)).toBe(true);
    // Moving the mouse over a panel brings up plotly's hover label: the chart responds to the mouse.
    const fig = await page.$(".nnssl-figure .nsewdrag");
    await fig!.scrollIntoView();
    const r = (await fig!.boundingBox())!;
    let hovered = false;
    for (let k = 1; k < 60 && !hovered; k++) {
      await page.mouse.move(r.x + (r.width * k) / 60, r.y + r.height * 0.9);
      hovered = await page.evaluate(() => document.querySelectorAll(".nnssl-figure .hoverlayer > *").length > 0);
    }
    expect(hovered).toBe(true);

    await page.waitForSelector("[data-nnssl-viewer=ready]", { timeout: 30_000 });
    const canvas = ".nnssl-viewer[data-nnssl-viewer=ready] canvas.nnssl-slice";
    const [lit, before] = await viewerPixels(canvas);
    expect(lit).toBeGreaterThan(0.05);
    const viewer = await page.$(".nnssl-viewer[data-nnssl-viewer=ready]");
    await viewer!.scrollIntoView();
    await page.evaluate(() => {
      const s = document.querySelector(".nnssl-viewer[data-nnssl-viewer=ready] input.nnssl-slider") as HTMLInputElement;
      s.value = String(Math.max(0, Number(s.value) - 200));
      s.dispatchEvent(new Event("input", { bubbles: true }));
    });
    const [, after] = await viewerPixels(canvas);
    expect(after).not.toBe(before);
    // The mouse wheel scrolls too.
    const c = await page.$(canvas);
    const b = (await c!.boundingBox())!;
    await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2);
    await page.mouse.wheel({ deltaY: 120 });
    const [, wheeled] = await viewerPixels(canvas);
    expect(wheeled).not.toBe(after);
    await page.evaluate(() => document.querySelector("#notebook-container")!.scrollIntoView());
    await shoot("01-explore-dataset", "01-explore-dataset.png");
    expect(consoleErrors).toEqual([]);
  }, 12 * 60_000);

  it("04-predict-and-inspect: trains if needed with live progress, shows ground truth vs prediction, no console errors", async () => {
    await runNotebook("04-predict-and-inspect", 25 * 60_000);
    expect(await cellErrors()).toEqual([]);
    // The models were trained here (a fresh work folder): the monitor's progress line comes first, then its curves.
    const ensure = cellIndex(path.join(ROOT, "notebooks", "04-predict-and-inspect.ipynb")).get("ensure-models")!;
    const outputs = await page.evaluate((k: number) => [...document.querySelectorAll("#notebook-container > .cell")[k]!.querySelectorAll(".output_area")]
      .map((o) => ({ text: (o.textContent ?? "").trim().slice(0, 200), plot: !!o.querySelector(".nnssl-figure.js-plotly-plot .main-svg") })), ensure);
    expect(outputs[0]!.text).toMatch(/^pretrained · training done · epoch 4\/4 · [\d.]+ s\/iteration/);
    expect(outputs.some((o) => o.plot)).toBe(true);
    await page.waitForSelector("[data-nnssl-viewer=ready]", { timeout: 30_000 });
    const canvases = await page.$$eval(".nnssl-viewer[data-nnssl-viewer=ready] canvas.nnssl-slice", (cs) => cs.length);
    expect(canvases).toBe(2); // ground truth and prediction side by side
    const [lit] = await viewerPixels(".nnssl-viewer[data-nnssl-viewer=ready] canvas.nnssl-slice");
    expect(lit).toBeGreaterThan(0.05);
    // The 3-plane view: three planes per volume.
    await page.select(".nnssl-viewer[data-nnssl-viewer=ready] select.nnssl-plane", "3");
    expect(await page.$$eval(".nnssl-viewer[data-nnssl-viewer=ready] canvas.nnssl-slice", (cs) => cs.length)).toBe(6);
    await page.select(".nnssl-viewer[data-nnssl-viewer=ready] select.nnssl-plane", "0");
    await shoot("04-predict-and-inspect", "04-predict-and-inspect.png");
    expect(consoleErrors).toEqual([]);
  }, 27 * 60_000);
});
