import { describe, expect, it } from "vitest";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { foregroundIntensityProperties, npPercentilesInPlace } from "../../sdk/fingerprint/intensity-statistics.js";
import { npMean, npStd } from "../../sdk/util/numpy-reductions.js";
import { RandomState } from "../../sdk/util/random-state.js";
import { pythonSkipReason, runPython } from "../helpers/python.js";

function sample(n: number, seed: number, scale: number, offset: number): Float32Array {
  const rs = new RandomState(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = offset + scale * rs.randomSample() * rs.randomSample();
  return a;
}

describe("npMean / npStd / npPercentilesInPlace", () => {
  it.each([
    ["npMean of 5 values", () => npMean(Float32Array.of(1, 2, 3, 4, 5)), 3],
    ["npStd of 5 values", () => npStd(Float32Array.of(1, 2, 3, 4, 5)), Math.fround(Math.sqrt(2))],
    ["npPercentilesInPlace of 1..5", () => npPercentilesInPlace(Float32Array.of(5, 1, 4, 2, 3), [0, 50, 100, 25]), [1, 3, 5, 2]],
    ["npPercentilesInPlace with interpolation", () => npPercentilesInPlace(Float64Array.of(10, 0), [0.5, 99.5]), [0.05, 9.95]],
  ])("%s", (_n, fn, expected) => {
    const got = fn();
    if (Array.isArray(expected)) (got as number[]).forEach((g, i) => expect(g).toBeCloseTo(expected[i]!, 12));
    else expect(got).toBe(expected);
  });

  it("foregroundIntensityProperties of no samples is NaN everywhere", () => {
    expect(Object.values(foregroundIntensityProperties(new Float32Array(0))).every(Number.isNaN)).toBe(true);
  });
});

const reason = pythonSkipReason(["numpy"]);
describe.skipIf(reason !== null)(`foregroundIntensityProperties against numpy 1.24 ${reason ?? ""}`, () => {
  it.each([
    ["float32, n = 1 000 003", 1_000_003, 11, 600, 100, "float32"],
    ["float32, n = 129 (one split)", 129, 12, 3, -1, "float32"],
    ["float32, n = 2 500 000 large offset", 2_500_000, 13, 50, 4000, "float32"],
    ["float64 (a case without foreground promotes)", 300_001, 14, 600, 100, "float64"],
  ])("foregroundIntensityProperties %s is bit-identical", (_n, n, seed, scale, offset, dtype) => {
    const a32 = sample(n, seed, scale, offset);
    const a = dtype === "float32" ? a32 : Float64Array.from(a32);
    const dir = mkdtempSync(path.join(tmpdir(), "stats-"));
    const file = path.join(dir, "a.bin");
    writeFileSync(file, Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    const out = JSON.parse(
      runPython(
        `
import numpy as np, json, sys
a = np.fromfile(sys.argv[1], dtype=sys.argv[2])
p0, med, p99 = np.percentile(a, np.array((0.5, 50.0, 99.5)))
print(json.dumps(dict(max=float(np.max(a)), mean=float(np.mean(a)), median=float(med), min=float(np.min(a)),
  percentile_00_5=float(p0), percentile_99_5=float(p99), std=float(np.std(a)))))`,
        [file, dtype],
      ),
    );
    expect(foregroundIntensityProperties(a)).toEqual(out);
  });
});

describe("aggregateCaseAnalyses", () => {
  const out = (id: string, samples: Float32Array[]) => ({
    id,
    shapeBeforeCrop: [4, 4, 4],
    shapeAfterCrop: [2, 4, 4],
    spacing: [1, 1, 1],
    samples,
    numForeground: samples[0]!.length,
    relativeSizeAfterCropping: 0.5,
  });

  it("aggregateCaseAnalyses promotes to float64 when a case has no foreground, like np.concatenate with []", async () => {
    const { aggregateCaseAnalyses } = await import("../../sdk/fingerprint/extract-fingerprint.js");
    const a = sample(1000, 3, 10, 0.1);
    const b = sample(777, 4, 10, 0.1);
    const fp = aggregateCaseAnalyses([out("a", [a.slice()]), out("b", [new Float32Array(0)]), out("c", [b.slice()])], 1);
    const all64 = new Float64Array(1777);
    all64.set(a);
    all64.set(b, 1000);
    expect(fp.foregroundIntensityPropertiesPerChannel["0"]).toEqual(foregroundIntensityProperties(all64));
    const fp32 = aggregateCaseAnalyses([out("a", [a.slice()]), out("c", [b.slice()])], 1);
    const all32 = new Float32Array(1777);
    all32.set(a);
    all32.set(b, 1000);
    expect(fp32.foregroundIntensityPropertiesPerChannel["0"]).toEqual(foregroundIntensityProperties(all32));
    expect(fp32.foregroundIntensityPropertiesPerChannel["0"]!.mean).not.toBe(fp.foregroundIntensityPropertiesPerChannel["0"]!.mean);
  });
});
