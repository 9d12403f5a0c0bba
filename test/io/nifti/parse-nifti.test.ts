// parseNifti / readNifti against committed nibabel-made fixtures (test/fixtures/nifti, see make_fixtures.py), so odd
// headers are covered without python, and the parser's one-line errors.

import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { parseNifti, readNifti, scaledFloat32, scaledStats } from "../../../sdk/io/nifti/read.js";
import { formatNifti1 } from "../../../sdk/io/nifti/write.js";

const DIR = path.resolve("test/fixtures/nifti");
const FIXTURES = readdirSync(DIR)
  .filter((f) => /\.nii(\.gz)?$/.test(f))
  .sort();

interface Expected {
  shape: number[];
  dtype: string;
  affine: number[][];
  zooms: number[];
  qform_code: number;
  sform_code: number;
  values: number[];
}

describe("readNifti(file) on nibabel-written fixtures", () => {
  it("has all fixtures", () => expect(FIXTURES).toHaveLength(8));
  it.each(FIXTURES)("%s: shape, dtype, affine, zooms, codes and values equal nibabel's", async (f) => {
    const exp = JSON.parse(readFileSync(path.join(DIR, f.replace(/\.nii(\.gz)?$/, ".expected.json")), "utf8")) as Expected;
    const img = await readNifti(path.join(DIR, f));
    expect(img.shape).toEqual(exp.shape);
    expect(img.dtype).toBe(exp.dtype);
    expect(img.header.qformCode).toBe(exp.qform_code);
    expect(img.header.sformCode).toBe(exp.sform_code);
    img.affine.flat().forEach((x, i) => expect(Math.abs(x - exp.affine.flat()[i]!)).toBeLessThan(1e-6));
    expect(img.zooms).toEqual(exp.zooms);
    expect(Array.from(scaledFloat32(img))).toEqual(exp.values);
    const st = scaledStats(img);
    // exp.values are float32-rounded; the statistics are float64 like get_fdata()'s
    expect(Math.fround(st.min)).toBe(Math.min(...exp.values));
    expect(Math.fround(st.max)).toBe(Math.max(...exp.values));
  });
});

describe("parseNifti(bytes, file) errors", () => {
  const good = formatNifti1(
    new Int16Array(24),
    [2, 3, 4],
    [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ],
  );
  const patched = (fn: (dv: DataView, b: Uint8Array) => void) => {
    const b = good.slice();
    fn(new DataView(b.buffer), b);
    return b;
  };
  it.each([
    ["not NIfTI", new TextEncoder().encode("hello world, not a header at all"), /^x\.nii: not a NIfTI file/],
    ["truncated header", good.subarray(0, 200), /^x\.nii: truncated NIfTI-1 header \(200 of 348 bytes\)$/],
    ["truncated voxels", good.subarray(0, good.length - 5), /^x\.nii: truncated voxel data \(43 of 48 bytes\)$/],
    ["an Analyze file", patched((_, b) => b.set([0, 0, 0, 0], 344)), /^x\.nii: bad NIfTI-1 magic "" \(Analyze 7\.5 files are not supported\)$/],
    ["a header/image pair", patched((_, b) => b.set([0x6e, 0x69, 0x31, 0], 344)), /^x\.nii: NIfTI-1 header\/image pair/],
    ["complex data", patched((dv) => dv.setInt16(70, 32, true)), /^x\.nii: unsupported NIfTI datatype 32 \(complex64\)$/],
    ["RGB data", patched((dv) => dv.setInt16(70, 128, true)), /^x\.nii: unsupported NIfTI datatype 128 \(rgb24\)$/],
    ["a bad dim[0]", patched((dv) => dv.setInt16(40, 9, true)), /^x\.nii: invalid dim\[0\] = 9/],
    ["a zero dimension", patched((dv) => dv.setInt16(44, 0, true)), /^x\.nii: invalid dim\[2\] = 0$/],
  ])("names the file on %s", (_, bytes, re) => {
    expect(() => parseNifti(bytes, "x.nii")).toThrow(re);
  });
  it("gunzips gzip input and keeps vox_offset 0 files readable (nibabel treats it as 352)", () => {
    const b = good.slice();
    new DataView(b.buffer).setFloat32(108, 0, true);
    expect(parseNifti(gzipSync(b), "x.nii.gz").shape).toEqual([2, 3, 4]);
  });
  it("rejects a valid slope with a non-finite intercept like nibabel", () => {
    const b = formatNifti1(
      new Int16Array(24),
      [2, 3, 4],
      [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ],
      { sclSlope: 2, sclInter: NaN },
    );
    expect(() => scaledFloat32(parseNifti(b, "x.nii"), undefined, 0, "x.nii")).toThrow(/^x\.nii: valid scl_slope 2 but invalid scl_inter NaN$/);
  });
});
