import { describe, it, expect } from "vitest";
import { mkdtempSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  convertPredictedLogitsToSegmentationWithCorrectShape,
  exportPredictionFromLogits,
  transposeArray,
  type ExportProperties,
} from "../../sdk/inference/export.js";
import { readSeg } from "../../sdk/io/image-io.js";
import type { ConfigurationPlan, Plans } from "../../sdk/planning/plans.js";
import { pythonSkipReason, runPythonJson } from "../helpers/python.js";

// Source image (nnU-Net order) [X, Y, Z] = [6, 5, 7]; transpose_forward [2, 0, 1] makes it [7, 6, 5].
const SRC = [6, 5, 7];
const TF = [2, 0, 1],
  TB = [1, 2, 0];
const label = (x: number, y: number, z: number) => ((x + 2 * y + 3 * z) % 4 === 0 ? 1 : (x * y) % 5 === 1 ? 2 : 0);
// crop in the transposed space: axis0 (src z) 1..6, axis1 (src x) 2..6, axis2 (src y) 0..4
const BBOX = [
  [1, 6],
  [2, 6],
  [0, 4],
];
const CROP = BBOX.map(([a, b]) => b! - a!);

function plansFor(spacing: number[]): { plans: Plans; conf: ConfigurationPlan } {
  const conf = {
    spacing,
    patch_size: [4, 4, 4],
    resampling_fn_probabilities_kwargs: { is_seg: false, order: 1, order_z: 0, force_separate_z: null },
  } as unknown as ConfigurationPlan;
  const plans = {
    transpose_forward: TF,
    transpose_backward: TB,
    image_reader_writer: "SimpleITKIO",
    configurations: { "3d_fullres": conf },
  } as unknown as Plans;
  return { plans, conf };
}

/** One-hot-ish logits of the cropped, transposed label volume: the true label gets 2, the others -1 / 0.5. */
function logitsOfCrop(H: number): Float32Array {
  const [a, b, c] = CROP as [number, number, number];
  const out = new Float32Array(H * a * b * c);
  for (let i = 0; i < a; i++)
    for (let j = 0; j < b; j++)
      for (let k = 0; k < c; k++) {
        // transposed (i, j, k) -> source (x, y, z): x = axis1, y = axis2, z = axis0
        const l = label(j + BBOX[1]![0]!, k + BBOX[2]![0]!, i + BBOX[0]![0]!);
        for (let h = 0; h < H; h++) out[((h * a + i) * b + j) * c + k] = h === l ? 2 : h === 0 ? 0.5 : -1;
      }
  return out;
}

const properties: ExportProperties = {
  spacing: [1.5, 1, 2], // source order; transposed: [2, 1.5, 1]
  shape_before_cropping: TF.map((i) => SRC[i]!),
  bbox_used_for_cropping: BBOX,
  shape_after_cropping_and_before_resampling: CROP,
  sitk_stuff: { spacing: [2, 1, 1.5], origin: [10, -4, 3], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] },
};
const labels = { hasRegions: false, foregroundLabels: [1, 2] };

describe("convertPredictedLogitsToSegmentationWithCorrectShape", () => {
  const { plans, conf } = plansFor([2, 1.5, 1]);

  it("puts labels back where they were: crop reverted, transpose reverted", () => {
    const r = convertPredictedLogitsToSegmentationWithCorrectShape(logitsOfCrop(3), [3, ...CROP], plans, conf, labels, properties);
    expect(r.shape).toEqual(SRC);
    let wrong = 0,
      inside = 0;
    for (let x = 0; x < 6; x++)
      for (let y = 0; y < 5; y++)
        for (let z = 0; z < 7; z++) {
          const inCrop = z >= 1 && z < 6 && x >= 2 && x < 6 && y >= 0 && y < 4;
          const expected = inCrop ? label(x, y, z) : 0;
          if (inCrop) inside++;
          if (r.segmentation[(x * 5 + y) * 7 + z] !== expected) wrong++;
        }
    expect(inside).toBe(5 * 4 * 4);
    expect(wrong).toBe(0);
    expect(r.segmentation).toBeInstanceOf(Uint8Array);
  });

  it("breaks argmax ties towards the first class, like numpy", () => {
    const n = CROP.reduce((a, b) => a * b, 1);
    const r = convertPredictedLogitsToSegmentationWithCorrectShape(new Float32Array(3 * n).fill(1), [3, ...CROP], plans, conf, labels, properties);
    expect(r.segmentation.every((v) => v === 0)).toBe(true);
  });

  it("regions: sigmoid > 0.5 in regions_class_order, later regions overwrite earlier", () => {
    const n = CROP.reduce((a, b) => a * b, 1);
    const lg = new Float32Array(2 * n).fill(-3);
    lg.fill(4, 0, 10); // region 0 (class 1) on the first 10 voxels
    lg.fill(4, n + 5, n + 20); // region 1 (class 2) on voxels 5..19
    lg[n + 30] = 1e-9; // sigmoid(1e-9) == 0.5 in float32: not foreground
    const r = convertPredictedLogitsToSegmentationWithCorrectShape(
      lg,
      [2, ...CROP],
      plans,
      conf,
      { hasRegions: true, foregroundLabels: [1, 2], regionsClassOrder: [1, 2] },
      properties,
    );
    const back = transposeArray(r.segmentation, SRC, TF); // into transposed space [7, 6, 5]
    const at = (f: number) => {
      const [, b, c] = CROP as [number, number, number];
      const i = Math.floor(f / (b * c)),
        j = Math.floor(f / c) % b,
        k = f % c;
      return back[((i + 1) * 6 + j + 2) * 5 + k];
    };
    expect([0, 4, 5, 9, 10, 19, 20, 30].map(at)).toEqual([1, 1, 2, 2, 2, 2, 0, 0]);
  });

  it("probabilities: softmax, background 1 outside the crop, transposed back", () => {
    const r = convertPredictedLogitsToSegmentationWithCorrectShape(logitsOfCrop(3), [3, ...CROP], plans, conf, labels, properties, {
      returnProbabilities: true,
    });
    const p = r.probabilities!;
    const n = 6 * 5 * 7;
    expect(p.length).toBe(3 * n);
    expect([p[0], p[n], p[2 * n]]).toEqual([1, 0, 0]); // (0,0,0) is outside the crop
    const i = (3 * 5 + 2) * 7 + 2; // (3, 2, 2) inside
    const l = label(3, 2, 2);
    const e = [Math.exp(l === 0 ? 2 : 0.5), Math.exp(l === 1 ? 2 : -1), Math.exp(l === 2 ? 2 : -1)];
    const s = e[0]! + e[1]! + e[2]!;
    for (let h = 0; h < 3; h++) expect(p[h * n + i]).toBeCloseTo(e[h]! / s, 6);
  });

  it("resamples logits back to the cropped shape when the spacing changed", () => {
    // network space at half resolution along axis 0: 3 slices for the 5 original ones (constant logits per class)
    const { plans: p2, conf: c2 } = plansFor([(2 * 5) / 3, 1.5, 1]);
    const [, b, c] = CROP as [number, number, number];
    const lg = new Float32Array(3 * 3 * b * c);
    lg.fill(1, 2 * 3 * b * c); // class 2 everywhere
    const r = convertPredictedLogitsToSegmentationWithCorrectShape(lg, [3, 3, b, c], p2, c2, labels, properties);
    expect(r.shape).toEqual(SRC);
    expect(Array.from(r.segmentation as ArrayLike<number>).reduce((a, v) => a + (v === 2 ? 1 : 0), 0)).toBe(5 * 4 * 4);
  });
});

describe("exportPredictionFromLogits", () => {
  const { plans, conf } = plansFor([2, 1.5, 1]);
  const dir = mkdtempSync(path.join(tmpdir(), "export-"));

  it("writes the segmentation with the source geometry, and no temporary files", async () => {
    await exportPredictionFromLogits(logitsOfCrop(3), [3, ...CROP], properties, conf, plans, labels, ".nii.gz", path.join(dir, "case_001"));
    const back = await readSeg(path.join(dir, "case_001.nii.gz"));
    expect(back.shape).toEqual([1, ...SRC]);
    expect(back.properties.spacing).toEqual(properties.spacing);
    expect(back.properties.sitk_stuff!.origin.map((v) => Math.round(v * 1e4) / 1e4)).toEqual([10, -4, 3]);
    expect(back.data[(3 * 5 + 2) * 7 + 2]).toBe(label(3, 2, 2));
    expect(readdirSync(dir).filter((f) => f.startsWith("."))).toEqual([]);
  });

  const skip = pythonSkipReason(["numpy"]);
  it.skipIf(skip !== null)(`writes probabilities as an .npz numpy can load, and properties as JSON ${skip ?? ""}`, async () => {
    await exportPredictionFromLogits(logitsOfCrop(3), [3, ...CROP], properties, conf, plans, labels, ".nii.gz", path.join(dir, "case_002"), {
      saveProbabilities: true,
    });
    expect(existsSync(path.join(dir, "case_002.json"))).toBe(true);
    const info = runPythonJson<{ keys: string[]; shape: number[]; dtype: string; sum0: number; argmax: number[] }>(
      `
import json, sys, numpy as np
z = np.load(sys.argv[1])
p = z['probabilities']
print(json.dumps({'keys': list(z.keys()), 'shape': list(p.shape), 'dtype': str(p.dtype), 'sum0': float(p.sum(0).mean()), 'argmax': p.argmax(0).ravel()[:40].tolist()}))`,
      [path.join(dir, "case_002.npz")],
    );
    expect(info.keys).toEqual(["probabilities"]);
    expect(info.shape).toEqual([3, ...SRC]);
    expect(info.dtype).toBe("float32");
    expect(info.sum0).toBeCloseTo(1, 5);
    const seg = await readSeg(path.join(dir, "case_002.nii.gz"));
    expect(info.argmax).toEqual(Array.from(seg.data.subarray(0, 40)));
  });
});
