import { describe, expect, it } from "vitest";
import { argsortLast, median, percentileLinear, prod, roundHalfEven } from "../../sdk/util/python-math.js";

describe("Python numerics helpers", () => {
  it.each([
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [3.5, 4],
    [-2.5, -2],
    [-1.5, -2],
    [2.4999, 2],
    [7, 7],
  ])("roundHalfEven(%d) = %d", (x, r) => {
    expect(roundHalfEven(x)).toBe(r);
  });
  it.each([
    [[1.5, 2, 3, 3, 3], 10, 1.7],
    [[1, 2, 3, 4], 50, 2.5],
    [[5, 1], 100, 5],
    [[4], 50, 4],
  ])("percentileLinear(%j, %d) = %d", (v, q, r) => {
    expect(percentileLinear(v, q)).toBe(r);
  });
  it.each([
    [[1, 2, 2], 2],
    [[3, 1, 2], 0],
    [[1, 1, 1], 2],
  ])("argsortLast(%j) = %d", (v, r) => {
    expect(argsortLast(v)).toBe(r);
  });
  it.each([
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
    [[], NaN],
  ])("median(%j) = %d", (v, r) => {
    expect(median(v)).toBe(r);
  });
  it("prod multiplies left to right and is 1 for an empty array", () => {
    expect([prod([2, 3, 4]), prod([])]).toEqual([24, 1]);
  });
});
