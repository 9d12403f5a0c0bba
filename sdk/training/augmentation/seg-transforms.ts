// The transforms after the intensity ones: MirrorTransform, MaskImageTransform, RemoveLabelTransform(-1 -> 0),
// ConvertSegmentationToRegionsTransform and DownsampleSegForDSTransform (nearest-exact), on typed arrays.

import type { RandomState } from "../../util/random-state.js";
import { numVoxels, type Sample } from "./sample.js";
import { pyRound, resizeNearestExact } from "./simulate-low-resolution.js";

/** Flips image and seg along `axis` (0..2) in place. */
export function flipAxis(s: Sample, axis: number): void {
  const [D, H, W] = s.shape;
  const n = D * H * W;
  const flip = (a: Float32Array | Int16Array, off: number) => {
    for (let z = 0; z < D; z++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          const z2 = axis === 0 ? D - 1 - z : z,
            y2 = axis === 1 ? H - 1 - y : y,
            x2 = axis === 2 ? W - 1 - x : x;
          const i = off + (z * H + y) * W + x,
            j = off + (z2 * H + y2) * W + x2;
          if (i < j) {
            const t = a[i]!;
            a[i] = a[j]!;
            a[j] = t;
          }
        }
  };
  for (let c = 0; c < s.channels; c++) flip(s.image, c * n);
  flip(s.seg, 0);
}

/** MirrorTransform(allowed_axes): each axis flipped with probability 0.5. Returns the flipped axes. */
export function mirror(s: Sample, rs: RandomState, axes: readonly number[]): number[] {
  const flipped = axes.filter(() => rs.randomSample() < 0.5);
  for (const a of flipped) flipAxis(s, a);
  return flipped;
}

/** MaskImageTransform: channels with use_mask_for_norm are set to 0 where seg < 0 (outside the nonzero crop). */
export function maskImage(s: Sample, channels: readonly number[]): void {
  const n = numVoxels(s.shape);
  for (const c of channels) for (let i = 0; i < n; i++) if (s.seg[i]! < 0) s.image[c * n + i] = 0;
}

/** RemoveLabelTansform(-1, 0). */
export function removeLabel(seg: Int16Array, label = -1, setTo = 0): void {
  for (let i = 0; i < seg.length; i++) if (seg[i] === label) seg[i] = setTo;
}

/** ConvertSegmentationToRegionsTransform: one uint8 channel per region (`isin(seg, region)`). */
export function convertSegToRegions(seg: Int16Array, regions: readonly (number | readonly number[])[]): Uint8Array {
  const n = seg.length;
  const out = new Uint8Array(regions.length * n);
  regions.forEach((r, k) => {
    const set = typeof r === "number" ? [r] : r;
    for (let i = 0; i < n; i++) if (set.includes(seg[i]!)) out[k * n + i] = 1;
  });
  return out;
}

/** DS target shapes: `round(shape * scale)` per axis (Python rounding), highest resolution first. */
export function dsTargetShapes(shape: readonly number[], scales: readonly (readonly number[])[]): number[][] {
  return scales.map((s) => shape.map((v, i) => pyRound(v * s[i]!)));
}

/** DownsampleSegForDSTransform: nearest-exact resize of every target channel to each DS shape. */
export function downsampleSegForDS<T extends Int16Array | Uint8Array>(
  seg: T,
  channels: number,
  shape: readonly number[],
  scales: readonly (readonly number[])[],
): { data: T; shape: number[] }[] {
  const n = numVoxels(shape);
  return dsTargetShapes(shape, scales).map((sh) => {
    if (sh.every((v, i) => v === shape[i])) return { data: seg, shape: sh };
    const m = numVoxels(sh);
    const out = new (seg.constructor as { new (n: number): T })(channels * m);
    for (let c = 0; c < channels; c++) resizeNearestExact(seg, c * n, shape, out, c * m, sh);
    return { data: out, shape: sh };
  });
}
