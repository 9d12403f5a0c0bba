import { describe, expect, it } from "vitest";
import { LabelManager } from "../../sdk/dataset/labels.js";

describe("new LabelManager(labels, regionsClassOrder)", () => {
  it("plain labels: all/foreground labels and one head per label", () => {
    const lm = new LabelManager({ background: 0, liver: 1, tumor: 2 });
    expect(lm.allLabels).toEqual([0, 1, 2]);
    expect(lm.foregroundLabels).toEqual([1, 2]);
    expect(lm.hasRegions).toBe(false);
    expect(lm.foregroundRegions).toBeNull();
    expect(lm.numSegmentationHeads).toBe(3);
    expect(lm.hasIgnoreLabel).toBe(false);
  });
  it("regions (BraTS-style): regions in dict order, one head per region", () => {
    const lm = new LabelManager({ background: 0, whole_tumor: [1, 2, 3], tumor_core: [2, 3], enhancing_tumor: 3 }, [1, 2, 3]);
    expect(lm.hasRegions).toBe(true);
    expect(lm.foregroundRegions).toEqual([[1, 2, 3], [2, 3], 3]);
    expect(lm.allLabels).toEqual([0, 1, 2, 3]);
    expect(lm.numSegmentationHeads).toBe(3);
  });
  it("ignore label is excluded from allLabels", () => {
    const lm = new LabelManager({ background: 0, a: 1, ignore: 2 });
    expect(lm.allLabels).toEqual([0, 1]);
    expect(lm.ignoreLabel).toBe(2);
    expect(lm.numSegmentationHeads).toBe(2);
  });
  it.each([
    [{ a: 1 }, undefined, /background label not declared/],
    [{ background: [0], a: 1 }, undefined, /background label must be 0, not a list/],
    [{ background: 0, a: 1.5 }, undefined, /a must be an integer/],
    [{ background: 0, r: [1, 2] }, undefined, /regions_class_order is required/],
    [{ background: 0, r: [1, 2], s: 2 }, [1], /regions_class_order has 1 entries but there are 2 regions/],
    [{ background: 0, a: 1, ignore: 3 }, undefined, /ignore label \(3\) must be the highest label value, max\(other labels\) \+ 1 = 2/],
  ] as const)("rejects %j", (labels, order, re) => {
    expect(() => new LabelManager(labels as never, order as never, { file: "dataset.json" })).toThrow(re);
  });
});
