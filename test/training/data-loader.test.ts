import { describe, it, expect } from "vitest";
import { RandomState } from "../../sdk/util/random-state.js";
import { cropAndPad, forcedForeground, generateBatch, getBbox, type CaseArrays, type LoaderConfig } from "../../sdk/training/data-loader.js";
import { batchSeed } from "../../sdk/training/batch-producer.js";
import type { TransformConfig } from "../../sdk/training/augmentation/pipeline.js";

function makeCase(id: string, shape: [number, number, number], fg: [number, number, number][]): CaseArrays {
  const n = shape[0] * shape[1] * shape[2];
  const data = Float32Array.from({ length: n }, (_, i) => i);
  const seg = new Int16Array(n);
  for (const [z, y, x] of fg) seg[(z * shape[1] + y) * shape[2] + x] = 1;
  return { id, data, seg, shape: [1, ...shape], classLocations: { "1": fg.map((v) => [0, ...v]) } };
}

const loader = (patch: [number, number, number], final: [number, number, number], bs = 2): LoaderConfig => ({
  patchSize: patch,
  finalPatchSize: final,
  batchSize: bs,
  oversampleForegroundPercent: 0.33,
  hasIgnore: false,
});

describe("forcedForeground (oversample the last 33%)", () => {
  it.each([
    [2, [false, true]],
    [12, [...Array(8).fill(false), ...Array(4).fill(true)]],
    [3, [false, false, true]],
  ] as const)("bs=%i", (bs, expected) => {
    expect(forcedForeground(bs, 0.33)).toEqual(expected);
  });
});

describe("getBbox", () => {
  it("random boxes stay within upstream's lbs/ubs (padding need split half/half)", () => {
    const rs = new RandomState(0);
    const cfg = loader([12, 12, 12], [8, 8, 8]);
    for (let k = 0; k < 200; k++) {
      const { lb, ub } = getBbox([10, 20, 30], cfg, false, {}, rs);
      expect(ub.map((u, d) => u - lb[d]!)).toEqual([12, 12, 12]);
      // need_to_pad = 4 (12 + 10 >= 12 so not enlarged): lbs = -2, ubs = shape + 2 - 12
      expect(lb[0]).toBeGreaterThanOrEqual(-2);
      expect(lb[0]).toBeLessThanOrEqual(10 + 2 - 12);
      expect(lb[2]).toBeLessThanOrEqual(30 + 2 - 12);
    }
  });
  it("a case smaller than the patch is padded symmetrically", () => {
    const { lb } = getBbox([4, 20, 20], loader([8, 8, 8], [8, 8, 8]), false, {}, new RandomState(1));
    expect(lb[0]).toBe(-2);
  });
  it("forced foreground centres the patch on a foreground voxel (clipped at lbs only)", () => {
    const rs = new RandomState(3);
    const cfg = loader([8, 8, 8], [8, 8, 8]);
    for (let k = 0; k < 50; k++) {
      const { lb, ub } = getBbox([20, 20, 20], cfg, true, { "1": [[0, 18, 2, 10]], "2": [] }, rs);
      expect(lb).toEqual([14, 0, 6]);
      expect(ub).toEqual([22, 8, 14]);
    }
  });
  it("forced foreground without any foreground falls back to a random box", () => {
    const { lb } = getBbox([20, 20, 20], loader([8, 8, 8], [8, 8, 8]), true, { "1": [] }, new RandomState(3));
    lb.forEach((l) => {
      expect(l).toBeGreaterThanOrEqual(0);
      expect(l).toBeLessThanOrEqual(12);
    });
  });
  it("with an ignore label, unforced samples use the annotated-region key", () => {
    const cfg = { ...loader([4, 4, 4], [4, 4, 4]), hasIgnore: true };
    const { lb } = getBbox([20, 20, 20], cfg, false, { "1": [[0, 1, 1, 1]], "(-1, 0, 1)": [[0, 10, 10, 10]] }, new RandomState(0));
    expect(lb).toEqual([8, 8, 8]);
  });
});

describe("cropAndPad", () => {
  it("pads image with 0 and seg with -1 outside the case", () => {
    const c = makeCase("a", [3, 3, 3], [[1, 1, 1]]);
    const s = cropAndPad(c, [-1, 0, 0], [2, 3, 3]);
    expect(s.shape).toEqual([3, 3, 3]);
    expect(Array.from(s.image.subarray(0, 9))).toEqual(Array(9).fill(0));
    expect(Array.from(s.seg.subarray(0, 9))).toEqual(Array(9).fill(-1));
    expect(s.image[9]).toBe(0);
    expect(s.image[9 + 4]).toBe(4);
    expect(s.seg[9 + 9 + 4]).toBe(1);
  });
});

describe("generateBatch", () => {
  const transforms: TransformConfig = {
    patchSize: [8, 8, 8],
    is2d: false,
    doDummy2d: false,
    rotation: [-0.5, 0.5],
    mirrorAxes: [0, 1, 2],
    maskChannels: [],
    regions: null,
    dsScales: [
      [1, 1, 1],
      [0.5, 0.5, 0.5],
    ],
  };
  const cases = new Map([
    [
      "a",
      makeCase(
        "a",
        [16, 16, 16],
        [
          [15, 15, 15],
          [14, 15, 15],
        ],
      ),
    ],
    ["b", makeCase("b", [16, 16, 16], [[0, 0, 0]])],
  ]);
  it("collates data, DS targets and forces the last sample to contain foreground", async () => {
    for (let k = 0; k < 10; k++) {
      const b = await generateBatch(["a", "b"], (id) => cases.get(id)!, new RandomState(batchSeed(5, 0, k)), loader([8, 8, 8], [8, 8, 8]), transforms, false);
      expect(b.dataShape).toEqual([2, 1, 8, 8, 8]);
      expect(b.targets.map((t) => t.shape)).toEqual([
        [2, 1, 8, 8, 8],
        [2, 1, 4, 4, 4],
      ]);
      const last = b.targets[0]!.data.subarray(512, 1024);
      expect(Array.from(last).some((v) => v === 1)).toBe(true);
    }
  });
  it("is reproducible given the seed", async () => {
    const mk = (s: number) => generateBatch(["a", "b"], (id) => cases.get(id)!, new RandomState(s), loader([12, 12, 12], [8, 8, 8]), transforms, true);
    const [x, y, z] = await Promise.all([mk(9), mk(9), mk(10)]);
    expect(Array.from(x.data)).toEqual(Array.from(y.data));
    expect(Array.from(x.data)).not.toEqual(Array.from(z.data));
    expect(batchSeed(1, 0, 1)).not.toBe(batchSeed(1, 0, 2));
    expect(batchSeed(1, 0, 1)).not.toBe(batchSeed(1, 1, 1));
  });
});
