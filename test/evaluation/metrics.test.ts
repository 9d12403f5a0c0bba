import { describe, it, expect } from "vitest";
import { computeMetrics, computeTpFpFnTn, keyToLabelOrRegion, labelOrRegionToKey, metricsFromCounts } from "../../sdk/evaluation/metrics.js";
import { nanMean, plainMean, summarizeMetrics, formatSummaryJson, type CaseMetrics } from "../../sdk/evaluation/summary.js";
import { formatPythonJson, pythonFloatRepr, pyFloat } from "../../sdk/evaluation/python-json.js";

// 2 x 3 x 2 volumes, flattened; labels 0..3, 3 is used as ignore label in one test.
const REF = new Uint8Array([0, 1, 1, 2, 2, 0, 1, 1, 0, 0, 3, 2]);
const PRED = new Uint8Array([0, 1, 0, 2, 1, 0, 1, 2, 0, 1, 2, 2]);

describe("computeTpFpFnTn(ref, pred, label, ignore)", () => {
  // Counted by hand from REF / PRED above.
  it.each([
    ["label 1", 1, null, [2, 2, 2, 6]],
    ["label 2", 2, null, [2, 2, 1, 7]],
    ["label 2, ignore 3", 2, 3, [2, 1, 1, 7]],
    ["region (1, 2)", [1, 2], null, [6, 2, 1, 3]],
    ["region (1, 2), ignore 3", [1, 2], 3, [6, 1, 1, 3]],
    ["absent label 5", 5, null, [0, 0, 0, 12]],
  ] as const)("%s", (_n, r, ignore, expected) => {
    expect(computeTpFpFnTn(REF, PRED, r as number | number[], ignore)).toEqual(expected);
  });

  it("rejects volumes of different size", () => {
    expect(() => computeTpFpFnTn(REF, PRED.subarray(1), 1)).toThrow(/prediction has 11 voxels, reference has 12/);
  });
});

describe("metricsFromCounts(tp, fp, fn, tn)", () => {
  it("computes Dice, IoU, n_pred, n_ref", () => {
    expect(metricsFromCounts(3, 2, 2, 5)).toEqual({ Dice: 0.6, IoU: 3 / 7, FP: 2, TP: 3, FN: 2, TN: 5, n_pred: 5, n_ref: 5 });
  });
  it("gives NaN Dice and IoU when the class is absent in both", () => {
    const m = metricsFromCounts(0, 0, 0, 12);
    expect(m.Dice).toBeNaN();
    expect(m.IoU).toBeNaN();
    expect(m.TN).toBe(12);
  });
  it("gives 0, not NaN, when only the prediction has the class", () => {
    expect(metricsFromCounts(0, 4, 0, 8).Dice).toBe(0);
  });
});

describe("labelOrRegionToKey(r) is Python's str()", () => {
  it.each([
    [1, "1"],
    [[1, 2], "(1, 2)"],
    [[3], "(3,)"],
    [[1, 2, 3], "(1, 2, 3)"],
  ] as const)("%j -> %s", (r, key) => {
    expect(labelOrRegionToKey(r as number | number[])).toBe(key);
    expect(keyToLabelOrRegion(key)).toEqual(r);
  });
});

describe("summarizeMetrics(perCase, labels)", () => {
  const caseOf = (ref: Uint8Array, pred: Uint8Array, name: string): CaseMetrics => ({
    reference_file: `gt/${name}`,
    prediction_file: `pred/${name}`,
    metrics: Object.fromEntries([...computeMetrics(ref, pred, [1, 2, 5])].map(([k, v]) => [labelOrRegionToKey(k), v])),
  });
  const cases = [caseOf(REF, PRED, "a.nii.gz"), caseOf(PRED, PRED, "b.nii.gz")];
  const s = summarizeMetrics(cases, [1, 2, 5]);

  it("averages with nanmean over cases", () => {
    expect(s.mean["1"]!.Dice).toBe((0.5 + 1) / 2);
    expect(s.mean["2"]!.TP).toBe((2 + 4) / 2);
    expect(s.mean["5"]!.Dice).toBeNaN(); // all cases NaN
    expect(s.mean["5"]!.TN).toBe(12);
  });
  it("takes a plain mean over foreground classes, so an all-NaN class makes it NaN", () => {
    expect(s.foreground_mean.Dice).toBeNaN();
    expect(s.foreground_mean.TP).toBeCloseTo((s.mean["1"]!.TP + s.mean["2"]!.TP + 0) / 3, 12);
    const s2 = summarizeMetrics(cases, [1, 2]);
    expect(s2.foreground_mean.Dice).toBeCloseTo((s.mean["1"]!.Dice + s.mean["2"]!.Dice) / 2, 15);
  });
  it("skips label 0 in the foreground mean", () => {
    const c0 = { ...cases[0]!, metrics: { ...cases[0]!.metrics, "0": metricsFromCounts(100, 0, 0, 0) } };
    const s3 = summarizeMetrics([c0], [0, 1]);
    expect(s3.foreground_mean.TP).toBe(2);
  });
  it("nanMean / plainMean follow numpy", () => {
    expect(nanMean([1, NaN, 3])).toBe(2);
    expect(nanMean([NaN])).toBeNaN();
    expect(plainMean([1, NaN])).toBeNaN();
    expect(plainMean([])).toBeNaN();
  });
  it("writes summary.json like Python: sorted keys, float means, int per-case counts, bare NaN", () => {
    const text = formatSummaryJson(s);
    expect(text.startsWith('{\n    "foreground_mean": {\n        "Dice": NaN,\n        "FN": ')).toBe(true);
    expect(text).toContain(
      '"metric_per_case": [\n        {\n            "metrics": {\n                "1": {\n                    "Dice": 0.5,\n                    "FN": 2,\n                    "FP": 2,\n                    "IoU": 0.3333333333333333,\n                    "TN": 6,\n                    "TP": 2,\n                    "n_pred": 4,\n                    "n_ref": 4\n',
    );
    expect(text).toContain('"2": {\n            "Dice": ');
    expect(text).toContain('"TP": 3.0,'); // mean of 2 and 4
    expect(text).toContain('"prediction_file": "pred/a.nii.gz",\n            "reference_file": "gt/a.nii.gz"');
    expect(text.endsWith("}")).toBe(true);
  });
});

describe("pythonFloatRepr / formatPythonJson match Python's json module", () => {
  // Expected strings printed by CPython 3 json.dumps.
  it.each([
    [1.0, "1.0"],
    [0.5, "0.5"],
    [2 / 3, "0.6666666666666666"],
    [1e-5, "1e-05"],
    [0.0001, "0.0001"],
    [1e16, "1e+16"],
    [1234567890123456.0, "1234567890123456.0"],
    [12, "12.0"],
    [NaN, "NaN"],
    [1.5e-7, "1.5e-07"],
    [123.456, "123.456"],
    [-0.25, "-0.25"],
    [1e22, "1e+22"],
    [5.960464477539063e-8, "5.960464477539063e-08"],
    [0.1 + 0.2, "0.30000000000000004"],
  ])("%s -> %s", (x, s) => {
    expect(pythonFloatRepr(x)).toBe(s);
  });
  it("indents, sorts keys and escapes non-ASCII like json.dumps(sort_keys=True, indent=4)", () => {
    expect(formatPythonJson({ b: { x: [1, 2], a: [] }, a: "é", c: {} })).toBe(
      '{\n    "a": "\\u00e9",\n    "b": {\n        "a": [],\n        "x": [\n            1,\n            2\n        ]\n    },\n    "c": {}\n}',
    );
    expect(formatPythonJson([pyFloat(3)])).toBe("[\n    3.0\n]");
  });
});
