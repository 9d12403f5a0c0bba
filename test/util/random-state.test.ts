import { describe, expect, it } from "vitest";
import { RandomState } from "../../sdk/util/random-state.js";
import { pythonSkipReason, runPythonJson } from "../helpers/python.js";

const noNumpy = pythonSkipReason(["numpy"]);

const numpy = (code: string): unknown => runPythonJson(`import numpy as np, json\n${code}`);

describe("RandomState (vectors from numpy's RandomState)", () => {
  it.each([
    [
      "nextUint32 seed 5489",
      () => {
        const r = new RandomState(5489);
        return [r.nextUint32(), r.nextUint32()];
      },
      [3499211612, 581869302],
    ],
    ["randomSample seed 5489", () => new RandomState(5489).randomSample(), 0.8147236863931789],
    [
      "shuffle seed 12345 arange(10)",
      () => Array.from(new RandomState(12345).shuffle(Int32Array.from({ length: 10 }, (_, i) => i))),
      [0, 7, 3, 9, 6, 4, 1, 8, 5, 2],
    ],
    ["permutation seed 12345 n=10", () => Array.from(new RandomState(12345).permutation(10)), [0, 7, 3, 9, 6, 4, 1, 8, 5, 2]],
    [
      "shuffle of a plain array",
      () => new RandomState(12345).shuffle(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]),
      ["a", "h", "d", "j", "g", "e", "b", "i", "f", "c"],
    ],
  ])("%s", (_name, fn, expected) => {
    expect(fn()).toEqual(expected);
  });

  it("choice(n, k, replace) with a one-element population consumes no draws", () => {
    const r = new RandomState(7);
    expect(Array.from(r.choice(1, 4, true))).toEqual([0, 0, 0, 0]);
    expect(r.nextUint32()).toBe(new RandomState(7).nextUint32());
  });

  it.each([
    ["randint low >= high", () => new RandomState(1).randint(3, 3)],
    ["choice from empty population", () => new RandomState(1).choice(0, 2, true)],
    ["choice larger than population without replacement", () => new RandomState(1).choice(3, 4, false)],
    ["negative seed", () => new RandomState(-1)],
  ])("%s throws", (_name, fn) => {
    expect(fn).toThrow(RangeError);
  });
});

describe.skipIf(noNumpy !== null)(`RandomState against /usr/bin/python3 numpy ${noNumpy ?? ""}`, () => {
  it.each([
    [
      "randomSample seed 42",
      "r=np.random.RandomState(42); print(json.dumps([r.random_sample() for _ in range(5)]))",
      (r: RandomState) => Array.from({ length: 5 }, () => r.randomSample()),
      42,
    ],
    [
      "uniform(-3, 7) seed 3",
      "r=np.random.RandomState(3); print(json.dumps([r.uniform(-3, 7) for _ in range(5)]))",
      (r: RandomState) => Array.from({ length: 5 }, () => r.uniform(-3, 7)),
      3,
    ],
    [
      "randint(5, 1000) seed 9",
      "r=np.random.RandomState(9); print(json.dumps([int(r.randint(5, 1000)) for _ in range(20)]))",
      (r: RandomState) => Array.from({ length: 20 }, () => r.randint(5, 1000)),
      9,
    ],
    [
      "randint(0, 2**40) seed 11",
      "r=np.random.RandomState(11); print(json.dumps([int(r.randint(0, 2**40)) for _ in range(10)]))",
      (r: RandomState) => Array.from({ length: 10 }, () => r.randint(0, 2 ** 40)),
      11,
    ],
    [
      "choice(1000003, 50000, True) seed 1234",
      "r=np.random.RandomState(1234); print(json.dumps(r.choice(1000003, 50000, replace=True).tolist()))",
      (r: RandomState) => Array.from(r.choice(1000003, 50000, true)),
      1234,
    ],
    [
      "choice(37, 10, False) then random_sample seed 5",
      "r=np.random.RandomState(5); a=r.choice(37, 10, replace=False).tolist(); print(json.dumps(a + [r.random_sample()]))",
      (r: RandomState) => [...Array.from(r.choice(37, 10, false)), r.randomSample()],
      5,
    ],
    [
      "permutation(1000) seed 2**32-1",
      "r=np.random.RandomState(2**32-1); print(json.dumps(r.permutation(1000).tolist()))",
      (r: RandomState) => Array.from(r.permutation(1000)),
      2 ** 32 - 1,
    ],
    [
      "choice of an array with 2 channels sharing one generator",
      "r=np.random.RandomState(1234); a=np.arange(17); print(json.dumps(r.choice(a, 30, replace=True).tolist() + r.choice(a, 30, replace=True).tolist()))",
      (r: RandomState) => [...Array.from(r.choice(17, 30, true)), ...Array.from(r.choice(17, 30, true))],
      1234,
    ],
    [
      "standard_normal seed 7, cached across a random_sample",
      "r=np.random.RandomState(7); a=[r.standard_normal()]; a.append(r.random_sample()); a += [r.standard_normal() for _ in range(5)]; print(json.dumps(a))",
      (r: RandomState) => [r.standardNormal(), r.randomSample(), ...Array.from({ length: 5 }, () => r.standardNormal())],
      7,
    ],
  ])("%s", (_name, code, fn, seed) => {
    expect(fn(new RandomState(seed))).toEqual(numpy(code));
  });
});
