// Static SVG charts (line plots, histograms, marker lines) drawn without a browser. They are the fallback that
// nbconvert HTML and code hosts show when the interactive plotly view is not rendered.

import { escapeHtml } from "./mime.js";

export interface LineSeries {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  color?: string;
  dash?: boolean;
}
export interface Bars {
  name: string;
  edges: ArrayLike<number> /* n+1 */;
  counts: ArrayLike<number> /* n */;
  color?: string;
}
export interface Marker {
  x: number;
  label: string;
  color?: string;
}

export interface Panel {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  lines?: LineSeries[];
  bars?: Bars[];
  markers?: Marker[];
  logY?: boolean;
  /** Fixed x range (e.g. the whole training budget), instead of the data's. */
  xRange?: [number, number];
  /** Fixed y range (e.g. [0, 1] for Dice), linear axes only. */
  yRange?: [number, number];
}

export const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

const fmt = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(1) : String(+v.toPrecision(3)));

function ticks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const step = Math.pow(10, Math.floor(Math.log10((hi - lo) / n)));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (hi - lo) / s <= n) ?? step * 10;
  const out: number[] = [];
  for (let v = Math.ceil(lo / nice) * nice; v <= hi + nice * 1e-9; v += nice) out.push(+v.toPrecision(12));
  return out;
}

/** Legend entries laid out left to right in rows under the plot, so they never cover a curve. */
function legendLayout(names: readonly string[], width: number): { x: number; row: number }[] {
  const out: { x: number; row: number }[] = [];
  let x = 0,
    row = 0;
  for (const n of names) {
    const w = 26 + 5.6 * n.length;
    if (x > 0 && x + w > width) {
      x = 0;
      row++;
    }
    out.push({ x, row });
    x += w;
  }
  return out;
}

function panelSvg(p: Panel, x0: number, y0: number, w: number, h: number): string {
  const legend = [...(p.lines ?? []), ...(p.bars ?? [])];
  // A panel with one series needs no legend (its title names it).
  const items =
    legend.length > 1
      ? legendLayout(
          legend.map((s) => s.name),
          w - 70,
        )
      : [];
  const legendH = items.length ? 13 * (items[items.length - 1]!.row + 1) + 4 : 0;
  const ml = 58,
    mr = 12,
    mt = p.title ? 22 : 8,
    mb = (p.xLabel ? 36 : 24) + legendH;
  const pw = w - ml - mr,
    ph = h - mt - mb;
  const xs: number[] = [],
    ys: number[] = [];
  for (const l of p.lines ?? [])
    for (let i = 0; i < l.x.length; i++) {
      const yv = l.y[i]!;
      if (Number.isFinite(yv) && (!p.logY || yv > 0)) {
        xs.push(l.x[i]!);
        ys.push(p.logY ? Math.log10(yv) : yv);
      }
    }
  for (const b of p.bars ?? []) {
    xs.push(b.edges[0]!, b.edges[b.edges.length - 1]!);
    ys.push(0);
    for (let i = 0; i < b.counts.length; i++) ys.push(b.counts[i]!);
  }
  for (const m of p.markers ?? []) xs.push(m.x);
  let xmin = p.xRange?.[0] ?? Math.min(...xs),
    xmax = p.xRange?.[1] ?? Math.max(...xs),
    ymin = Math.min(...ys),
    ymax = Math.max(...ys);
  if (!Number.isFinite(xmin)) {
    xmin = 0;
    xmax = 1;
  }
  if (!Number.isFinite(ymin)) {
    ymin = 0;
    ymax = 1;
  }
  if (xmax === xmin) {
    xmin -= 0.5;
    xmax += 0.5;
  }
  if (ymax === ymin) {
    ymin -= 0.5;
    ymax += 0.5;
  }
  const pad = (ymax - ymin) * 0.05;
  ymax += pad;
  if (!p.bars?.length) ymin -= pad;
  if (p.yRange && !p.logY) [ymin, ymax] = p.yRange;
  const X = (v: number) => x0 + ml + ((v - xmin) / (xmax - xmin)) * pw;
  const Y = (v: number) => y0 + mt + ph - ((v - ymin) / (ymax - ymin)) * ph;
  const out: string[] = [];
  out.push(`<rect x="${x0 + ml}" y="${y0 + mt}" width="${pw}" height="${ph}" fill="#fafafa" stroke="#ccc"/>`);
  for (const t of ticks(xmin, xmax)) out.push(`<text x="${X(t)}" y="${y0 + mt + ph + 14}" font-size="10" text-anchor="middle">${fmt(t)}</text>`);
  for (const t of ticks(ymin, ymax)) {
    out.push(`<line x1="${x0 + ml}" x2="${x0 + ml + pw}" y1="${Y(t)}" y2="${Y(t)}" stroke="#eee"/>`);
    out.push(`<text x="${x0 + ml - 4}" y="${Y(t) + 3}" font-size="10" text-anchor="end">${p.logY ? fmt(10 ** t) : fmt(t)}</text>`);
  }
  (p.bars ?? []).forEach((b, k) => {
    const color = b.color ?? PALETTE[k % PALETTE.length];
    for (let i = 0; i < b.counts.length; i++) {
      const xa = X(b.edges[i]!),
        xb = X(b.edges[i + 1]!);
      out.push(
        `<rect x="${xa}" y="${Y(b.counts[i]!)}" width="${Math.max(0.5, xb - xa - 1)}" height="${Y(0) - Y(b.counts[i]!)}" fill="${color}" opacity="0.7"/>`,
      );
    }
  });
  (p.lines ?? []).forEach((l, k) => {
    const color = l.color ?? PALETTE[k % PALETTE.length];
    const pts: string[] = [];
    for (let i = 0; i < l.x.length; i++) {
      const yv = l.y[i]!;
      if (Number.isFinite(yv) && (!p.logY || yv > 0)) pts.push(`${X(l.x[i]!).toFixed(1)},${Y(p.logY ? Math.log10(yv) : yv).toFixed(1)}`);
    }
    if (pts.length === 1) out.push(`<circle cx="${pts[0]!.split(",")[0]}" cy="${pts[0]!.split(",")[1]}" r="2.5" fill="${color}"/>`);
    out.push(`<polyline points="${pts.join(" ")}" fill="none" stroke="${color}" stroke-width="1.6"${l.dash ? ' stroke-dasharray="4 3"' : ""}/>`);
  });
  for (const [k, m] of (p.markers ?? []).entries()) {
    const color = m.color ?? PALETTE[(k + 1) % PALETTE.length];
    out.push(`<line x1="${X(m.x)}" x2="${X(m.x)}" y1="${y0 + mt}" y2="${y0 + mt + ph}" stroke="${color}" stroke-dasharray="3 2"/>`);
    // Labels of markers in the right half end at their line, so they stay inside the panel.
    const right = X(m.x) > x0 + ml + pw / 2;
    out.push(
      `<text x="${X(m.x) + (right ? -3 : 3)}" y="${y0 + mt + 11 + 11 * k}" font-size="10" fill="${color}"${right ? ' text-anchor="end"' : ""}>${escapeHtml(m.label)}</text>`,
    );
  }
  const ly = y0 + h - legendH;
  items.forEach(({ x, row }, k) => {
    const s = legend[k]!;
    const color = s.color ?? PALETTE[(k < (p.lines?.length ?? 0) ? k : k - (p.lines?.length ?? 0)) % PALETTE.length];
    const dash = "dash" in s && s.dash ? ' stroke-dasharray="4 3"' : "";
    const lx = x0 + ml + x,
      yy = ly + 8 + 13 * row;
    out.push(`<line x1="${lx}" x2="${lx + 14}" y1="${yy}" y2="${yy}" stroke="${color}" stroke-width="2.5"${dash}/>`);
    out.push(`<text x="${lx + 18}" y="${yy + 3}" font-size="10">${escapeHtml(s.name)}</text>`);
  });
  if (p.title) out.push(`<text x="${x0 + ml + pw / 2}" y="${y0 + 15}" font-size="12" font-weight="bold" text-anchor="middle">${escapeHtml(p.title)}</text>`);
  if (p.xLabel) out.push(`<text x="${x0 + ml + pw / 2}" y="${y0 + h - legendH - 6}" font-size="11" text-anchor="middle">${escapeHtml(p.xLabel)}</text>`);
  if (p.yLabel)
    out.push(`<text transform="translate(${x0 + 12},${y0 + mt + ph / 2}) rotate(-90)" font-size="11" text-anchor="middle">${escapeHtml(p.yLabel)}</text>`);
  return out.join("");
}

/** Draws panels in a grid (`columns` per row) as one SVG document. */
export function svgChart(panels: Panel[], { width = 760, panelHeight = 240, columns = 1, title = "" } = {}): string {
  const rows = Math.ceil(panels.length / columns);
  const pw = width / columns;
  const top = title ? 26 : 0;
  const body = panels.map((p, i) => panelSvg(p, (i % columns) * pw, top + Math.floor(i / columns) * panelHeight, pw, panelHeight)).join("");
  const head = title ? `<text x="8" y="18" font-size="14" font-weight="bold">${escapeHtml(title)}</text>` : "";
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${top + rows * panelHeight}" font-family="sans-serif">${head}${body}</svg>`;
}

/** Histogram counts of `values` over `bins` equal-width bins spanning [lo, hi]. */
export function histogram(values: ArrayLike<number>, bins = 20, lo?: number, hi?: number): { edges: Float64Array; counts: Float64Array } {
  let a = lo ?? Infinity,
    b = hi ?? -Infinity;
  if (lo === undefined || hi === undefined)
    for (let i = 0; i < values.length; i++) {
      a = Math.min(a, values[i]!);
      b = Math.max(b, values[i]!);
    }
  if (!(b > a)) {
    a -= 0.5;
    b += 0.5;
  }
  const edges = new Float64Array(bins + 1).map((_, i) => a + ((b - a) * i) / bins);
  const counts = new Float64Array(bins);
  for (let i = 0; i < values.length; i++) counts[Math.min(bins - 1, Math.max(0, Math.floor(((values[i]! - a) / (b - a)) * bins)))]!++;
  return { edges, counts };
}
