// DatasetFingerprintExtractor.analyze_case + collect_foreground_intensities for one training case. Runs in a worker
// thread (sdk/util/pool.ts): input and output are structured-cloneable; the sampled intensities are transferred.

import { InputError } from "../errors.js";
import { readImages, readSeg, type ReaderWriterName } from "../io/image-io.js";
import { prod } from "../util/python-math.js";
import { RandomState } from "../util/random-state.js";
import { cropToNonzero } from "./crop-to-nonzero.js";

export interface AnalyzeCaseInput {
  id: string;
  images: string[];
  label: string | null;
  readerWriter: ReaderWriterName;
  /** Foreground intensities drawn (with replacement) per channel: int(10e7 // n_cases) upstream. */
  numSamples: number;
}

export interface AnalyzeCaseOutput {
  id: string;
  shapeBeforeCrop: number[];
  shapeAfterCrop: number[];
  /** Reader spacing (nnU-Net axis order), not transposed. */
  spacing: number[];
  /** Per channel, `numSamples` float32 intensities, or an empty array when the case has no foreground. */
  samples: Float32Array[];
  numForeground: number;
  relativeSizeAfterCropping: number;
}

const INDEX_CHUNK = 1 << 20;

/**
 * collect_foreground_intensities: one RandomState(seed) per case, shared by its channels in channel order;
 * per channel `rs.choice(foreground_pixels, numSamples, replace=True)`. Foreground = seg > 0 after cropping.
 */
export function collectForegroundIntensities(
  seg: Float32Array | Int16Array,
  data: Float32Array,
  numChannels: number,
  numSamples: number,
  seed = 1234,
): { samples: Float32Array[]; numForeground: number } {
  const n = seg.length;
  let numForeground = 0;
  for (let i = 0; i < n; i++) if (seg[i]! > 0) numForeground++;
  const fgIndex = new Int32Array(numForeground);
  for (let i = 0, k = 0; i < n; i++) if (seg[i]! > 0) fgIndex[k++] = i;
  const rs = new RandomState(seed);
  const samples: Float32Array[] = [];
  const fgValues = new Float32Array(numForeground);
  const idx = new Int32Array(Math.min(INDEX_CHUNK, Math.max(numSamples, 1)));
  for (let c = 0; c < numChannels; c++) {
    if (numForeground === 0) {
      samples.push(new Float32Array(0));
      continue;
    }
    const off = c * n;
    for (let k = 0; k < numForeground; k++) fgValues[k] = data[off + fgIndex[k]!]!;
    const out = new Float32Array(numSamples);
    for (let s = 0; s < numSamples; s += idx.length) {
      const chunk = idx.subarray(0, Math.min(idx.length, numSamples - s));
      rs.fillBounded(numForeground - 1, chunk);
      for (let k = 0; k < chunk.length; k++) out[s + k] = fgValues[chunk[k]!]!;
    }
    samples.push(out);
  }
  return { samples, numForeground };
}

function hasNaN(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== a[i]) return true;
  return false;
}

/** analyze_case: read, crop to nonzero, sample foreground intensities. */
export async function analyzeCase(input: AnalyzeCaseInput): Promise<AnalyzeCaseOutput> {
  if (input.label === null) throw new InputError(`training case ${input.id} has no label file`, { file: input.images[0] });
  const images = await readImages(input.images, input.readerWriter);
  const seg = await readSeg(input.label, input.readerWriter);
  const spatial = images.shape.slice(1);
  if (seg.shape.slice(1).join() !== spatial.join()) {
    throw new InputError(`label shape [${seg.shape.slice(1).join(", ")}] differs from image shape [${spatial.join(", ")}] of case ${input.id}`, {
      file: input.label,
    });
  }
  if (hasNaN(seg.data)) throw new InputError("segmentation contains NaN values", { file: input.label });
  if (hasNaN(images.data)) throw new InputError("image contains NaN values", { file: input.images.join(", ") });
  const crop = cropToNonzero(images.data, images.shape, seg.data);
  const numChannels = images.shape[0]!;
  const { samples, numForeground } = collectForegroundIntensities(crop.seg, crop.data, numChannels, input.numSamples);
  const shapeAfterCrop = crop.shape.slice(1);
  return {
    id: input.id,
    shapeBeforeCrop: spatial,
    shapeAfterCrop,
    spacing: images.properties.spacing,
    samples,
    numForeground,
    relativeSizeAfterCropping: prod(shapeAfterCrop) / prod(spatial),
  };
}
