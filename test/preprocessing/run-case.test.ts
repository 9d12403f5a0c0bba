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
