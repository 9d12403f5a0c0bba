// Unlabelled volumes for MAE pretraining, preprocessed the way nnssl does for its "onemmiso" configuration: crop to the
// nonzero region, z-score the whole cropped volume per channel (no mask), resample to the pretraining spacing
// (order 3, separate-z rule). Cases are cached as .npy so a resumed run does not preprocess again.

import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { InputError } from "../errors.js";
import { readImages, type ReaderWriterName } from "../io/image-io.js";
import { readNpyFile, writeNpyFile } from "../io/npy.js";
import { cropToNonzero } from "../fingerprint/crop-to-nonzero.js";
import { computeNewShape, resampleDataOrSegToShape } from "../preprocessing/resample.js";
import { exists } from "../util/fs.js";
import type { ProgressCallback } from "../util/progress.js";

export interface PretrainVolume {
  id: string;
  data: Float32Array;
  shape: number[]; /* [C, X, Y, Z] */
}

const IMAGE_RE = /\.(nii\.gz|nii)$/;

/** Groups image files into cases: `<id>_XXXX.nii.gz` files are channels of one case; any other file is a case. */
export async function discoverPretrainCases(folders: readonly string[]): Promise<{ id: string; files: string[] }[]> {
  const byId = new Map<string, string[]>();
  for (const folder of folders) {
    for (const f of (await fsp.readdir(folder)).filter((f) => IMAGE_RE.test(f)).sort()) {
      const stem = f.replace(IMAGE_RE, "");
      const m = /^(.*)_(\d{4})$/.exec(stem);
      const id = m ? m[1]! : stem;
      byId.set(id, [...(byId.get(id) ?? []), path.join(folder, f)]);
    }
  }
  const cases = [...byId].map(([id, files]) => ({ id, files: files.sort() }));
  const nCh = new Set(cases.map((c) => c.files.length));
  if (nCh.size > 1)
    throw new InputError(`cases have different numbers of channels (${[...nCh].join(", ")}); give one channel count per run`, { file: folders[0] });
  return cases.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * The image folders to pretrain on: a plain folder of NIfTI files, or a raw nnU-Net dataset folder, whose
 * imagesTr, imagesTs and imagesUnlabelled are all used (labels are ignored: MAE needs none).
 */
export async function pretrainFolders(input: string): Promise<string[]> {
  if (!(await exists(input))) throw new InputError("input folder not found", { file: input });
  if (await exists(path.join(input, "dataset.json"))) {
    const out: string[] = [];
    for (const sub of ["imagesTr", "imagesTs", "imagesUnlabelled"]) if (await exists(path.join(input, sub))) out.push(path.join(input, sub));
    if (!out.length) throw new InputError("dataset has no imagesTr, imagesTs or imagesUnlabelled folder", { file: input });
    return out;
  }
  return [input];
}

/** nnssl's per-case preprocessing: crop to nonzero, z-score per channel over the whole crop, resample to `spacing`. */
export function preprocessForPretraining(
  data: Float32Array,
  shape: readonly number[],
  spacing: readonly number[],
  target: readonly number[],
): { data: Float32Array; shape: number[] } {
  const crop = cropToNonzero(data, shape, null);
  const [C, ...sp] = crop.shape as [number, number, number, number];
  const n = sp[0] * sp[1] * sp[2];
  for (let c = 0; c < C; c++) {
    const v = crop.data.subarray(c * n, (c + 1) * n);
    let mean = 0;
    for (let i = 0; i < n; i++) mean += v[i]!;
    mean /= n;
    let varSum = 0;
    for (let i = 0; i < n; i++) varSum += (v[i]! - mean) ** 2;
    const std = Math.max(Math.sqrt(varSum / n), 1e-8);
    for (let i = 0; i < n; i++) v[i] = (v[i]! - mean) / std;
  }
  const newShape = computeNewShape(sp, spacing, target);
  const out = resampleDataOrSegToShape(crop.data, crop.shape, newShape, spacing, target, { isSeg: false, order: 3, orderZ: 0, forceSeparateZ: null });
  return { data: out, shape: [C, ...newShape] };
}

/** Loads (from the .npy cache) or preprocesses every case. */
export async function loadPretrainVolumes(
  cases: readonly { id: string; files: string[] }[],
  cacheDir: string,
  target: readonly number[],
  { readerWriter = "NibabelIO" as ReaderWriterName, onProgress }: { readerWriter?: ReaderWriterName; onProgress?: ProgressCallback } = {},
): Promise<PretrainVolume[]> {
  const out: PretrainVolume[] = [];
  for (const [i, c] of cases.entries()) {
    const file = path.join(cacheDir, `${c.id}.npy`);
    if (await exists(file)) {
      const a = await readNpyFile(file);
      out.push({ id: c.id, data: a.data as Float32Array, shape: a.shape });
    } else {
      const img = await readImages(c.files, readerWriter);
      const p = preprocessForPretraining(img.data, img.shape, img.properties.spacing, target);
      await writeNpyFile(file, { dtype: "float32", shape: p.shape, data: p.data });
      out.push({ id: c.id, ...p });
    }
    onProgress?.({ task: "preprocess for pretraining", done: i + 1, total: cases.length, detail: { case: c.id } });
  }
  return out;
}
