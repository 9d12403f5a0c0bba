// batchgeneratorsv2 SpatialTransform as nnU-Net configures it (no elastic deformation, p_rotation 0.2, p_scaling 0.2,
// scaling (0.7, 1.4) synchronised across axes, centred patch): crops the final patch out of the enlarged one, rotating
// and scaling about the centre when drawn. Image: trilinear, zeros outside (grid_sample, align_corners False).
// Seg: each label is sampled as 1000*(seg == label) (fp16 like upstream), argmax with ties to the lowest label, and
// voxels whose sample point falls outside the input become -1.

import type { RandomState } from "../../util/random-state.js";
import { floatToHalf, halfToFloat } from "../../io/torch/dtypes.js";
import { numVoxels, type Sample } from "./sample.js";

export interface SpatialParams {
  /** Row-major 3x3 matrix A mapping output offsets to input offsets (array axis order), or null for a plain crop. */
  affine: Float64Array | null;
}

export interface SpatialOptions {
  patchSize: [number, number, number];
  rotation: [number, number];
  /** 2D configurations and dummy-2D: rotate/scale only in the (H, W) plane, axis 0 is copied through. */
  inPlane: boolean;
  pRotation?: number;
  pScaling?: number;
  scaling?: [number, number];
}

function mul(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
}

/** Draws the parameters in upstream's order: rotate?, scale?, deform? (always), angles, sync check, scale. */
export function drawSpatialParams(
  rs: RandomState,
  { rotation, inPlane, pRotation = 0.2, pScaling = 0.2, scaling = [0.7, 1.4] }: SpatialOptions,
): SpatialParams {
  const doRotate = rs.randomSample() < pRotation;
  const doScale = rs.randomSample() < pScaling;
  rs.randomSample(); // p_elastic_deform = 0: the draw still happens upstream
  if (!doRotate && !doScale) return { affine: null };
  const nAngles = inPlane ? 2 : 3;
  const angles = doRotate ? Array.from({ length: nAngles }, () => rs.uniform(rotation[0], rotation[1])) : new Array(nAngles).fill(0);
  let s = 1;
  if (doScale) {
    rs.randomSample();
    s = rs.uniform(scaling[0], scaling[1]);
  }
  let A: number[][];
  if (inPlane) {
    const a = angles[nAngles - 1]!;
    const c = Math.cos(a),
      sn = Math.sin(a);
    A = [
      [1, 0, 0],
      [0, c * s, -sn * s],
      [0, sn * s, c * s],
    ];
  } else {
    const [a0, a1, a2] = angles as [number, number, number];
    const Rx = [
      [1, 0, 0],
      [0, Math.cos(a0), -Math.sin(a0)],
      [0, Math.sin(a0), Math.cos(a0)],
    ];
    const Ry = [
      [Math.cos(a1), 0, Math.sin(a1)],
      [0, 1, 0],
      [-Math.sin(a1), 0, Math.cos(a1)],
    ];
    const Rz = [
      [Math.cos(a2), -Math.sin(a2), 0],
      [Math.sin(a2), Math.cos(a2), 0],
      [0, 0, 1],
    ];
    A = mul(mul(mul(Rz, Ry), Rx), [
      [s, 0, 0],
      [0, s, 0],
      [0, 0, s],
    ]);
  }
  return { affine: Float64Array.from(A.flat()) };
}

/** Centre crop used when neither rotation nor scaling is drawn (crop_tensor with center = S // 2). */
function centerCrop(sample: Sample, patch: [number, number, number]): Sample {
  const [D, H, W] = sample.shape;
  const [pd, ph, pw] = patch;
  const st = [Math.floor(D / 2) - Math.floor(pd / 2), Math.floor(H / 2) - Math.floor(ph / 2), Math.floor(W / 2) - Math.floor(pw / 2)] as const;
  const nOut = pd * ph * pw;
  const nIn = D * H * W;
  const image = new Float32Array(sample.channels * nOut);
  const seg = new Int16Array(nOut).fill(-1);
  for (let c = 0; c <= sample.channels; c++) {
    const src = c < sample.channels ? sample.image : sample.seg;
    const dst = c < sample.channels ? image : seg;
    const so = c < sample.channels ? c * nIn : 0;
    const dO = c < sample.channels ? c * nOut : 0;
    for (let z = 0; z < pd; z++) {
      const iz = z + st[0];
      if (iz < 0 || iz >= D) continue;
      for (let y = 0; y < ph; y++) {
        const iy = y + st[1];
        if (iy < 0 || iy >= H) continue;
        for (let x = 0; x < pw; x++) {
          const ix = x + st[2];
          if (ix < 0 || ix >= W) continue;
          dst[dO + (z * ph + y) * pw + x] = src[so + (iz * H + iy) * W + ix]!;
        }
      }
    }
  }
  return { image, seg, channels: sample.channels, shape: [...patch] };
}

/** Applies the spatial transform with the given parameters (patch size from `patch`). */
export function applySpatialTransform(sample: Sample, params: SpatialParams, patch: [number, number, number]): Sample {
  if (!params.affine) return centerCrop(sample, patch);
  const A = params.affine;
  const [D, H, W] = sample.shape;
  const [pd, ph, pw] = patch;
  const C = sample.channels;
  const nIn = numVoxels(sample.shape);
  const nOut = pd * ph * pw;
  const image = new Float32Array(C * nOut);
  const seg = new Int16Array(nOut);
  // Labels present in the input (sorted, -1 included when there is padding), as dense indices for accumulation.
  const present = new Set<number>();
  for (let i = 0; i < nIn; i++) present.add(sample.seg[i]!);
  const labels = Int16Array.from([...present].sort((a, b) => a - b));
  const labelIndex = new Map<number, number>();
  labels.forEach((l, k) => labelIndex.set(l, k));
  const segIdx = new Uint8Array(nIn);
  if (labels.length > 255) throw new RangeError(`spatial transform: ${labels.length} distinct labels in one patch (max 255)`);
  for (let i = 0; i < nIn; i++) segIdx[i] = labelIndex.get(sample.seg[i]!)!;
  const acc = new Float64Array(labels.length);
  const cz = (pd - 1) / 2,
    cy = (ph - 1) / 2,
    cx = (pw - 1) / 2;
  const oz = (D - 1) / 2,
    oy = (H - 1) / 2,
    ox = (W - 1) / 2;
  const taps = new Int32Array(8);
  const wts = new Float64Array(8);
  let o = 0;
  for (let z = 0; z < pd; z++) {
    const gz = z - cz;
    for (let y = 0; y < ph; y++) {
      const gy = y - cy;
      for (let x = 0; x < pw; x++, o++) {
        const gx = x - cx;
        const sz = A[0]! * gz + A[1]! * gy + A[2]! * gx + oz;
        const sy = A[3]! * gz + A[4]! * gy + A[5]! * gx + oy;
        const sx = A[6]! * gz + A[7]! * gy + A[8]! * gx + ox;
        const z0 = Math.floor(sz),
          y0 = Math.floor(sy),
          x0 = Math.floor(sx);
        const fz = sz - z0,
          fy = sy - y0,
          fx = sx - x0;
        let nt = 0;
        for (let k = 0; k < 8; k++) {
          const iz = z0 + (k >> 2),
            iy = y0 + ((k >> 1) & 1),
            ix = x0 + (k & 1);
          if (iz < 0 || iz >= D || iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
          const w = (k >> 2 ? fz : 1 - fz) * ((k >> 1) & 1 ? fy : 1 - fy) * (k & 1 ? fx : 1 - fx);
          if (w === 0) continue;
          taps[nt] = (iz * H + iy) * W + ix;
          wts[nt++] = w;
        }
        for (let c = 0; c < C; c++) {
          let v = 0;
          const off = c * nIn;
          for (let t = 0; t < nt; t++) v += wts[t]! * sample.image[off + taps[t]!]!;
          image[c * nOut + o] = v;
        }
        if (sz < 0 || sz > D - 1 || sy < 0 || sy > H - 1 || sx < 0 || sx > W - 1) {
          seg[o] = -1;
          continue;
        }
        acc.fill(0);
        for (let t = 0; t < nt; t++) acc[segIdx[taps[t]!]!] += wts[t]!;
        let best = 0,
          bestV = -Infinity;
        for (let k = 0; k < labels.length; k++) {
          const v = halfToFloat(floatToHalf(1000 * acc[k]!));
          if (v > bestV) {
            bestV = v;
            best = k;
          }
        }
        seg[o] = labels[best]!;
      }
    }
  }
  return { image, seg, channels: C, shape: [...patch] };
}
