// Browser libraries for interactive outputs, sent into the notebook page once per kernel session, the way plotly's own
// Python package does (`init_notebook_mode(connected=False)`): no network, works in classic Notebook, JupyterLab and
// VS Code alike. plotly.js comes from the installed `plotly.js-dist` package; it travels gzip-compressed (10 MB of
// source become about 2.6 MB of base64) and the page inflates it with the browser's DecompressionStream.
// Front ends that run no scripts (nbconvert without a browser, code hosts, untrusted notebooks) never load it and
// keep showing each output's static fallback.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { gzipSync } from "node:zlib";
import { displayBundle, inNotebook } from "./mime.js";

const require = createRequire(import.meta.url);

let plotlyPayload: { version: string; base64: string } | null = null;
let injected = false;

/** plotly.js from `plotly.js-dist`, gzip + base64 (computed once per process). */
function plotlyGzBase64(): { version: string; base64: string } {
  if (!plotlyPayload) {
    const file = require.resolve("plotly.js-dist/plotly.js");
    const version = (JSON.parse(readFileSync(require.resolve("plotly.js-dist/package.json"), "utf8")) as { version: string }).version;
    plotlyPayload = { version, base64: gzipSync(readFileSync(file), { level: 6 }).toString("base64") };
  }
  return plotlyPayload;
}

/**
 * The page-side loader: inflates plotly.js and evaluates it with AMD's `define` hidden (classic Notebook loads
 * require.js; plotly's UMD header would otherwise register an anonymous AMD module instead of setting window.Plotly).
 * `window.nnsslPlotly` is a promise every figure waits for.
 */
export function plotlyLoaderHtml(): string {
  const { version, base64 } = plotlyGzBase64();
  return `<div class="nnssl-libraries" data-plotly="${version}" style="display:none"></div><script>
(function () {
  if (window.Plotly || window.nnsslPlotly) return;
  var b64 = ${JSON.stringify(base64)};
  window.nnsslPlotly = (async function () {
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var text = await new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
    var define = window.define;
    window.define = undefined;
    try { (0, eval)(text); } finally { window.define = define; }
    return window.Plotly;
  })();
})();
</script>`;
}

/**
 * Sends plotly.js into the notebook page unless this kernel session already did. Called by every display that draws
 * a plotly figure, so the first chart of a session carries the library. Returns false outside a notebook.
 */
export function ensurePlotly(): boolean {
  if (!inNotebook()) return false;
  if (injected) return true;
  injected = true;
  return displayBundle({ "text/html": plotlyLoaderHtml(), "text/plain": "" });
}

/** Forgets that plotly.js was sent (a test helper; a new kernel session starts with this state). */
export function resetInjectedLibraries(): void {
  injected = false;
}
