// runCase against the arrays upstream's DefaultPreprocessor wrote for Dataset900_Tiny with nnUNetPlans 3d_fullres
// (test/fixtures/datasets/Dataset900_Tiny/expected/nnUNetPlans_3d_fullres/).

import { describe, expect, it } from "vitest";
import { readImages, readSeg } from "../../sdk/io/image-io.js";
import type { DatasetJson } from "../../sdk/dataset/raw.js";
import type { Plans } from "../../sdk/planning/plans.js";
import { runCase } from "../../sdk/preprocessing/default-preprocessor.js";
import { DATA_TOL, EXPECTED, TINY, maxAbsDiff, readJsonFile, readNpy } from "./helpers.js";

const CASES = ["Tiny_000", "Tiny_001", "Tiny_002", "Tiny_003", "Tiny_004"];
const datasetJson = readJsonFile<DatasetJson>(TINY + "dataset.json");

/** Runs one case of the raw dataset through runCase with `plans`, against `expectedDir/<case>*`. */
export async function checkCase(id: string, plans: Plans, expectedDir: string): Promise<void> {
  const images = await readImages([`${TINY}imagesTr/${id}_0000.nii.gz`], "NibabelIO");
  const seg = await readSeg(`${TINY}labelsTr/${id}.nii.gz`, "NibabelIO");
  const out = runCase(images, seg, plans, "3d_fullres", datasetJson);
  const expData = readNpy(`${expectedDir}${id}.npy`);
  const expSeg = readNpy(`${expectedDir}${id}_seg.npy`);
  const expProps = readJsonFile(`${expectedDir}${id}_properties.json`);
  expect(out.shape).toEqual(expData.shape);
  const { max, at } = maxAbsDiff(out.data, expData.data as Float32Array);
  expect(max, `${id}: data max |diff| ${max} at ${at}`).toBeLessThanOrEqual(DATA_TOL);
  expect(out.seg).not.toBeNull();
  expect([1, ...out.shape.slice(1)]).toEqual(expSeg.shape);
  const segDiff = maxAbsDiff(out.seg!, expSeg.data as Int16Array);
  expect(segDiff.max, `${id}: seg differs at ${segDiff.at}`).toBe(0);
  const { class_locations: locs, ...props } = out.properties;
  const { class_locations: expLocs, ...expRest } = expProps;
  expect(JSON.parse(JSON.stringify(props))).toEqual(expRest);
  expect(locs).toEqual(expLocs);
}

describe("runCase(images, seg, plans, '3d_fullres', datasetJson) reproduces upstream's nnUNetPlans_3d_fullres", () => {
  const plans = readJsonFile<Plans>(EXPECTED + "nnUNetPlans.json");
  it.each(CASES)("%s", async (id) => {
    await checkCase(id, plans, EXPECTED + "nnUNetPlans_3d_fullres/");
  });
});

describe("runCase(images, null, ...) at inference time", () => {
  it("returns the same data without a segmentation and no class_locations", async () => {
    const plans = readJsonFile<Plans>(EXPECTED + "nnUNetPlans.json");
    const images = await readImages([`${TINY}imagesTr/Tiny_003_0000.nii.gz`], "NibabelIO");
    const out = runCase(images, null, plans, "3d_fullres", datasetJson);
    const exp = readNpy(`${EXPECTED}nnUNetPlans_3d_fullres/Tiny_003.npy`);
    expect(out.seg).toBeNull();
    expect(out.properties.class_locations).toBeUndefined();
    expect(maxAbsDiff(out.data, exp.data as Float32Array).max).toBeLessThanOrEqual(DATA_TOL);
  });
});

describe("runCase(...) with a non-identity transpose_forward", () => {
  it("equals running the pre-transposed case with the identity transpose", async () => {
    const base = readJsonFile<Plans>(EXPECTED + "nnUNetPlans.json");
    const tf = [2, 0, 1];
    const images = await readImages([`${TINY}imagesTr/Tiny_004_0000.nii.gz`], "NibabelIO");
    const seg = await readSeg(`${TINY}labelsTr/Tiny_004.nii.gz`, "NibabelIO");
    // move the axes by hand: out[c, i0, i1, i2] = in[c, ...] with input axis tf[k] at position k
    const permute = (v: typeof images) => {
      const [C, ...sp] = v.shape as [number, number, number, number];
      const ns = tf.map((i) => sp[i]!);
      const st = [sp[1]! * sp[2]!, sp[2]!, 1];
      const out = new Float32Array(v.data.length);
      let p = 0;
      for (let c = 0; c < C; c++)
        for (let a = 0; a < ns[0]!; a++)
          for (let b = 0; b < ns[1]!; b++)
            for (let d = 0; d < ns[2]!; d++) {
              out[p++] = v.data[c * sp[0]! * sp[1]! * sp[2]! + a * st[tf[0]!]! + b * st[tf[1]!]! + d * st[tf[2]!]!]!;
            }
      return { data: out, shape: [C, ...ns], properties: { ...v.properties, spacing: tf.map((i) => v.properties.spacing[i]!) } };
    };
    const spacing = base.configurations["3d_fullres"]!.spacing as number[];
    const withTf = { ...base, transpose_forward: tf, transpose_backward: [1, 2, 0] };
    withTf.configurations = { "3d_fullres": { ...base.configurations["3d_fullres"], spacing: tf.map((i) => spacing[i]!) } };
    const a = runCase(images, seg, withTf, "3d_fullres", datasetJson);
    const plainTarget = { ...base, configurations: { "3d_fullres": { ...base.configurations["3d_fullres"], spacing: tf.map((i) => spacing[i]!) } } };
    const b = runCase(permute(images), permute(seg), plainTarget, "3d_fullres", datasetJson);
    expect(a.shape).toEqual(b.shape);
    expect(maxAbsDiff(a.data, b.data).max).toBe(0);
    expect(maxAbsDiff(a.seg!, b.seg!).max).toBe(0);
    expect(a.properties.bbox_used_for_cropping).toEqual(b.properties.bbox_used_for_cropping);
    expect(a.properties.spacing).toEqual(images.properties.spacing);
    expect(a.properties.class_locations).toEqual(b.properties.class_locations);
  });
});
