// batchgeneratorsv2 SimulateLowResolutionTransform (scale (0.5, 1), per channel with p 0.5, same scale on all axes):
// downsample with torch's 'nearest-exact', upsample back with (tri)linear interpolation, align_corners False.

import type { RandomState } from "../../util/random-state.js";
import { numVoxels, type Sample } from "./sample.js";

/** Python round() (half to even), used for the downsampled shape. */
export function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torch 'nearest-exact' source index for output index `o`: `min(floor((o + 0.5) * in / out), in - 1)`. */
export function nearestExactIndex(o: number, inSize: number, outSize: number): number {
  return Math.min(Math.floor(((o + 0.5) * inSize) / outSize), inSize - 1);
}

/** Nearest-exact resize of one (D,H,W) volume (any element type) into `out`. */
export function resizeNearestExact<T extends Float32Array | Int16Array | Uint8Array>(
  src: T,
  srcOff: number,
  inShape: readonly number[],
  out: T,
  outOff: number,
  outShape: readonly number[],
): void {
  const [D, H, W] = inShape as [number, number, number];
  const [d, h, w] = outShape as [number, number, number];
  const ix = new Int32Array(w);
  for (let x = 0; x < w; x++) ix[x] = nearestExactIndex(x, W, w);
  let o = outOff;
  for (let z = 0; z < d; z++) {
    const iz = nearestExactIndex(z, D, d);
    for (let y = 0; y < h; y++) {
      const row = srcOff + (iz * H + nearestExactIndex(y, H, h)) * W;
      for (let x = 0; x < w; x++) out[o++] = src[row + ix[x]!]!;
    }
  }
}

function linearTable(outSize: number, inSize: number): { i0: Int32Array; i1: Int32Array; f: Float64Array } {
  const i0 = new Int32Array(outSize),
    i1 = new Int32Array(outSize),
    f = new Float64Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    // area_pixel_compute_source_index(align_corners=False) clamps negative positions to 0.
    const src = Math.max(scale * (o + 0.5) - 0.5, 0);
    const a = Math.min(Math.floor(src), inSize - 1);
    i0[o] = a;
    i1[o] = Math.min(a + 1, inSize - 1);
    f[o] = src - a;
  }
  return { i0, i1, f };
}

/** Trilinear resize (align_corners False) of a (D,H,W) float volume. */
export function resizeTrilinear(
  src: Float32Array,
  srcOff: number,
  inShape: readonly number[],
  out: Float32Array,
  outOff: number,
  outShape: readonly number[],
): void {
  const [D, H, W] = inShape as [number, number, number];
  const [d, h, w] = outShape as [number, number, number];
  const tz = linearTable(d, D),
    ty = linearTable(h, H),
    tx = linearTable(w, W);
  let o = outOff;
  for (let z = 0; z < d; z++) {
    const z0 = tz.i0[z]! * H * W,
      z1 = tz.i1[z]! * H * W,
      fz = tz.f[z]!;
    for (let y = 0; y < h; y++) {
      const y0 = ty.i0[y]! * W,
        y1 = ty.i1[y]! * W,
        fy = ty.f[y]!;
      for (let x = 0; x < w; x++) {
        const x0 = tx.i0[x]!,
          x1 = tx.i1[x]!,
          fx = tx.f[x]!;
        const b = srcOff;
        const c00 = src[b + z0 + y0 + x0]! * (1 - fx) + src[b + z0 + y0 + x1]! * fx;
        const c01 = src[b + z0 + y1 + x0]! * (1 - fx) + src[b + z0 + y1 + x1]! * fx;
        const c10 = src[b + z1 + y0 + x0]! * (1 - fx) + src[b + z1 + y0 + x1]! * fx;
        const c11 = src[b + z1 + y1 + x0]! * (1 - fx) + src[b + z1 + y1 + x1]! * fx;
        out[o++] = (c00 * (1 - fy) + c01 * fy) * (1 - fz) + (c10 * (1 - fy) + c11 * fy) * fz;
      }
    }
  }
}

/** `ignoreAxes` are spatial axes kept at full resolution (axis 0 for dummy 2D and 2D configurations). */
export function simulateLowResolution(s: Sample, rs: RandomState, ignoreAxes: readonly number[], range: [number, number] = [0.5, 1]): void {
  const apply: number[] = [];
  for (let c = 0; c < s.channels; c++) if (rs.randomSample() < 0.5) apply.push(c);
  const scales = apply.map(() => rs.uniform(range[0], range[1]));
  const n = numVoxels(s.shape);
  apply.forEach((c, k) => {
    const small = s.shape.map((v, ax) => (ignoreAxes.includes(ax) ? v : Math.max(1, pyRound(v * scales[k]!))));
    const tmp = new Float32Array(numVoxels(small));
    resizeNearestExact(s.image, c * n, s.shape, tmp, 0, small);
    resizeTrilinear(tmp, 0, small, s.image, c * n, s.shape);
  });
}
