// `viewVolume` / `sliceViewer`: an interactive viewer for one or several volumes (multi-planar, scrollable,
// window/level, label overlay with the dataset's label names and a legend, volumes side by side at one physical
// scale). The output is HTML: the static PNG slices (slice-viewer.ts) that nbconvert HTML, code hosts and untrusted
// notebooks show, which the in-page viewer (viewer-runtime.ts, sent along with the voxels) replaces where scripts run.
// Voxels travel as gzip-compressed uint16 (intensities) and uint8 (labels); volumes above `maxVoxels` are
// downsampled by an integer step per axis, and the viewer says so under the volume.

import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { InputError } from "../sdk/index.js";
import { base64, displayBundle, escapeHtml, markDisplayed, type MimeBundle } from "./mime.js";
import { scriptJson } from "./figure.js";
import { defaultPixelSize, labelColor, planeGeometry, renderSlice, spatial, type SliceImage, type SliceOptions, type VolumeLike } from "./slice-viewer.js";
import { VIEWER_RUNTIME, type ViewerSpec } from "./viewer-runtime.js";

export interface ViewerOptions extends SliceOptions {
  /** One label volume per image volume (null for none); `label` applies to all when this is missing. */
  labels?: readonly (VolumeLike | null)[];
  /** One title per volume (`title` applies to all when this is missing). */
  titles?: readonly string[];
  /** Label names as in dataset.json's "labels" ({ background: 0, organ: 1, lesion: 2 }), for the legend and readout. */
  labelNames?: Readonly<Record<string, number | readonly number[]>>;
  /** Volumes with more voxels are downsampled for the interactive viewer (default 2,000,000, about 126³). */
  maxVoxels?: number;
  /** Largest edge of one plane in the interactive viewer, in CSS pixels (default 320). */
  size?: number;
  /** false: only the static PNG slices (default true). */
  interactive?: boolean;
  /** Send to the notebook (default true; nothing is sent outside one). */
  display?: boolean;
}

/** A viewer's outputs: the static slices, its MIME bundle and its HTML. */
export interface SliceView {
  images: SliceImage[];
  bundle: MimeBundle;
  html: string;
}

/** Widest static row in pixels; wider rows are drawn at a coarser scale instead of wrapping. */
const MAX_ROW_PX = 1000;

const gzBase64 = (a: Uint8Array | Uint16Array) => gzipSync(Buffer.from(a.buffer, a.byteOffset, a.byteLength), { level: 6 }).toString("base64");

/** Value -> name from dataset.json's labels (regions, i.e. lists of values, name nothing). */
function namesByValue(labelNames: ViewerOptions["labelNames"]): Map<number, string> {
  const m = new Map<number, string>();
  for (const [name, v] of Object.entries(labelNames ?? {})) if (typeof v === "number") m.set(v, name);
  return m;
}

/** Fraction (0..1) of the slice with the most foreground on each axis, or null without foreground. */
function foregroundPosition(label: VolumeLike, dims: readonly number[]): [number, number, number] | null {
  const counts = dims.map((n) => new Float64Array(n));
  const [n0, n1, n2] = dims as [number, number, number];
  let any = false;
  for (let i = 0; i < n0; i++)
    for (let j = 0; j < n1; j++) {
      const row = (i * n1 + j) * n2;
      for (let k = 0; k < n2; k++) {
        if ((label.data[row + k] as number) > 0) {
          counts[0]![i]++;
          counts[1]![j]++;
          counts[2]![k]++;
          any = true;
        }
      }
    }
  if (!any) return null;
  return counts.map((c, a) => {
    let best = 0;
    for (let i = 1; i < c.length; i++) if (c[i]! > c[best]!) best = i;
    return best / Math.max(1, dims[a]! - 1);
  }) as [number, number, number];
}

interface Packed {
  spec: ViewerSpec["volumes"][number];
  labelValues: Set<number>;
}

/** Samples, quantizes and compresses one volume (and its label) for the page. */
function packVolume(v: VolumeLike, label: VolumeLike | null, title: string, channel: number, maxVoxels: number, window: [number, number] | undefined): Packed {
  const [C, n0, n1, n2] = spatial(v);
  if (channel >= C) throw new InputError(`viewVolume: channel ${channel} does not exist (the volume has ${C}: 0..${C - 1})`);
  const f = Math.max(1, Math.ceil(Math.cbrt((n0 * n1 * n2) / maxVoxels)));
  const dims: [number, number, number] = [Math.ceil(n0 / f), Math.ceil(n1 / f), Math.ceil(n2 / f)];
  const sp = v.spacing ?? v.properties?.spacing ?? [1, 1, 1];
  const n = dims[0] * dims[1] * dims[2];
  const values = new Float32Array(n);
  const labels = label ? new Uint8Array(n) : null;
  const labelValues = new Set<number>();
  const base = channel * n0 * n1 * n2;
  let o = 0,
    lo = Infinity,
    hi = -Infinity;
  for (let i = 0; i < n0; i += f)
    for (let j = 0; j < n1; j += f)
      for (let k = 0; k < n2; k += f, o++) {
        const src = (i * n1 + j) * n2 + k;
        const x = v.data[base + src] as number;
        values[o] = x;
        if (x < lo) lo = x;
        if (x > hi) hi = x;
        if (labels) {
          const l = Math.round(label!.data[src] as number);
          const q = l <= 0 ? 0 : Math.min(255, l);
          labels[o] = q;
          if (q) labelValues.add(q);
        }
      }
  if (!Number.isFinite(lo)) {
    lo = 0;
    hi = 1;
  }
  if (!(hi > lo)) hi = lo + 1;
  const q = new Uint16Array(n);
  const scale = 65535 / (hi - lo);
  for (let i = 0; i < n; i++) q[i] = Math.round((values[i]! - lo) * scale);
  // Default window: the 0.5 and 99.5 percentiles of (at most 200,000 sampled) voxels.
  let win = window;
  if (!win) {
    const stride = Math.max(1, Math.floor(n / 200_000));
    const sample = Float32Array.from({ length: Math.ceil(n / stride) }, (_, i) => values[i * stride]!).sort();
    const pct = (p: number) => sample[Math.min(sample.length - 1, Math.round((p / 100) * (sample.length - 1)))]!;
    win = [pct(0.5), pct(99.5)];
    if (!(win[1] > win[0])) win = [lo, hi];
  }
  const notice = f > 1 ? `shown downsampled ×${f} per axis (${n0}×${n1}×${n2} → ${dims.join("×")} voxels); the static slice is full resolution` : null;
  return {
    spec: {
      title,
      dims,
      spacing: [sp[0]! * f, sp[1]! * f, sp[2]! * f],
      image: gzBase64(q),
      imin: lo,
      imax: hi,
      window: win,
      label: labels ? gzBase64(labels) : null,
      notice,
    },
    labelValues,
  };
}

/**
 * Shows one or several volumes in an interactive viewer: choose the plane (axis 0, 1, 2 or all three), scroll with
 * the mouse wheel or the slider, drag for window (left-right) and level (up-down), toggle the label overlay, read
 * voxel values under the mouse. Several volumes (raw vs each adaptation mode; ground truth vs prediction) are drawn
 * side by side at one physical scale with their slice positions linked. Where the front end runs no scripts (nbconvert
 * HTML, code hosts), the static PNG slice of each volume shows instead. Returns the static slices and the bundle.
 * @example viewVolume([image, image], { labels: [truth, prediction], titles: ["truth", "prediction"], labelNames: ds.raw.datasetJson.labels })
 */
export function viewVolume(volume: VolumeLike | readonly VolumeLike[], opts: ViewerOptions = {}): SliceView {
  const vols = Array.isArray(volume) ? (volume as readonly VolumeLike[]) : [volume as VolumeLike];
  if (vols.length === 0) throw new InputError("viewVolume: no volume to show");
  if (opts.labels && opts.labels.length !== vols.length) {
    throw new InputError(`viewVolume: ${vols.length} volume(s) but ${opts.labels.length} label volume(s) (give one per volume, null for none)`);
  }
  const axis = opts.axis ?? 0;
  const labelOf = (i: number) => (opts.labels ? (opts.labels[i] ?? null) : (opts.label ?? null));
  const titleOf = (i: number) => opts.titles?.[i] ?? opts.title ?? (vols.length > 1 ? `volume ${i + 1}` : "volume");

  // Static slices: one physical scale for all, the finest any of them needs to reach minSize, but coarse enough
  // that the whole row fits MAX_ROW_PX (a row that wraps loses the side-by-side comparison).
  const geo = vols.map((v) => planeGeometry(v, axis));
  let pixelSize = opts.pixelSize ?? Math.min(...geo.map((g) => defaultPixelSize(g.rows, g.cols, g.sr, g.sc, opts.minSize ?? 192)));
  if (opts.pixelSize === undefined) {
    const rowMm = geo.reduce((t, g) => t + g.cols * g.sc, 0);
    pixelSize = Math.max(pixelSize, rowMm / (MAX_ROW_PX - 12 * (vols.length - 1)));
  }
  // The first volume picks the slice (given, or the one with most foreground); the others show the same relative
  // position, so side-by-side slices show the same anatomy (ground truth vs prediction, raw vs resampled).
  const first = renderSlice(vols[0]!, { ...opts, pixelSize, label: labelOf(0), title: titleOf(0) });
  const n0 = spatial(vols[0]!)[axis + 1]!;
  const images = [
    first,
    ...vols.slice(1).map((v, k) => {
      const n = spatial(v)[axis + 1]!;
      const index = n === n0 ? first.index : Math.round((first.index / Math.max(1, n0 - 1)) * (n - 1));
      return renderSlice(v, { ...opts, index, pixelSize, label: labelOf(k + 1), title: titleOf(k + 1) });
    }),
  ];
  const names = namesByValue(opts.labelNames);

  let scripts = "";
  const id = `nnssl-viewer-${randomBytes(6).toString("hex")}`;
  const labelValues = new Set<number>();
  if (opts.interactive !== false) {
    const packed = vols.map((v, i) => packVolume(v, labelOf(i), titleOf(i), opts.channel ?? 0, opts.maxVoxels ?? 2_000_000, opts.window));
    for (const p of packed) for (const l of p.labelValues) labelValues.add(l);
    const first = spatial(vols[0]!).slice(1);
    const l0 = labelOf(0);
    const position = (l0 ? foregroundPosition(l0, first) : null) ?? [0.5, 0.5, 0.5];
    position[axis] = images[0]!.index / Math.max(1, first[axis]! - 1);
    const spec: ViewerSpec = {
      volumes: packed.map((p) => p.spec),
      labels: [...labelValues]
        .sort((a, b) => a - b)
        .map((value) => ({ value, name: names.get(value) ?? `label ${value}`, color: [...labelColor(value)] as [number, number, number] })),
      axis,
      position,
      alpha: opts.alpha ?? 0.45,
      size: opts.size ?? 320,
    };
    scripts =
      `<script type="application/json" id="${id}-spec">${scriptJson(spec)}</script>` +
      `<script>${VIEWER_RUNTIME}\nwindow.nnsslViewer.mount(${JSON.stringify(id)});</script>`;
  } else {
    for (let i = 0; i < vols.length; i++) {
      const l = labelOf(i);
      if (l) for (let k = 0; k < l.data.length; k++) if ((l.data[k] as number) > 0) labelValues.add(Math.round(l.data[k] as number));
    }
  }

  const legend = [...labelValues]
    .sort((a, b) => a - b)
    .map((value) => {
      const c = labelColor(value);
      return (
        `<span style="display:inline-flex;align-items:center;gap:4px;margin-right:10px"><span style="display:inline-block;width:12px;height:12px;` +
        `background:rgb(${c.join(",")})"></span>${value}: ${escapeHtml(names.get(value) ?? `label ${value}`)}</span>`
      );
    })
    .join("");
  const staticHtml = `<div style="display:flex;flex-wrap:nowrap;gap:12px;overflow-x:auto;align-items:flex-end">${images
    .map(
      (im) =>
        `<figure style="margin:0;flex:none"><figcaption style="font:12px sans-serif;text-align:center">${escapeHtml(im.title)}` +
        ` · axis ${im.axis} slice ${im.index}</figcaption><img src="data:image/png;base64,${base64(im.png)}" width="${im.width}" height="${im.height}"/></figure>`,
    )
    .join("")}</div>${legend ? `<div style="font:12px sans-serif;margin-top:4px">${legend}</div>` : ""}`;
  const html = scripts
    ? `<div id="${id}" class="nnssl-viewer" style="max-width:100%">${staticHtml}</div>${scripts}`
    : `<div class="nnssl-viewer-static">${staticHtml}</div>`;
  const text = images.map((im) => `[${im.title}: axis ${im.axis} slice ${im.index}, ${im.width}x${im.height} PNG]`).join("\n");
  // A single volume also goes out as image/png, for front ends that drop HTML.
  const bundle: MimeBundle =
    images.length === 1 ? { "text/html": html, "image/png": base64(images[0]!.png), "text/plain": text } : { "text/html": html, "text/plain": text };
  const view: SliceView = { images, bundle, html };
  if (opts.display === false) return view;
  displayBundle(bundle);
  return markDisplayed(view, text);
}

/** `viewVolume` under its earlier name: the same interactive viewer with a static fallback. */
export const sliceViewer = viewVolume;
