import { describe, expect, it } from "vitest";
import { binaryFillHoles, createNonzeroMask, cropToNonzero, getBboxFromMask } from "../../sdk/fingerprint/crop-to-nonzero.js";
import { RandomState } from "../../sdk/util/random-state.js";
import { pythonSkipReason, runPython } from "../helpers/python.js";

/** A [C=2, 5, 6, 7] volume: a hollow box in channel 0 (hole at its centre), one voxel in channel 1. */
function hollowBox(): { data: Float32Array; shape: number[] } {
  const shape = [2, 5, 6, 7];
  const data = new Float32Array(2 * 5 * 6 * 7);
  const at = (c: number, x: number, y: number, z: number) => ((c * 5 + x) * 6 + y) * 7 + z;
  for (let x = 1; x <= 3; x++) for (let y = 1; y <= 3; y++) for (let z = 2; z <= 4; z++) if (!(x === 2 && y === 2 && z === 3)) data[at(0, x, y, z)] = 5;
  data[at(1, 3, 4, 5)] = -2;
  return { data, shape };
}

describe("cropToNonzero", () => {
  it("cropToNonzero fills the hole, crops to the half-open bbox over all channels and marks seg -1 outside", () => {
    const { data, shape } = hollowBox();
    const seg = new Float32Array(5 * 6 * 7);
    seg[(2 * 6 + 2) * 7 + 3] = 0; // the hole: background inside the filled mask stays 0
    seg[(1 * 6 + 1) * 7 + 2] = 2;
    const r = cropToNonzero(data, shape, seg);
    expect(r.bbox).toEqual([
      [1, 4],
      [1, 5],
      [2, 6],
    ]);
    expect(r.shape).toEqual([2, 3, 4, 4]);
    const idx = (x: number, y: number, z: number) => (x * 4 + y) * 4 + z;
    expect(r.seg[idx(1, 1, 1)]).toBe(0); // hole, filled
    expect(r.seg[idx(0, 0, 0)]).toBe(2);
    expect(r.seg[idx(0, 3, 0)]).toBe(-1);
    expect(r.seg).toBeInstanceOf(Float32Array);
    expect(r.data[3 * 4 * 4 + idx(2, 3, 3)]).toBe(-2);
  });

  it.each([["no seg gives int16 0 / -1", null, Int16Array]])("cropToNonzero with %s", (_n, seg, type) => {
    const { data, shape } = hollowBox();
    const r = cropToNonzero(data, shape, seg);
    expect(r.seg).toBeInstanceOf(type);
    expect(new Set(r.seg)).toEqual(new Set([0, -1]));
  });

  it("cropToNonzero of an all-zero image keeps the full extent", () => {
    const r = cropToNonzero(new Float32Array(24), [1, 2, 3, 4], null);
    expect([r.bbox, r.shape]).toEqual([
      [
        [0, 2],
        [0, 3],
        [0, 4],
      ],
      [1, 2, 3, 4],
    ]);
    expect(Array.from(r.seg)).toEqual(Array(24).fill(-1));
  });

  it.each([
    ["a 3-d shape", () => cropToNonzero(new Float32Array(8), [2, 2, 2], null), /expects data of shape/],
    ["a seg of the wrong size", () => cropToNonzero(new Float32Array(8), [1, 2, 2, 2], new Float32Array(7)), /seg has 7 values/],
  ])("cropToNonzero with %s throws", (_n, fn, re) => {
    expect(fn).toThrow(re);
  });

  it("cropToNonzero's mask and int16 seg agree with a voxel-wise reading of the filled mask", () => {
    // two channels whose nonzero voxels only together enclose a cavity, a seg with a non-integral value at the border
    const shape = [2, 6, 7, 8];
    const n = 6 * 7 * 8;
    const data = new Float32Array(2 * n);
    const at = (x: number, y: number, z: number) => (x * 7 + y) * 8 + z;
    for (let x = 1; x <= 4; x++)
      for (let y = 1; y <= 5; y++)
        for (let z = 1; z <= 6; z++) {
          const shell = x === 1 || x === 4 || y === 1 || y === 5 || z === 1 || z === 6;
          if (shell) data[(z % 2) * n + at(x, y, z)] = z % 3 === 0 ? -0.5 : 3;
        }
    data[at(0, 0, 0)] = NaN; // NaN is nonzero
    const seg = new Float32Array(n);
    seg[at(0, 0, 1)] = 0.25; // outside the mask but not 0: no -1, then truncated to 0 by the cast
    seg[at(2, 3, 3)] = 1;
    const filled = binaryFillHoles(createNonzeroMask(data, shape), [6, 7, 8]);
    const bbox = getBboxFromMask(filled, [6, 7, 8]);
    expect(bbox).toEqual([
      [0, 5],
      [0, 6],
      [0, 7],
    ]);
    const r = cropToNonzero(data, shape, seg, { segType: "int16" });
    expect(r.bbox).toEqual(bbox);
    expect(r.seg).toBeInstanceOf(Int16Array);
    const [[x0, x1], [y0, y1], [z0, z1]] = bbox;
    let o = 0;
    for (let x = x0; x < x1; x++)
      for (let y = y0; y < y1; y++)
        for (let z = z0; z < z1; z++, o++) {
          const i = at(x, y, z);
          expect(r.mask[o]).toBe(filled[i]);
          expect(r.seg[o]).toBe(seg[i] === 0 && !filled[i] ? -1 : Math.trunc(seg[i]!));
        }
    expect(r.mask[((2 - x0) * (y1 - y0) + 3 - y0) * (z1 - z0) + 3 - z0]).toBe(1); // the enclosed cavity
  });

  it("getBboxFromMask is half-open", () => {
    const m = new Uint8Array(27);
    m[13] = 1;
    expect(getBboxFromMask(m, [3, 3, 3])).toEqual([
      [1, 2],
      [1, 2],
      [1, 2],
    ]);
  });
});

const reason = pythonSkipReason(["scipy"]);
describe.skipIf(reason !== null)(`binaryFillHoles against scipy ${reason ?? ""}`, () => {
  it.each([
    [[9, 11, 13], 0.55, 1],
    [[1, 20, 20], 0.6, 2],
    [[16, 12, 10], 0.7, 3],
  ])("binaryFillHoles on random mask %j (p=%d)", (shape, p, seed) => {
    const rs = new RandomState(seed);
    const n = shape.reduce((a, b) => a * b);
    const mask = Uint8Array.from({ length: n }, () => (rs.randomSample() < p ? 1 : 0));
    const expected = runPython(
      `
import numpy as np, sys
from scipy.ndimage import binary_fill_holes
m = np.array([int(c) for c in sys.stdin.read().strip()], dtype=bool).reshape(${JSON.stringify(shape)})
print(''.join('1' if v else '0' for v in binary_fill_holes(m).ravel()))`,
      [],
      { input: Array.from(mask).join("") },
    ).trim();
    expect(Array.from(binaryFillHoles(mask, shape)).join("")).toBe(expected);
  });
});
