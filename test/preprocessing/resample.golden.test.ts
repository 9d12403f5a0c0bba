// Resampling against upstream's outputs (test/fixtures/resampling/, made with nnU-Net master, scikit-image 0.19.3 and
// scipy 1.10.1). float32 data within 1e-4 absolute (we expect ~1e-6), segmentations exactly.

import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseNpy, writeNpyFile, type NpyArray } from "../../sdk/io/npy.js";
import { computeNewShape, determineDoSeparateZAndAxis, resampleDataOrSegToShape, type ResampleArray } from "../../sdk/preprocessing/resample.js";

const DIR = fileURLToPath(new URL("../fixtures/resampling/", import.meta.url));
const index = JSON.parse(readFileSync(DIR + "index.json", "utf8"));
const DATA_TOL = 1e-4;
// Copy the file into a plain Uint8Array: parseNpy's slice of a pooled Node Buffer would otherwise view the whole pool.
const readNpyFile = (file: string) => parseNpy(new Uint8Array(readFileSync(file)), file);

interface Case {
  input: string;
  output: string;
  input_shape: number[];
  current_spacing: number[];
  new_spacing: number[];
  new_shape: number[];
  kwargs: { is_seg: boolean; order: number; order_z: number; force_separate_z: boolean | null };
  do_separate_z: boolean;
  lowres_axis: number | null;
  output_shape: number[];
  output_dtype: string;
}

/** Largest absolute difference and where it occurs. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; at: number } {
  let max = 0,
    at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= max)) {
      max = d;
      at = i;
    }
  }
  return { max, at };
}

describe("resampleDataOrSegToShape(data, shape, newShape, spacing, newSpacing, kwargs) on upstream fixtures", () => {
  it.each(Object.entries(index.cases as Record<string, Case>))("%s", async (name, c) => {
    const input = await readNpyFile(DIR + c.input);
    const expected = await readNpyFile(DIR + c.output);
    const newShape = computeNewShape(c.input_shape.slice(1), c.current_spacing, c.new_spacing);
    expect(newShape).toEqual(c.new_shape);
    const got = resampleDataOrSegToShape(input.data as ResampleArray, input.shape, newShape, c.current_spacing, c.new_spacing, {
      isSeg: c.kwargs.is_seg,
      order: c.kwargs.order,
      orderZ: c.kwargs.order_z,
      forceSeparateZ: c.kwargs.force_separate_z,
    });
    expect(got.constructor).toBe(expected.data.constructor);
    expect(got.length).toBe(expected.data.length);
    const { max, at } = maxDiff(got, expected.data as ArrayLike<number>);
    const tol = c.output_dtype === "float32" ? DATA_TOL : 0;
    if (max > tol) {
      await writeNpyFile(DIR + `${name}-changed.npy`, { dtype: expected.dtype, shape: expected.shape, data: got } as NpyArray);
    }
    expect(max, `${name}: max |diff| ${max} at flat index ${at}`).toBeLessThanOrEqual(tol);
  });
});

describe("computeNewShape(shape, spacing, target) rounds like Python", () => {
  it.each<[string, any]>(index.compute_new_shape.cases.map((c: any) => [`${c.old_shape} ${c.old_spacing} -> ${c.new_spacing}`, c]))("%s", (_n, c: any) => {
    expect(computeNewShape(c.old_shape, c.old_spacing, c.new_spacing)).toEqual(c.new_shape);
  });
});

describe("determineDoSeparateZAndAxis(force, spacing, newSpacing) decides like upstream", () => {
  it.each<[string, any]>(index.separate_z_decisions.cases.map((c: any) => [`${c.force_separate_z} ${c.current_spacing} -> ${c.new_spacing}`, c]))(
    "%s",
    (_n, c: any) => {
      expect(determineDoSeparateZAndAxis(c.force_separate_z, c.current_spacing, c.new_spacing)).toEqual({ doSeparateZ: c.do_separate_z, axis: c.axis });
    },
  );
  it.each(Object.entries(index.cases as Record<string, Case>))("fixture case %s", (_n, c) => {
    expect(determineDoSeparateZAndAxis(c.kwargs.force_separate_z, c.current_spacing, c.new_spacing)).toEqual({
      doSeparateZ: c.do_separate_z,
      axis: c.lowres_axis,
    });
  });
});
