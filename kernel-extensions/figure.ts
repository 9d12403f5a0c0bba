// A figure = an interactive plotly spec plus a static SVG of the same data. Jupyter front ends with a plotly
// renderer (JupyterLab, VS Code) draw the interactive one; nbconvert HTML and code hosts show the SVG.

import { displayBundle, escapeHtml, UpdatingDisplay, withSummary, type MimeBundle } from "./mime.js";
import { svgChart, type Panel } from "./svg-chart.js";

export interface Figure {
  /** plotly `{data, layout}` (application/vnd.plotly.v1+json). */
  plotly: { data: object[]; layout: object };
  /** Static rendering of the same panels. */
  svg: string;
  /** One-paragraph text summary (text/plain fallback). */
  text: string;
}

export function figureBundle(fig: Figure): MimeBundle {
  // nbconvert's HTML export (lxml clean_html) strips an image/svg+xml output down to its text, so the static chart
  // also goes out as HTML with the SVG as an <img> data URI. Front ends with a plotly renderer still show the
  // interactive figure (it ranks above HTML there); nbconvert and code hosts show the image.
  const html = `<img src="data:image/svg+xml;base64,${Buffer.from(fig.svg, "utf8").toString("base64")}" alt="${escapeHtml(fig.text.split("\n")[0]!)}"/>`;
  return { "application/vnd.plotly.v1+json": fig.plotly, "text/html": html, "image/svg+xml": fig.svg, "text/plain": fig.text };
}

/** Builds a figure from panels: each panel becomes a plotly subplot (stacked vertically) and an SVG panel. */
export function panelsFigure(panels: Panel[], { title = "", height = 240, width = 760, columns = 1 } = {}): Figure {
  const data: object[] = [];
  const layout: Record<string, unknown> = { title: { text: title }, height: height * Math.ceil(panels.length / columns), width, showlegend: true,
    grid: { rows: Math.ceil(panels.length / columns), columns, pattern: "independent" } };
  panels.forEach((p, i) => {
    const ax = i === 0 ? "" : String(i + 1);
    for (const l of p.lines ?? []) data.push({ type: "scatter", mode: "lines+markers", name: l.name, x: Array.from(l.x), y: Array.from(l.y), xaxis: `x${ax}`, yaxis: `y${ax}`, line: { dash: l.dash ? "dash" : "solid", color: l.color } });
    for (const b of p.bars ?? []) {
      const centers = Array.from(b.counts, (_, k) => (b.edges[k]! + b.edges[k + 1]!) / 2);
      data.push({ type: "bar", name: b.name, x: centers, y: Array.from(b.counts), xaxis: `x${ax}`, yaxis: `y${ax}`, opacity: 0.7, marker: { color: b.color } });
    }
    layout[`xaxis${ax}`] = { title: { text: p.xLabel ?? "" } };
    layout[`yaxis${ax}`] = { title: { text: p.yLabel ?? "" }, type: p.logY ? "log" : "linear" };
    for (const m of p.markers ?? []) {
      ((layout.shapes ??= []) as object[]).push({ type: "line", xref: `x${ax}`, yref: `y${ax} domain`, x0: m.x, x1: m.x, y0: 0, y1: 1, line: { dash: "dot", color: m.color } });
      ((layout.annotations ??= []) as object[]).push({ xref: `x${ax}`, yref: `y${ax} domain`, x: m.x, y: 1, text: m.label, showarrow: false, yanchor: "bottom" });
    }
  });
  const svg = svgChart(panels, { width, panelHeight: height, columns });
  const text = panels.map((p) => `${p.title ?? "panel"}: ${[...(p.lines ?? []), ...(p.bars ?? [])].map((s) => s.name).join(", ")}`).join("\n");
  return { plotly: { data, layout }, svg, text };
}

/** Shows a figure in the notebook (no-op outside one) and returns it. */
export function showFigure(fig: Figure, display?: UpdatingDisplay): Figure {
  if (display) display.update(figureBundle(fig));
  else displayBundle(figureBundle(fig));
  return withSummary(fig, `[figure] ${fig.text}`);
}
