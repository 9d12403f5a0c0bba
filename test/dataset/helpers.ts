// Builds small raw datasets on disk for dataset tests: every case is a 6 x 5 x 4 volume with a cube label.

import { mkdtempSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { writeNifti } from "../../sdk/io/nifti/write.js";
import type { Mat4 } from "../../sdk/io/nifti/affine.js";

export const SHAPE = [6, 5, 4];
export const AFFINE: Mat4 = [
  [-0.8, 0, 0, 10],
  [0, -0.8, 0, 20],
  [0, 0, 3, -5],
  [0, 0, 0, 1],
];

export function tempRoot(prefix = "nnssl-ds-"): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export function image(fill = (i: number) => (i % 7) * 10 + 1): Float32Array {
  return Float32Array.from({ length: SHAPE.reduce((a, b) => a * b, 1) }, (_, i) => fill(i));
}

export function label(values: number[] = [0, 1, 2]): Uint8Array {
  const n = SHAPE.reduce((a, b) => a * b, 1);
  return Uint8Array.from({ length: n }, (_, i) => values[i % values.length]!);
}

export interface CaseSpec {
  id: string;
  channels?: number;
  /** Set to null to omit the label file. */
  label?: Uint8Array | null;
}

/** Writes Dataset<id>_<name> with dataset.json (overridable) and the cases. Returns the dataset folder. */
export async function makeDataset(root: string, name: string, cases: CaseSpec[], json: Record<string, unknown> = {}): Promise<string> {
  const folder = path.join(root, name);
  mkdirSync(path.join(folder, "imagesTr"), { recursive: true });
  mkdirSync(path.join(folder, "labelsTr"), { recursive: true });
  const datasetJson = {
    channel_names: { "0": "MR" },
    labels: { background: 0, a: 1, b: 2 },
    numTraining: cases.length,
    file_ending: ".nii.gz",
    ...json,
  };
  writeFileSync(path.join(folder, "dataset.json"), JSON.stringify(datasetJson, null, 4));
  for (const c of cases) {
    for (let k = 0; k < (c.channels ?? 1); k++) {
      await writeNifti(path.join(folder, "imagesTr", `${c.id}_${String(k).padStart(4, "0")}.nii.gz`), image(), SHAPE, AFFINE);
    }
    if (c.label !== null) await writeNifti(path.join(folder, "labelsTr", `${c.id}.nii.gz`), c.label ?? label(), SHAPE, AFFINE);
  }
  return folder;
}
