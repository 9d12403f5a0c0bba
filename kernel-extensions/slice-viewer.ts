// Image slices with a coloured label overlay, as PNG (works in every notebook front end and in nbconvert HTML): the
// static picture of the interactive viewer in volume-viewer.ts. Volumes are nnU-Net arrays: shape [C, a0, a1, a2]
// (raw reader order or preprocessed, transposed order alike).

import { InputError } from "../sdk/index.js";
import { encodePng } from "./png.js";

type Voxels = Float32Array | Float64Array | Int16Array | Uint8Array | Int8Array | Uint16Array | Int32Array;

/** Anything with C-order voxels and a [C, a0, a1, a2] (or [a0, a1, a2]) shape: ImageVolume, preprocessed arrays, npy. */
export interface VolumeLike {
  data: Voxels;
  shape: readonly number[];
  /** Spacing of a0, a1, a2 (used to draw voxels with their physical aspect ratio). */
  spacing?: readonly number[];
  properties?: { spacing?: readonly number[] };
}

export interface SliceOptions {
  /** Label volume with the same spatial shape (channel 0 is used). */
  label?: VolumeLike | null;
  /** Axis the slice is taken across: 0, 1 or 2 of the spatial axes (default 0). */
  axis?: 0 | 1 | 2;
  /** Slice index (default: the slice with the most foreground label voxels, else the middle). */
  index?: number;
  /** Image channel (default 0). */
  channel?: number;
  /** Intensity window; default the 0.5 and 99.5 percentiles of the slice. */
  window?: [number, number];
  /** Overlay opacity (default 0.45). */
  alpha?: number;
  /** Minimum output edge in pixels; small slices are enlarged with nearest neighbours (default 192). */
  minSize?: number;
  /**
   * Millimetres per output pixel (overrides minSize). sliceViewer gives several volumes one common value, so a raw
   * case and its resampled versions are drawn at the same physical scale.
   */
  pixelSize?: number;
  title?: string;
}

/** Overlay colours per label value 1, 2, 3... (label 0 and -1 are not coloured). */
export const LABEL_COLORS: readonly [number, number, number][] = [
  [230, 25, 75],
  [60, 180, 75],
  [0, 130, 200],
  [255, 225, 25],
  [245, 130, 48],
  [145, 30, 180],
  [70, 240, 240],
  [240, 50, 230],
];

/** The overlay colour of label value `l` (> 0). */
export const labelColor = (l: number): readonly [number, number, number] => LABEL_COLORS[(l - 1) % LABEL_COLORS.length]!;

export interface SliceImage {
  png: Uint8Array;
  width: number;
  height: number;
  axis: number;
  index: number;
  title: string;
}

export function spatial(v: VolumeLike): [number, number, number, number] {
  const s = v.shape;
  if (s.length === 3) return [1, s[0]!, s[1]!, s[2]!];
  if (s.length === 4) return [s[0]!, s[1]!, s[2]!, s[3]!];
  throw new InputError(`sliceViewer: expected a [C, a0, a1, a2] or [a0, a1, a2] volume, got shape [${s.join(", ")}]`);
}

function percentile(sorted: Float32Array, q: number): number {
  if (sorted.length === 0) return 0;
  const pos = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Millimetres per pixel that draw a rows x cols slice with at least `minSize` pixels on its longer edge. */
export function defaultPixelSize(rows: number, cols: number, sr: number, sc: number, minSize: number): number {
  const unit = Math.min(sr, sc);
  return unit / Math.max(1, Math.ceil(minSize / Math.max((rows * sr) / unit, (cols * sc) / unit)));
}

/** The in-plane row / column spacing and size of `volume`'s slices across `axis`. */
export function planeGeometry(volume: VolumeLike, axis: number): { rows: number; cols: number; sr: number; sc: number } {
  const [, n0, n1, n2] = spatial(volume);
  const dims = [n0, n1, n2];
  const [ra, ca] = axis === 0 ? [1, 2] : axis === 1 ? [0, 2] : [0, 1];
  const sp = volume.spacing ?? volume.properties?.spacing;
  return { rows: dims[ra]!, cols: dims[ca]!, sr: sp ? sp[ra]! : 1, sc: sp ? sp[ca]! : 1 };
}

/** Renders one slice of `volume` (with an optional label overlay) to a PNG. */
export function renderSlice(volume: VolumeLike, opts: SliceOptions = {}): SliceImage {
  const { axis = 0, channel = 0, alpha = 0.45, minSize = 192 } = opts;
  const [C, n0, n1, n2] = spatial(volume);
  const dims = [n0, n1, n2];
  if (channel >= C) throw new InputError(`sliceViewer: channel ${channel} does not exist (the volume has ${C}: 0..${C - 1})`);
  const label = opts.label ?? null;
  if (label) {
    const [, l0, l1, l2] = spatial(label);
    if (l0 !== n0 || l1 !== n1 || l2 !== n2) {
      throw new InputError(`sliceViewer: label shape [${l0}, ${l1}, ${l2}] differs from image [${n0}, ${n1}, ${n2}]`);
    }
  }
  const strides = [n1 * n2, n2, 1];
  const [ra, ca] = axis === 0 ? [1, 2] : axis === 1 ? [0, 2] : [0, 1];
  const rows = dims[ra]!,
    cols = dims[ca]!;
  let index = opts.index;
  if (index === undefined) {
    index = Math.floor(dims[axis]! / 2);
    if (label) {
      let best = -1;
      for (let s = 0; s < dims[axis]!; s++) {
        let count = 0;
        for (let r = 0; r < rows; r++)
          for (let c = 0; c < cols; c++) {
            if (label.data[s * strides[axis]! + r * strides[ra]! + c * strides[ca]!]! > 0) count++;
          }
        if (count > best) {
          best = count;
          index = s;
        }
      }
    }
  }
  if (![0, 1, 2].includes(axis)) throw new InputError(`sliceViewer: axis ${axis} is not a spatial axis (0, 1 or 2)`);
  if (!Number.isInteger(index) || index < 0 || index >= dims[axis]!)
    throw new InputError(`sliceViewer: index ${index} outside 0..${dims[axis]! - 1} on axis ${axis}`);
  const base = channel * n0 * n1 * n2 + index * strides[axis]!;
  const slice = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) slice[r * cols + c] = volume.data[base + r * strides[ra]! + c * strides[ca]!] as number;
  let [lo, hi] =
    opts.window ??
    (() => {
      const s = Float32Array.from(slice).sort();
      return [percentile(s, 0.5), percentile(s, 99.5)];
    })();
  if (!(hi > lo)) hi = lo + 1;

  // Physical aspect ratio and a readable size: each voxel covers spacing / pixelSize output pixels (nearest
  // neighbour; when that is not an integer, neighbouring voxels get one pixel more or less).
  const sp = volume.spacing ?? volume.properties?.spacing;
  const sr = sp ? sp[ra]! : 1,
    sc = sp ? sp[ca]! : 1;
  const px = opts.pixelSize ?? defaultPixelSize(rows, cols, sr, sc, minSize);
  const H = Math.max(rows, Math.round((rows * sr) / px)),
    W = Math.max(cols, Math.round((cols * sc) / px));
  const rowOf = Int32Array.from({ length: H }, (_, y) => Math.min(rows - 1, Math.floor(((y + 0.5) * rows) / H)));
  const colOf = Int32Array.from({ length: W }, (_, x) => Math.min(cols - 1, Math.floor(((x + 0.5) * cols) / W)));
  const pixel = new Uint8Array(rows * cols * 3);
  const lbase = index * strides[axis]!;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const g = Math.max(0, Math.min(255, Math.round(((slice[r * cols + c]! - lo) / (hi - lo)) * 255)));
      let R = g,
        G = g,
        B = g;
      if (label) {
        const l = Math.round(label.data[lbase + r * strides[ra]! + c * strides[ca]!] as number);
        if (l > 0) {
          const col = labelColor(l);
          R = Math.round((1 - alpha) * g + alpha * col[0]);
          G = Math.round((1 - alpha) * g + alpha * col[1]);
          B = Math.round((1 - alpha) * g + alpha * col[2]);
        }
      }
      const o = (r * cols + c) * 3;
      pixel[o] = R;
      pixel[o + 1] = G;
      pixel[o + 2] = B;
    }
  }
  const rgb = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (rowOf[y]! * cols + colOf[x]!) * 3,
        o = (y * W + x) * 3;
      rgb[o] = pixel[i]!;
      rgb[o + 1] = pixel[i + 1]!;
      rgb[o + 2] = pixel[i + 2]!;
    }
  }
  const title = opts.title ?? `axis ${axis}, slice ${index}/${dims[axis]! - 1}`;
  return { png: encodePng(rgb, W, H, 3), width: W, height: H, axis, index, title };
}
