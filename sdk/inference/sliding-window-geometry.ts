// Geometry of nnU-Net's sliding-window inference (inference/sliding_window_prediction.py and acvl_utils pad_nd_image):
// tile start positions per axis and centred zero padding up to the patch size. Pure integer logic, no tensors.

import { InputError } from "../errors.js";
import { roundHalfEven } from "../util/python-math.js";

export { roundHalfEven };

/**
 * Tile start positions per axis, like upstream's compute_steps_for_sliding_window: at most tile*step apart, spread
 * evenly so the last tile ends at the image border. Image 110, tile 64, step 0.5 -> [0, 23, 46].
 * @example computeStepsForSlidingWindow([110, 300, 512], [64, 192, 160], 0.5) // [[0,23,46],[0,54,108],[0,70,141,211,282,352]]
 */
export function computeStepsForSlidingWindow(imageSize: readonly number[], tileSize: readonly number[], tileStepSize: number): number[][] {
  if (!(tileStepSize > 0 && tileStepSize <= 1)) throw new InputError(`step_size must be in (0, 1], got ${tileStepSize}`);
  if (imageSize.length !== tileSize.length || imageSize.some((s, i) => s < tileSize[i]!)) {
    throw new InputError(`image size [${imageSize}] must be at least the tile size [${tileSize}] (pad first)`);
  }
  return tileSize.map((t, d) => {
    const i = imageSize[d]!;
    const n = Math.ceil((i - t) / (t * tileStepSize)) + 1;
    const step = n > 1 ? (i - t) / (n - 1) : 99999999999; // one step at 0; the value does not matter
    return Array.from({ length: n }, (_, k) => roundHalfEven(step * k));
  });
}

/** Padding of the last `patch.length` axes to at least `patch`: centred, the odd voxel at the end (pad_nd_image). */
export interface Padding {
  /** Shape after padding ([C, ...]). */
  shape: number[];
  /** Voxels added before each axis of the padded shape (0 for leading axes). */
  before: number[];
}

export function computePadding(shape: readonly number[], patch: readonly number[]): Padding {
  const lead = shape.length - patch.length;
  if (lead < 0) throw new InputError(`data of shape [${shape}] has fewer axes than patch [${patch}]`);
  const out = [...shape];
  const before = new Array<number>(shape.length).fill(0);
  patch.forEach((p, k) => {
    const d = lead + k;
    const diff = Math.max(0, p - shape[d]!);
    before[d] = Math.floor(diff / 2);
    out[d] = shape[d]! + diff;
  });
  return { shape: out, before };
}

/** Zero-pads C-order `data` of `shape` as described by `pad` (a copy; returns `data` itself when nothing is added). */
export function padData(data: Float32Array, shape: readonly number[], pad: Padding): Float32Array {
  if (pad.shape.every((s, i) => s === shape[i])) return data;
  const out = new Float32Array(pad.shape.reduce((a, b) => a * b, 1));
  copyBox(data, shape, out, pad.shape, pad.before, shape);
  return out;
}

/** Copies the region of `src` starting at `srcStart` with extent `box` into `dst` starting at `dstStart` (4-D, C-order). */
export function copyBox4(
  src: Float32Array,
  srcShape: readonly number[],
  srcStart: readonly number[],
  dst: Float32Array,
  dstShape: readonly number[],
  dstStart: readonly number[],
  box: readonly number[],
): void {
  const [, s1, s2, s3] = srcShape as [number, number, number, number];
  const [, d1, d2, d3] = dstShape as [number, number, number, number];
  for (let c = 0; c < box[0]!; c++) {
    for (let x = 0; x < box[1]!; x++) {
      for (let y = 0; y < box[2]!; y++) {
        const so = (((srcStart[0]! + c) * s1 + srcStart[1]! + x) * s2 + srcStart[2]! + y) * s3 + srcStart[3]!;
        const dO = (((dstStart[0]! + c) * d1 + dstStart[1]! + x) * d2 + dstStart[2]! + y) * d3 + dstStart[3]!;
        dst.set(src.subarray(so, so + box[3]!), dO);
      }
    }
  }
}

function copyBox(
  src: Float32Array,
  srcShape: readonly number[],
  dst: Float32Array,
  dstShape: readonly number[],
  dstStart: readonly number[],
  box: readonly number[],
): void {
  if (srcShape.length !== 4) throw new InputError(`expected data of shape [C, X, Y, Z], got [${srcShape}]`);
  copyBox4(src, srcShape, [0, 0, 0, 0], dst, dstShape, dstStart, box);
}
