// sampleForegroundLocations / choiceWithoutReplacement: RNG stream identical to NumPy's RandomState.choice, keys as
// upstream's dict keys print, regions and absent classes. (Exact values on real data: run-case / like-nnssl tests.)

import { describe, expect, it } from "vitest";
import { RandomState } from "../../sdk/util/random-state.js";
import { choiceWithoutReplacement, classKey, sampleForegroundLocations } from "../../sdk/preprocessing/class-locations.js";

describe("choiceWithoutReplacement(rs, n, k) draws like RandomState.choice(n, k, replace=False)", () => {
  it.each([
    [1, 1],
    [2, 1],
    [17, 5],
    [1000, 10],
    [70_000, 700],
    [300_001, 10_000],
  ])("n=%i k=%i", (n, k) => {
    expect(Array.from(choiceWithoutReplacement(new RandomState(1234), n, k))).toEqual(Array.from(new RandomState(1234).choice(n, k, false)));
  });
});

describe("classKey(c) prints like Python's str()", () => {
  it.each([
    [1, "1"],
    [[1, 2], "(1, 2)"],
    [[3], "(3,)"],
    [[-1, 0, 1], "(-1, 0, 1)"],
  ] as const)("%j -> %s", (c, s) => {
    expect(classKey(c as number | number[])).toBe(s);
  });
});

describe("sampleForegroundLocations(seg, shape, classes)", () => {
  // 1 x 2 x 3 x 4 volume: label 1 at flat 1, 5, 9; label 2 at flat 2, 22; -1 elsewhere on the border
  const seg = new Int16Array(24);
  for (const i of [1, 5, 9]) seg[i] = 1;
  for (const i of [2, 22]) seg[i] = 2;
  seg[0] = -1;
  it("takes every voxel of small classes, in RandomState(1234) order, as [0, z, y, x]", () => {
    const locs = sampleForegroundLocations(seg, [1, 2, 3, 4], [1, 2, 3, [1, 2]]);
    const rs = new RandomState(1234);
    const flat = (l: number[]) => l[1]! * 12 + l[2]! * 4 + l[3]!;
    expect(locs["1"]!.map(flat)).toEqual(Array.from(rs.choice(3, 3, false), (o) => [1, 5, 9][o]));
    expect(locs["2"]!.map(flat)).toEqual(Array.from(rs.choice(2, 2, false), (o) => [2, 22][o]));
    expect(locs["3"]).toEqual([]); // absent: no random numbers consumed
    // a region concatenates its labels' blocks in the order it lists them
    expect(locs["(1, 2)"]!.map(flat)).toEqual(Array.from(rs.choice(5, 5, false), (o) => [1, 5, 9, 2, 22][o]));
    expect(locs["1"]![0]![0]).toBe(0);
  });
});

describe("sampleForegroundLocations on a volume larger than the sample size", () => {
  it.each([
    ["int16", Int16Array],
    ["float32", Float32Array],
  ] as const)("%s labels: picks the same voxels as listing every voxel of each label", (_n, Ctor) => {
    const [Z, Y, X] = [13, 37, 41];
    const src = new RandomState(7);
    const seg = new Ctor(Z * Y * X);
    for (let i = 0; i < seg.length; i++) seg[i] = Math.floor(src.randomSample() * 5) - 1; // -1 .. 3
    const classes = [1, 2, [3, 1], 4, [2, 2]] as const;
    const opts = { minNumSamples: 2000, minPercentCoverage: 0.3 };
    const locs = sampleForegroundLocations(seg, [1, Z, Y, X], classes, opts);
    const rs = new RandomState(1234);
    for (const c of classes) {
      const voxels = (typeof c === "number" ? [c] : [...c]).flatMap((l) => Array.from(seg.keys()).filter((i) => seg[i] === l));
      const k = voxels.length === 0 ? 0 : Math.max(Math.min(opts.minNumSamples, voxels.length), Math.ceil(voxels.length * opts.minPercentCoverage));
      const expected =
        voxels.length === 0
          ? []
          : Array.from(rs.choice(voxels.length, k, false), (o) => {
              const f = voxels[o]!;
              return [0, Math.floor(f / (X * Y)), Math.floor(f / X) % Y, f % X];
            });
      expect(locs[classKey(c)]).toEqual(expected);
    }
  });
});
