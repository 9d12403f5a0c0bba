// `nnssl-adapt image info` through the built CLI (npm test builds first), checked against nibabel.

import { execFileSync, spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { pythonSkipReason, runPythonJson } from "../helpers/python.js";

const BIN = path.resolve("bin/nnssl-adapt.js");
const TINY = path.resolve("test/fixtures/datasets/Dataset900_Tiny");
const skip = pythonSkipReason(["nibabel", "numpy"]);

const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 120_000 });

describe("nnssl-adapt image info <file> --json", () => {
  it.skipIf(skip).each(["imagesTr/Tiny_001_0000.nii.gz", "imagesTr/Tiny_003_0000.nii.gz", "imagesTr/Tiny_004_0000.nii.gz", "labelsTr/Tiny_002.nii.gz"])(
    `%s: keys and values equal nibabel's${skip ? ` (skipped: ${skip})` : ""}`,
    (rel) => {
      const file = path.join(TINY, rel);
      const out = JSON.parse(execFileSync(process.execPath, [BIN, "image", "info", file, "--json"], { encoding: "utf8" }));
      expect(Object.keys(out)).toEqual(["shape", "spacing", "dtype", "affine", "min", "max", "mean"]);
      const ref = runPythonJson<Record<string, unknown>>(
        String.raw`
import sys, json, nibabel as nib
im = nib.load(sys.argv[1]); a = im.get_fdata()
print(json.dumps({"shape": list(im.shape[::-1]), "spacing": [float(z) for z in im.header.get_zooms()[::-1]],
  "dtype": str(im.get_data_dtype()), "affine": im.affine.tolist(), "min": float(a.min()), "max": float(a.max()), "mean": float(a.mean())}))`,
        [file],
      );
      expect(out.shape).toEqual(ref.shape);
      expect(out.spacing).toEqual(ref.spacing);
      expect(out.dtype).toBe(ref.dtype);
      expect(out.affine).toEqual(ref.affine);
      expect(out.min).toBe(ref.min);
      expect(out.max).toBe(ref.max);
      expect(out.mean).toBeCloseTo(ref.mean as number, 9);
    },
  );
  it("prints a readable table without --json", () => {
    const r = cli("image", "info", path.join(TINY, "imagesTr/Tiny_003_0000.nii.gz"));
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^shape {4}\[26, 42, 40\]/m);
    expect(r.stdout).toMatch(/^dtype {4}int16$/m);
  });
  it.each([
    ["a missing file", "/nonexistent/x.nii.gz", /^nnssl-adapt: error: \/nonexistent\/x\.nii\.gz: file not found\n$/],
    ["a file that is not NIfTI", path.join(TINY, "dataset.json"), /^nnssl-adapt: error: .*dataset\.json: not a NIfTI file .*\n$/],
  ])("fails with one line on %s", (_, file, re) => {
    const r = cli("image", "info", file);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(re);
  });
});
