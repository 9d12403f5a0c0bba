// nnUNetDataLoader (training/dataloading/data_loader.py): draws the case keys of a batch, forces the last 33% of the
// samples to contain foreground (from the preprocessed `class_locations`), computes the crop box like `get_bbox`
// (the enlarged train patch may reach outside the case), crops with padding (image 0, seg -1) and applies the
// transforms. Works on typed arrays only, so it runs unchanged inside worker threads.

import type { RandomState } from "../util/random-state.js";
import { InputError } from "../errors.js";
import type { Sample } from "./augmentation/sample.js";
import { applyTrainingTransforms, applyValidationTransforms, type SampleTargets, type TransformConfig } from "./augmentation/pipeline.js";

/** One preprocessed case in memory: (C, Z, Y, X) float32 data, (1, Z, Y, X) int16 seg and its class locations. */
export interface CaseArrays {
  id: string;
  data: Float32Array;
  seg: Int16Array;
  /** [C, Z, Y, X] (2D/3D alike). */
  shape: number[];
  /** class_locations as stored: key (label, or region/annotated tuple as a string) -> rows [0, z, y, x]. */
  classLocations: Record<string, number[][]>;
}

export interface LoaderConfig {
  /** Crop size: the enlarged initial patch for training, the final patch for validation ([D,H,W]; 2D: [1,H,W]). */
  patchSize: [number, number, number];
  finalPatchSize: [number, number, number];
  batchSize: number;
  oversampleForegroundPercent: number;
  /** True when the dataset has an ignore label (the annotated-region key in class_locations is then used). */
  hasIgnore: boolean;
}

/** A collated batch: data (B, C, ...final patch) and one target array per DS scale (B, 1 or R, ...). */
export interface Batch {
  data: Float32Array;
  dataShape: number[];
  targets: { data: Int16Array | Uint8Array; shape: number[] }[];
  keys: string[];
}

/** `_oversample_last_XX_percent`: sample j is forced foreground iff j >= round(bs * (1 - p)). */
export function forcedForeground(batchSize: number, p: number): boolean[] {
  const r = pyRoundHalfEven(batchSize * (1 - p));
  return Array.from({ length: batchSize }, (_, j) => !(j < r));
}

function pyRoundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const isAnnotatedKey = (k: string) => /^\(\s*-1\s*,/.test(k);

/** get_bbox(data_shape, force_fg, class_locations): lower/upper crop bounds per spatial axis (ub exclusive). */
export function getBbox(
  shape: readonly number[],
  cfg: LoaderConfig,
  forceFg: boolean,
  classLocations: Record<string, number[][]>,
  rs: RandomState,
): { lb: number[]; ub: number[] } {
  const dim = shape.length;
  const patch = cfg.patchSize;
  const needToPad = patch.map((p, d) => p - cfg.finalPatchSize[d]!);
  for (let d = 0; d < dim; d++) if (needToPad[d]! + shape[d]! < patch[d]!) needToPad[d] = patch[d]! - shape[d]!;
  const lbs = needToPad.map((n) => Math.floor(-n / 2) + 0); // + 0: no -0 in the bounds
  const ubs = shape.map((s, d) => s + Math.floor(needToPad[d]! / 2) + (needToPad[d]! % 2) - patch[d]!);
  let voxels: number[][] | null = null;
  if (!forceFg && cfg.hasIgnore) {
    const key = Object.keys(classLocations).find(isAnnotatedKey);
    voxels = key !== undefined && classLocations[key]!.length > 0 ? classLocations[key]! : null;
  } else if (forceFg) {
    const eligible = Object.keys(classLocations).filter((k) => classLocations[k]!.length > 0);
    const ann = eligible.findIndex(isAnnotatedKey);
    if (ann >= 0 && eligible.length > 1) eligible.splice(ann, 1);
    if (eligible.length > 0) voxels = classLocations[eligible[rs.choice(eligible.length, 1)[0]!]!]!;
  }
  let lb: number[];
  if (voxels && voxels.length > 0) {
    const v = voxels[rs.choice(voxels.length, 1)[0]!]!;
    // Upstream clips at the lower bound only: a voxel near the far edge gives a crop that reaches into the padding.
    lb = Array.from({ length: dim }, (_, d) => Math.max(lbs[d]!, v[d + 1]! - Math.floor(patch[d]! / 2)));
  } else {
    lb = Array.from({ length: dim }, (_, d) => rs.randint(lbs[d]!, ubs[d]! + 1));
  }
  return { lb, ub: lb.map((l, d) => l + patch[d]!) };
}

/** crop_and_pad_nd: the box [lb, ub) of every channel, zeros (image) and -1 (seg) outside the case. */
export function cropAndPad(c: CaseArrays, lb: readonly number[], ub: readonly number[]): Sample {
  const [C, Z, Y, X] = c.shape as [number, number, number, number];
  const [pd, ph, pw] = [ub[0]! - lb[0]!, ub[1]! - lb[1]!, ub[2]! - lb[2]!];
  const nOut = pd * ph * pw;
  const nIn = Z * Y * X;
  const image = new Float32Array(C * nOut);
  const seg = new Int16Array(nOut).fill(-1);
  const x0 = Math.max(0, lb[2]!),
    x1 = Math.min(X, ub[2]!);
  for (let z = Math.max(0, lb[0]!); z < Math.min(Z, ub[0]!); z++) {
    for (let y = Math.max(0, lb[1]!); y < Math.min(Y, ub[1]!); y++) {
      if (x1 <= x0) continue;
      const src = (z * Y + y) * X;
      const dst = ((z - lb[0]!) * ph + (y - lb[1]!)) * pw + (x0 - lb[2]!);
      for (let ch = 0; ch < C; ch++) image.set(c.data.subarray(ch * nIn + src + x0, ch * nIn + src + x1), ch * nOut + dst);
      seg.set(c.seg.subarray(src + x0, src + x1), dst);
    }
  }
  return { image, seg, channels: C, shape: [pd, ph, pw] };
}

/** Reads a case's spatial shape as [Z, Y, X]; 2D configurations crop one slice, so their patch has depth 1. */
function spatial(c: CaseArrays): number[] {
  if (c.shape.length !== 4) throw new InputError(`expected data of shape (C, Z, Y, X), got [${c.shape}]`, { file: `${c.id}.npy` });
  return c.shape.slice(1);
}

/**
 * Builds one batch: keys drawn with replacement, the last samples forced foreground, crop, transforms, collate.
 * `getCase` returns the case arrays (cached by the caller). With `train` false the validation transforms are used.
 */
export async function generateBatch(
  identifiers: readonly string[],
  getCase: (id: string) => Promise<CaseArrays> | CaseArrays,
  rs: RandomState,
  loader: LoaderConfig,
  transforms: TransformConfig,
  train: boolean,
): Promise<Batch> {
  const keyIdx = rs.choice(identifiers.length, loader.batchSize, true);
  const keys = Array.from(keyIdx, (i) => identifiers[i]!);
  const force = forcedForeground(loader.batchSize, loader.oversampleForegroundPercent);
  const samples: SampleTargets[] = [];
  for (let j = 0; j < keys.length; j++) {
    const c = await getCase(keys[j]!);
    const { lb, ub } = getBbox(spatial(c), loader, force[j]!, c.classLocations, rs);
    const crop = cropAndPad(c, lb, ub);
    samples.push(train ? applyTrainingTransforms(crop, rs, transforms) : applyValidationTransforms(crop, transforms));
  }
  const C = samples[0]!.image.length / (transforms.patchSize[0] * transforms.patchSize[1] * transforms.patchSize[2]);
  const n = samples[0]!.image.length;
  const data = new Float32Array(keys.length * n);
  samples.forEach((s, j) => data.set(s.image, j * n));
  const targets = samples[0]!.targets.map((t0, k) => {
    const m = t0.data.length;
    const out = new (t0.data.constructor as { new (n: number): Int16Array | Uint8Array })(keys.length * m);
    samples.forEach((s, j) => out.set(s.targets[k]!.data, j * m));
    return { data: out, shape: [keys.length, ...t0.shape] };
  });
  return { data, dataShape: [keys.length, C, ...transforms.patchSize], targets, keys };
}
