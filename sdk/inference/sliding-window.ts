// Sliding-window inference, a port of nnUNetPredictor.predict_sliding_window_return_logits and its helpers
// (_internal_get_sliding_window_slicers, _internal_maybe_mirror_and_predict, _internal_predict_sliding_window_return_logits).
// Data are float32 [C, X, Y, Z] (nnU-Net axis order, C-order); the network takes and returns NC(D)HW tensors.
//
// Differences from upstream, on purpose:
// - Accumulators are float32. Upstream allocates predicted_logits and n_predictions as torch.half (on every device),
//   which rounds each accumulated tile to ~3 significant digits; float32 keeps more precision, so logits differ from
//   upstream's in the 3rd-4th digit, and an argmax can flip only where two classes are that close.
// - Several tiles go through the network per forward (`tilesPerBatch`); the network normalises per sample
//   (InstanceNorm), so batching does not change results.

import { tf } from "../backend/index.js";
import { InputError, NnsslAdaptError } from "../errors.js";
import type { ProgressCallback } from "../util/progress.js";
import { computeGaussian } from "./compute-gaussian.js";
import { computePadding, computeStepsForSlidingWindow, copyBox4, padData } from "./sliding-window-geometry.js";

/** Anything that maps an NC(D)HW batch to NC(D)HW logits; deep-supervision outputs are reduced to the first. */
export type NetworkForward = (x: tf.Tensor) => tf.Tensor | tf.Tensor[];

export interface SlidingWindowOptions {
  /** Tile size: 3 values, or 2 for a 2-D configuration on 3-D data (tiles over the last two axes, slice by slice). */
  patchSize: readonly number[];
  /** Output channels of the network (label_manager.num_segmentation_heads). */
  numHeads: number;
  /** Fraction of the tile between tile starts; default 0.5. */
  tileStepSize?: number;
  /** Weight tiles with the Gaussian importance map (default true), as upstream always does. */
  useGaussian?: boolean;
  /** Patch axes to mirror for test-time augmentation (checkpoint `inference_allowed_mirroring_axes`); null or [] = off. */
  mirrorAxes?: readonly number[] | null;
  /** Tiles per network call; default 2. */
  tilesPerBatch?: number;
  onProgress?: ProgressCallback;
}

/** Every non-empty combination of `axes` in itertools.combinations order: (0),(1),(2),(0,1),(0,2),(1,2),(0,1,2). */
export function mirrorCombinations(axes: readonly number[]): number[][] {
  const out: number[][] = [];
  const rec = (start: number, size: number, acc: number[]) => {
    if (acc.length === size) {
      out.push([...acc]);
      return;
    }
    for (let i = start; i < axes.length; i++) {
      acc.push(axes[i]!);
      rec(i + 1, size, acc);
      acc.pop();
    }
  };
  for (let size = 1; size <= axes.length; size++) rec(0, size, []);
  return out;
}

const first = (y: tf.Tensor | tf.Tensor[]): tf.Tensor => (Array.isArray(y) ? y[0]! : y);

/**
 * Network output for `x`, averaged over the mirrored versions of `x` (flipped back), like upstream's
 * _internal_maybe_mirror_and_predict: 1 + 7 passes for 3-D, 1 + 3 for 2-D. `mirrorAxes` are patch axes (0-based).
 */
export function maybeMirrorAndPredict(forward: NetworkForward, x: tf.Tensor, mirrorAxes: readonly number[] | null | undefined): tf.Tensor {
  return tf.tidy(() => {
    let pred = first(forward(x));
    if (!mirrorAxes || mirrorAxes.length === 0) return pred;
    if (Math.max(...mirrorAxes) > x.rank - 3) throw new InputError(`mirror axes [${mirrorAxes}] do not fit a ${x.rank - 2}-D input`);
    const combos = mirrorCombinations(mirrorAxes.map((m) => m + 2));
    for (const axes of combos) pred = tf.add(pred, tf.reverse(first(forward(tf.reverse(x, axes))), axes));
    return tf.div(pred, combos.length + 1);
  });
}

/** Tile origins [x, y, z] in the padded volume; for 2-D patches every slice of axis 0 with 2-D tiles over axes 1, 2. */
export function slidingWindowOrigins(paddedSpatial: readonly number[], patchSize: readonly number[], tileStepSize: number): number[][] {
  const origins: number[][] = [];
  if (patchSize.length === paddedSpatial.length - 1) {
    const [s1, s2] = computeStepsForSlidingWindow(paddedSpatial.slice(1), patchSize, tileStepSize) as [number[], number[]];
    for (let d = 0; d < paddedSpatial[0]!; d++) for (const a of s1) for (const b of s2) origins.push([d, a, b]);
  } else if (patchSize.length === paddedSpatial.length) {
    const [s0, s1, s2] = computeStepsForSlidingWindow(paddedSpatial, patchSize, tileStepSize) as [number[], number[], number[]];
    for (const a of s0) for (const b of s1) for (const c of s2) origins.push([a, b, c]);
  } else {
    throw new InputError(`patch size [${patchSize}] does not fit data with spatial shape [${paddedSpatial}]`);
  }
  return origins;
}

/**
 * Logits for a whole preprocessed case, [numHeads, X, Y, Z] with the spatial shape of `data`.
 * Tiles are batched, and the next batch is cut out of the volume while the backend runs the previous one (on
 * asynchronous backends such as tfjs-node-gpu; the pure-JS CPU backend computes on dispatch, so there it is sequential).
 */
export async function predictSlidingWindowReturnLogits(
  forward: NetworkForward,
  data: Float32Array,
  shape: readonly number[],
  opts: SlidingWindowOptions,
): Promise<Float32Array> {
  const { patchSize, numHeads, tileStepSize = 0.5, useGaussian = true, mirrorAxes = null, tilesPerBatch = 2, onProgress } = opts;
  if (shape.length !== 4) throw new InputError(`expected data of shape [C, X, Y, Z], got [${shape}]`);
  if (data.length !== shape.reduce((a, b) => a * b, 1)) throw new InputError(`data has ${data.length} values, shape [${shape}] needs more or fewer`);
  const is2d = patchSize.length === 2;
  const tile = is2d ? [1, patchSize[0]!, patchSize[1]!] : [...patchSize];
  const pad = computePadding(shape, patchSize);
  const padded = padData(data, shape, pad);
  const [C, X, Y, Z] = pad.shape as [number, number, number, number];
  const origins = slidingWindowOrigins([X, Y, Z], patchSize, tileStepSize);
  const [t0, t1, t2] = tile as [number, number, number];
  const tileVox = t0 * t1 * t2;
  const gaussian = useGaussian ? computeGaussian(patchSize) : new Float32Array(tileVox).fill(1);
  const vox = X * Y * Z;
  const logits = new Float32Array(numHeads * vox);
  const nPred = new Float32Array(vox);
  const B = Math.max(1, Math.floor(tilesPerBatch));
  const nBatches = Math.ceil(origins.length / B);

  const prepare = (b: number): { input: tf.Tensor; tiles: number[][] } => {
    const tiles = origins.slice(b * B, (b + 1) * B);
    const buf = new Float32Array(tiles.length * C * tileVox);
    tiles.forEach((o, k) => copyBox4(padded, pad.shape, [0, o[0]!, o[1]!, o[2]!], buf, [tiles.length * C, t0, t1, t2], [k * C, 0, 0, 0], [C, t0, t1, t2]));
    const input = is2d ? tf.tensor4d(buf, [tiles.length, C, t1, t2]) : tf.tensor5d(buf, [tiles.length, C, t0, t1, t2]);
    return { input, tiles };
  };

  let done = 0;
  let next = nBatches > 0 ? prepare(0) : null;
  try {
    while (next) {
      const { input, tiles } = next;
      let out: tf.Tensor;
      try {
        out = maybeMirrorAndPredict(forward, input, mirrorAxes);
      } finally {
        input.dispose();
        next = null;
      }
      next = done + tiles.length < origins.length ? prepare(Math.floor((done + tiles.length) / B)) : null;
      let pred: Float32Array;
      try {
        if (out.shape[1] !== numHeads) throw new NnsslAdaptError(`network returned ${out.shape[1]} channels, expected ${numHeads} segmentation heads`);
        pred = (await out.data()) as Float32Array;
      } finally {
        out.dispose();
      }
      tiles.forEach((o, k) => accumulateTile(pred, k, numHeads, tile, gaussian, logits, nPred, [X, Y, Z], o));
      done += tiles.length;
      onProgress?.({ task: "sliding window", done, total: origins.length });
    }
  } finally {
    // a failed batch must not leak the already prepared next one
    (next as { input: tf.Tensor } | null)?.input.dispose();
  }

  for (let h = 0; h < numHeads; h++) {
    const off = h * vox;
    for (let i = 0; i < vox; i++) {
      const v = logits[off + i]! / nPred[i]!;
      if (!Number.isFinite(v)) throw new NnsslAdaptError("encountered inf or NaN in the predicted logits; the network output is not finite");
      logits[off + i] = v;
    }
  }
  if (pad.shape.every((s, i) => s === shape[i])) return logits;
  // revert padding
  const out = new Float32Array(numHeads * shape[1]! * shape[2]! * shape[3]!);
  copyBox4(
    logits,
    [numHeads, X, Y, Z],
    [0, pad.before[1]!, pad.before[2]!, pad.before[3]!],
    out,
    [numHeads, shape[1]!, shape[2]!, shape[3]!],
    [0, 0, 0, 0],
    [numHeads, shape[1]!, shape[2]!, shape[3]!],
  );
  return out;
}

/** logits[h, tile] += pred[k, h] * gaussian; nPred[tile] += gaussian (upstream's predicted_logits[sl] += prediction). */
function accumulateTile(
  pred: Float32Array,
  k: number,
  numHeads: number,
  tile: readonly number[],
  g: Float32Array,
  logits: Float32Array,
  nPred: Float32Array,
  spatial: readonly number[],
  origin: readonly number[],
): void {
  const [t0, t1, t2] = tile as [number, number, number];
  const [, Y, Z] = spatial as [number, number, number];
  const vox = spatial[0]! * Y * Z;
  const tileVox = t0 * t1 * t2;
  for (let h = -1; h < numHeads; h++) {
    const src = (k * numHeads + Math.max(h, 0)) * tileVox;
    for (let a = 0; a < t0; a++) {
      for (let b = 0; b < t1; b++) {
        const gRow = (a * t1 + b) * t2;
        const dRow = ((origin[0]! + a) * Y + origin[1]! + b) * Z + origin[2]!;
        if (h < 0) {
          for (let c = 0; c < t2; c++) nPred[dRow + c]! += g[gRow + c]!;
        } else {
          const dst = h * vox + dRow,
            s = src + gRow;
          for (let c = 0; c < t2; c++) logits[dst + c]! += pred[s + c]! * g[gRow + c]!;
        }
      }
    }
  }
}
