// Per-axis histograms of a dataset's voxel spacings, with the target spacing of each adaptation mode marked, so a
// user can see which mode keeps their data's resolution.

import { histogram, PALETTE, type Marker, type Panel } from "./svg-chart.js";
import { panelsFigure, showFigure, type Figure } from "./figure.js";

export interface SpacingSource {
  /** One [s0, s1, s2] per case, in nnU-Net array order. */
  spacings: readonly (readonly number[])[];
}

export interface SpacingHistogramOptions {
  /** Target spacing per adaptation mode (or any label), same axis order as the spacings. */
  targets?: Record<string, readonly (number | null)[] | null>;
  bins?: number;
  axisNames?: readonly string[];
  display?: boolean;
}

/**
 * Per-axis spacing histograms (plotly, with an SVG fallback) marking each adaptation mode's target spacing.
 * @example spacingHistogram(fingerprint, { targets: { like_pretrained: [1, 1, 1], default_nnunet: plans.spacing } })
 */
export function spacingHistogram(source: SpacingSource | readonly (readonly number[])[], opts: SpacingHistogramOptions = {}): Figure {
  const spacings = Array.isArray(source) ? (source as readonly (readonly number[])[]) : (source as SpacingSource).spacings;
  if (spacings.length === 0) throw new Error("spacingHistogram: no spacings to show");
  const nAxes = spacings[0]!.length;
  const names = opts.axisNames ?? Array.from({ length: nAxes }, (_, a) => `axis ${a}`);
  const panels: Panel[] = [];
  for (let a = 0; a < nAxes; a++) {
    const vals = Float64Array.from(spacings, (s) => s[a]!);
    const markers: Marker[] = [];
    Object.entries(opts.targets ?? {}).forEach(([mode, t], k) => {
      const v = t?.[a];
      if (v !== null && v !== undefined) markers.push({ x: v, label: `${mode} ${+v.toFixed(3)}`, color: PALETTE[(k + 1) % PALETTE.length] });
    });
    const lo = Math.min(...vals, ...markers.map((m) => m.x)),
      hi = Math.max(...vals, ...markers.map((m) => m.x));
    const h = histogram(vals, opts.bins ?? Math.min(20, Math.max(5, spacings.length)), lo - 0.05 * (hi - lo || 1), hi + 0.05 * (hi - lo || 1));
    panels.push({ title: `spacing, ${names[a]} (mm)`, xLabel: "mm", yLabel: "cases", bars: [{ name: `${names[a]} spacing`, ...h }], markers });
  }
  const fig = panelsFigure(panels, { title: "Voxel spacing per axis", height: 220, columns: Math.min(3, nAxes), width: 900 });
  const med = Array.from({ length: nAxes }, (_, a) => {
    const v = spacings.map((s) => s[a]!).sort((x, y) => x - y);
    return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
  });
  fig.text =
    `${spacings.length} cases; median spacing [${med.map((m) => +m.toFixed(4)).join(", ")}]` +
    Object.entries(opts.targets ?? {})
      .map(([k, t]) => `\n${k}: [${(t ?? []).map((v) => (v === null ? "case spacing" : +v.toFixed(4))).join(", ")}]`)
      .join("");
  return opts.display === false ? fig : showFigure(fig);
}
