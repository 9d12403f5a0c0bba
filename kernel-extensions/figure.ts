// A figure = an interactive plotly spec plus a static SVG of the same data. It goes out as HTML that draws the plotly
// figure with the plotly.js sent into the page once per session (libraries.ts), which works in every front end that
// runs output scripts (classic Notebook, JupyterLab, VS Code); inside that HTML the static SVG stays in place until
// plotly.js has drawn, so nbconvert HTML, code hosts and untrusted notebooks show the picture. The plotly MIME type
// goes along for front ends with their own plotly renderer (JupyterLab's extension, VS Code).

import { randomBytes } from "node:crypto";
import { displayBundle, escapeHtml, markDisplayed, UpdatingDisplay, type MimeBundle } from "./mime.js";
import { ensurePlotly } from "./libraries.js";
import { svgChart, type Panel } from "./svg-chart.js";

export interface Figure {
  /** plotly `{data, layout}` (application/vnd.plotly.v1+json). */
  plotly: { data: object[]; layout: object };
  /** Static rendering of the same panels. */
  svg: string;
  /** One-paragraph text summary (text/plain fallback). */
  text: string;
}

/** JSON that can sit inside a <script> element (no "</script>", no HTML comment openers). */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/**
 * The figure as HTML: the static SVG (as an <img>: nbconvert's HTML export strips inline SVG outputs down to their
 * text) inside a box that a small script replaces with the interactive plotly figure once plotly.js is in the page.
 */
export function figureHtml(fig: Figure): string {
  const id = `nnssl-fig-${randomBytes(6).toString("hex")}`;
  const alt = escapeHtml(fig.text.split("\n")[0]!);
  const width = (fig.plotly.layout as { width?: number }).width;
  return (
    `<div id="${id}" class="nnssl-figure" style="${width ? `width:${width}px;` : ""}max-width:100%">` +
    `<img src="data:image/svg+xml;base64,${Buffer.from(fig.svg, "utf8").toString("base64")}" alt="${alt}"/></div>` +
    `<script type="application/json" id="${id}-spec">${scriptJson(fig.plotly)}</script>` +
    `<script>(function () {
  var box = document.getElementById(${JSON.stringify(id)}), spec = document.getElementById(${JSON.stringify(`${id}-spec`)});
  if (!box || !spec) return;
  var tries = 0;
  function draw(P) {
    if (!P || box.getAttribute("data-drawn")) return;
    var f = JSON.parse(spec.textContent);
    box.setAttribute("data-drawn", "1");
    box.innerHTML = "";
    // plotly.js sizes its container to 100% of the box: give the box the figure's height.
    if (f.layout.height) box.style.height = f.layout.height + "px";
    P.newPlot(box, f.data, f.layout, { displaylogo: false });
  }
  (function wait() {
    if (window.Plotly) return draw(window.Plotly);
    if (window.nnsslPlotly) return window.nnsslPlotly.then(draw);
    if (++tries < 100) setTimeout(wait, 100);
  })();
})();</script>`
  );
}

export function figureBundle(fig: Figure): MimeBundle {
  return { "application/vnd.plotly.v1+json": fig.plotly, "text/html": figureHtml(fig), "image/svg+xml": fig.svg, "text/plain": fig.text };
}

/** Builds a figure from panels: each panel becomes a plotly subplot (stacked vertically) and an SVG panel. */
export function panelsFigure(panels: Panel[], { title = "", height = 240, width = 760, columns = 1 } = {}): Figure {
  const data: object[] = [];
  const rows = Math.ceil(panels.length / columns);
  // The legend goes below the panels, where it covers no curve; the bottom margin grows with its number of rows.
  const names = new Set(panels.flatMap((p) => [...(p.lines ?? []), ...(p.bars ?? [])].map((s) => s.name)));
  const legendRows = Math.ceil(names.size / Math.max(1, Math.floor(width / 190)));
  const bottom = 70 + 22 * legendRows;
  const layout: Record<string, unknown> = {
    title: { text: title, x: 0.02, xanchor: "left" },
    height: height * rows + bottom,
    width,
    autosize: false,
    showlegend: names.size > 1,
    margin: { t: title ? 60 : 30, b: bottom, l: 60, r: 20 },
    // Hovering anywhere over a panel shows every series' value at that x (epoch, spacing bin).
    hovermode: "x unified",
    legend: { orientation: "h", x: 0, xanchor: "left", y: -(80 / (height * rows)), yanchor: "top" },
    grid: { rows, columns, pattern: "independent", ygap: 0.35, xgap: 0.12 },
  };
  panels.forEach((p, i) => {
    const ax = i === 0 ? "" : String(i + 1);
    for (const l of p.lines ?? [])
      data.push({
        type: "scatter",
        mode: l.x.length > 60 ? "lines" : "lines+markers",
        name: l.name,
        x: Array.from(l.x),
        y: Array.from(l.y),
        xaxis: `x${ax}`,
        yaxis: `y${ax}`,
        line: { dash: l.dash ? "dash" : "solid", color: l.color },
      });
    for (const b of p.bars ?? []) {
      const centers = Array.from(b.counts, (_, k) => (b.edges[k]! + b.edges[k + 1]!) / 2);
      data.push({ type: "bar", name: b.name, x: centers, y: Array.from(b.counts), xaxis: `x${ax}`, yaxis: `y${ax}`, opacity: 0.7, marker: { color: b.color } });
    }
    layout[`xaxis${ax}`] = { title: { text: p.xLabel ?? "" }, ...(p.xRange ? { range: p.xRange } : {}) };
    layout[`yaxis${ax}`] = { title: { text: p.yLabel ?? "" }, type: p.logY ? "log" : "linear", ...(p.yRange ? { range: p.yRange } : {}) };
    for (const m of p.markers ?? []) {
      ((layout.shapes ??= []) as object[]).push({
        type: "line",
        xref: `x${ax}`,
        yref: `y${ax} domain`,
        x0: m.x,
        x1: m.x,
        y0: 0,
        y1: 1,
        line: { dash: "dot", color: m.color },
      });
      // Inside the panel, below its title: the label starts at its line.
      ((layout.annotations ??= []) as object[]).push({
        xref: `x${ax}`,
        yref: `y${ax} domain`,
        x: m.x,
        y: 0.98,
        text: m.label,
        showarrow: false,
        yanchor: "top",
        xanchor: "left",
        xshift: 3,
        font: { size: 11, color: m.color },
      });
    }
  });
  // Panel titles as plotly annotations at the top of each subplot (plotly's layout title is the figure's only).
  panels.forEach((p, i) => {
    if (!p.title) return;
    const ax = i === 0 ? "" : String(i + 1);
    ((layout.annotations ??= []) as object[]).push({
      xref: `x${ax} domain`,
      yref: `y${ax} domain`,
      x: 0.5,
      y: 1.02,
      xanchor: "center",
      yanchor: "bottom",
      text: `<b>${escapeHtml(p.title)}</b>`,
      showarrow: false,
      font: { size: 12 },
    });
  });
  const svg = svgChart(panels, { width, panelHeight: height, columns, title });
  const text = panels.map((p) => `${p.title ?? "panel"}: ${[...(p.lines ?? []), ...(p.bars ?? [])].map((s) => s.name).join(", ")}`).join("\n");
  return { plotly: { data, layout }, svg, text };
}

/** Shows a figure in the notebook (no-op outside one) and returns it. */
export function showFigure(fig: Figure, display?: UpdatingDisplay): Figure {
  ensurePlotly();
  if (display) display.update(figureBundle(fig));
  else displayBundle(figureBundle(fig));
  return markDisplayed(fig, `[figure] ${fig.text}`);
}
