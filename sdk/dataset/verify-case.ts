// Per-case part of verify_dataset_integrity (upstream's verify_labels + check_cases), run in worker threads by
// verifyDatasetIntegrity. Returns problems as lines naming the file instead of printing them.

import { readImages, readSeg, type ImageVolume, type ReaderWriterName } from "../io/image-io.js";

export interface CaseCheckInput {
  identifier: string;
  images: string[];
  label: string;
  numChannels: number;
  readerWriter: ReaderWriterName;
  expectedLabels: number[];
}

export interface CaseCheckResult {
  problems: string[];
  warnings: string[];
}

const allclose = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((v, i) => Math.abs(v - b[i]!) <= 1e-8 + 1e-5 * Math.abs(b[i]!));

const list = (v: readonly number[]) => `[${v.map((x) => +x.toPrecision(6)).join(", ")}]`;

/** Values found in a float32 label volume, sorted (upstream: np.sort(pd.unique(seg.ravel()))). */
function uniqueValues(data: Float32Array): number[] {
  const seen = new Set<number>();
  let prev = NaN;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v === prev) continue;
    prev = v;
    seen.add(v);
  }
  return [...seen].sort((a, b) => a - b);
}

function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return data[i]!;
  return 0;
}

export async function checkCase(input: CaseCheckInput): Promise<CaseCheckResult> {
  const { images, label, numChannels, readerWriter: rw, expectedLabels } = input;
  const problems: string[] = [];
  const warnings: string[] = [];
  let img: ImageVolume | null = null;
  let seg: ImageVolume | null = null;
  try {
    img = await readImages(images, rw);
  } catch (err) {
    problems.push((err as Error).message);
  }
  try {
    seg = await readSeg(label, rw);
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (seg) {
    const found = uniqueValues(seg.data);
    const bad = found.filter((v) => !expectedLabels.includes(v));
    if (bad.length) problems.push(`${label}: unexpected label values ${list(bad)} (declared: ${list(expectedLabels)})`);
    if (found.length === 1 && found[0] === 0) warnings.push(`${label}: only has label 0 (background)`);
  }
  if (img) {
    const bad = firstNonFinite(img.data);
    if (bad !== 0) problems.push(`${images[0]}${images.length > 1 ? ` (or another channel of ${input.identifier})` : ""}: image contains ${bad} values`);
    if (img.shape[0] < numChannels && images.length < numChannels && /_0000\.[^/\\]+$/.test(images[0]!)) {
      // most likely a channel file is missing (a file can hold several channels, so this shows only once read)
      const next = images[0]!.replace(/_0000(\.[^/\\]+)$/, `_${String(images.length).padStart(4, "0")}$1`);
      problems.push(
        `${next}: channel file of case ${input.identifier} not found (its files hold ${img.shape[0]} channel(s), dataset.json declares ${numChannels})`,
      );
    } else if (img.shape[0] !== numChannels) {
      problems.push(`${images[0]}: case ${input.identifier} has ${img.shape[0]} channel(s), dataset.json declares ${numChannels}`);
    }
  }
  if (img && seg) {
    const si = img.shape.slice(1),
      ss = seg.shape.slice(1);
    if (si.length !== ss.length || si.some((v, i) => v !== ss[i])) {
      problems.push(`${label}: shape ${list(ss)} differs from the image shape ${list(si)} of ${images[0]}`);
    }
    if (!allclose(seg.properties.spacing, img.properties.spacing)) {
      problems.push(`${label}: spacing ${list(seg.properties.spacing)} differs from the image spacing ${list(img.properties.spacing)} of ${images[0]}`);
    }
    const ai = img.properties.nibabel_stuff?.original_affine,
      as = seg.properties.nibabel_stuff?.original_affine;
    if (ai && as && !allclose(as.flat(), ai.flat())) {
      problems.push(
        `${label}: affine ${JSON.stringify(as.map((r) => r.map((x) => +x.toPrecision(6))))} differs from the image affine ${JSON.stringify(ai.map((r) => r.map((x) => +x.toPrecision(6))))} of ${images[0]}`,
      );
    }
    let ki = img.properties.sitk_stuff;
    const ks = seg.properties.sitk_stuff;
    if (ki && ks && ki.origin.length === 4 && ks.origin.length === 3) {
      // a 4-d image (channels last) with a 3-d label: compare the spatial part (upstream's allclose would not broadcast)
      const d = ki.direction;
      ki = { spacing: ki.spacing.slice(0, 3), origin: ki.origin.slice(0, 3), direction: [0, 1, 2].flatMap((r) => [0, 1, 2].map((c) => d[4 * r + c]!)) };
    }
    if (ki && ks) {
      if (!allclose(ks.origin, ki.origin))
        problems.push(`${label}: origin ${list(ks.origin)} differs from the image origin ${list(ki.origin)} of ${images[0]}`);
      if (!allclose(ks.direction, ki.direction))
        problems.push(`${label}: direction ${list(ks.direction)} differs from the image direction ${list(ki.direction)} of ${images[0]}`);
    }
  }
  return { problems, warnings };
}
