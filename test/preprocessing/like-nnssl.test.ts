// preprocessLikeNnssl against the fork's outputs for Dataset900_Tiny and the ResEncMini checkpoint, every adaptation
// mode: the ptPlans file field by field, and every case's data (1e-4), seg (exact), properties and class_locations.
// Like the fixtures were made, it runs from test/fixtures/ with -pc nnssl/nnssl_ResEncMini.pth (stored as given).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import { preprocessLikeNnssl, compareAdaptationModes } from "../../sdk/preprocessing/like-nnssl.js";
import { adaptedDataIdentifier, formatFixed2, type AdaptationMode } from "../../sdk/preprocessing/adapted-plans.js";
import { loadPreprocessedCase, listPreprocessedCases } from "../../sdk/preprocessing/preprocessed-dataset.js";
import { DATA_TOL, EXPECTED, TINY, makeTinyRoots, maxAbsDiff, readJsonFile, readNpy } from "./helpers.js";

const FIXTURES = path.resolve(TINY, "../..");
const MODES: [AdaptationMode, number[] | null][] = [
  ["default_nnunet", null],
  ["like_pretrained", null],
  ["fixed", [2.0, 1.0, 1.0]],
  ["no_resample", null],
];

let root: string;
let cwd: string;
const paths = () => ({ nnUNet_raw: path.join(root, "raw"), nnUNet_preprocessed: path.join(root, "pre") });

beforeAll(() => {
  root = makeTinyRoots("like-nnssl-", ["nnUNetPlans.json", "nnUNetResEncUNetLPlans.json", "dataset_fingerprint.json"]);
  cwd = process.cwd();
  process.chdir(FIXTURES);
});

afterAll(() => {
  process.chdir(cwd);
  rmSync(root, { recursive: true, force: true });
});

/** Every leaf of `a` and `b` compared, reporting the first differing key path. */
function expectSameJson(actual: unknown, expected: unknown, where = "$"): void {
  if (expected !== null && typeof expected === "object") {
    expect(actual !== null && typeof actual === "object", `${where} is not an object/array`).toBe(true);
    const ek = Object.keys(expected as object).sort();
    expect(Object.keys(actual as object).sort(), `keys of ${where}`).toEqual(ek);
    for (const k of ek) expectSameJson((actual as any)[k], (expected as any)[k], `${where}.${k}`);
  } else {
    expect(actual, where).toEqual(expected);
  }
}

describe("preprocessLikeNnssl(900, ckpt, { name, mode }) reproduces the fork's ptPlans and arrays", () => {
  it.each(MODES)("%s", async (mode, os_) => {
    const expDir = path.join(EXPECTED, "nnssl", mode);
    const expPlansFile = readdirSync(expDir).find((f) => f.startsWith("ptPlans__"))!;
    const expPlans = readJsonFile(path.join(expDir, expPlansFile));
    const res = await preprocessLikeNnssl(900, "nnssl/nnssl_ResEncMini.pth", {
      name: "ResEncMini_public",
      mode,
      overrideSpacing: os_,
      numWorkers: 1,
      paths: paths(),
    });
    expect(path.basename(res.plansFile)).toBe(expPlansFile);
    expectSameJson(JSON.parse(readFileSync(res.plansFile, "utf8")), expPlans);
    // the fork's save_json layout (sort_keys, indent 4, Python float repr) is reproduced byte for byte
    expect(readFileSync(res.plansFile, "utf8")).toBe(readFileSync(path.join(expDir, expPlansFile), "utf8"));
    const dataFolder = path.join(paths().nnUNet_preprocessed, "Dataset900_Tiny", expPlans.configurations["3d_fullres"].data_identifier);
    const ids = await listPreprocessedCases(dataFolder);
    expect(ids).toEqual(["Tiny_000", "Tiny_001", "Tiny_002", "Tiny_003", "Tiny_004"]);
    expect(res.cases.numRows()).toBe(5);
    for (const id of ids) {
      const got = await loadPreprocessedCase(dataFolder, id);
      const expData = readNpy(path.join(expDir, expPlans.configurations["3d_fullres"].data_identifier, `${id}.npy`));
      const expSeg = readNpy(path.join(expDir, expPlans.configurations["3d_fullres"].data_identifier, `${id}_seg.npy`));
      const expProps = readJsonFile(path.join(expDir, expPlans.configurations["3d_fullres"].data_identifier, `${id}_properties.json`));
      expect(got.shape, `${mode} ${id} shape`).toEqual(expData.shape);
      const d = maxAbsDiff(got.data, expData.data as Float32Array);
      expect(d.max, `${mode} ${id}: data max |diff| ${d.max} at ${d.at}`).toBeLessThanOrEqual(DATA_TOL);
      const s = maxAbsDiff(got.seg!, expSeg.data as Int16Array);
      expect(s.max, `${mode} ${id}: seg differs at ${s.at}`).toBe(0);
      expectSameJson(got.properties, expProps, `${mode}.${id}.properties`);
    }
  });

  it("a re-run skips finished cases and reports them from the stored files", async () => {
    const res = await preprocessLikeNnssl(900, "nnssl/nnssl_ResEncMini.pth", {
      name: "ResEncMini_public",
      mode: "like_pretrained",
      numWorkers: 1,
      paths: paths(),
    });
    const rows = res.cases.objects() as { skipped: boolean; new_shape: number[] }[];
    expect(rows.every((r) => r.skipped)).toBe(true);
    expect(rows[0]!.new_shape).toEqual(readNpy(path.join(EXPECTED, "nnssl/like_pretrained/Spacing__1.00_1.00_1.00___Norm__Z/Tiny_000.npy")).shape.slice(1));
  });
});

describe("compareAdaptationModes(ds, ckpt) summarises each mode without writing", () => {
  it("matches the shapes the preprocessing produced", async () => {
    const rows = await compareAdaptationModes(900, "nnssl/nnssl_ResEncMini.pth", { overrideSpacing: [2, 1, 1], paths: paths() });
    expect(rows.map((r) => r.mode)).toEqual(["fixed", "default_nnunet", "no_resample", "like_pretrained"]);
    for (const r of rows) {
      const dir = path.join(EXPECTED, "nnssl", r.mode, r.dataIdentifier);
      const shapes = ["Tiny_000", "Tiny_001", "Tiny_002", "Tiny_003", "Tiny_004"].map((id) => readNpy(path.join(dir, `${id}.npy`)).shape.slice(1));
      const med = [0, 1, 2].map((a) => {
        const v = shapes.map((s) => s[a]!).sort((x, y) => x - y);
        return v[2]!;
      });
      expect(r.medianShape, r.mode).toEqual(med);
      expect(r.patchSize).toEqual([32, 32, 32]);
      expect(r.patchCoverage).toBeCloseTo(med.reduce((a, m) => a * Math.min(32, m), 1) / med.reduce((a, b) => a * b, 1), 12);
    }
  });
});

describe("formatFixed2(x) / adaptedDataIdentifier(spacing, channels) format like Python's %.2f", () => {
  it.each([
    [1.7, "1.70"],
    [0.800000011920929, "0.80"],
    [0.625, "0.62"],
    [0.375, "0.38"],
    [0.125, "0.12"],
    [2.675, "2.67"],
    [1, "1.00"],
  ])("%s -> %s", (x, s) => {
    expect(formatFixed2(x)).toBe(s);
  });
  it("writes None for null and one Z per channel", () => {
    expect(adaptedDataIdentifier([null, null, null], 2)).toBe("Spacing__None_None_None___Norm__Z_Z");
  });
});
