// savePreprocessedCase / listPreprocessedCases / loadPreprocessedCase: round trip, what counts as finished, and that
// numpy reads the files (C x Z x Y x X float32, int16 seg).

import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  listPreprocessedCases,
  loadPreprocessedCase,
  preprocessedCaseExists,
  readPreprocessedCaseInfo,
  savePreprocessedCase,
} from "../../sdk/preprocessing/preprocessed-dataset.js";
import type { PreprocessedCase } from "../../sdk/preprocessing/default-preprocessor.js";
import { pythonSkipReason, runPythonJson } from "../helpers/python.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "ppds-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const c: PreprocessedCase = {
  data: Float32Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => i / 7),
  shape: [2, 3, 4, 5],
  seg: Int16Array.from({ length: 3 * 4 * 5 }, (_, i) => (i % 4) - 1),
  properties: {
    spacing: [3, 0.8, 0.8],
    shape_before_cropping: [5, 6, 7],
    bbox_used_for_cropping: [
      [1, 4],
      [1, 5],
      [1, 6],
    ],
    shape_after_cropping_and_before_resampling: [3, 4, 5],
    class_locations: { "1": [[0, 1, 2, 3]], "2": [] },
  },
};

describe("savePreprocessedCase(folder, id, case) / loadPreprocessedCase(folder, id)", () => {
  it("round-trips data, seg and properties", async () => {
    await savePreprocessedCase(dir, "case_b", c);
    const back = await loadPreprocessedCase(dir, "case_b");
    expect(back.shape).toEqual(c.shape);
    expect(Array.from(back.data)).toEqual(Array.from(c.data));
    expect(Array.from(back.seg!)).toEqual(Array.from(c.seg!));
    expect(back.properties).toEqual(c.properties);
    expect(await preprocessedCaseExists(dir, "case_b")).toBe(true);
    expect((await readPreprocessedCaseInfo(dir, "case_b")).shape).toEqual([2, 3, 4, 5]);
  });

  it.skipIf(pythonSkipReason(["numpy"]) !== null)("writes files numpy reads", () => {
    const r = runPythonJson<{ d: [string, number[]]; s: [string, number[]]; v: number }>(
      "import numpy as np, sys, json; d = np.load(sys.argv[1] + '/case_b.npy'); s = np.load(sys.argv[1] + '/case_b_seg.npy')\n" +
        "print(json.dumps({'d': [str(d.dtype), list(d.shape)], 's': [str(s.dtype), list(s.shape)], 'v': float(d[1, 2, 3, 4])}))",
      [dir],
    );
    expect(r).toEqual({ d: ["float32", [2, 3, 4, 5]], s: ["int16", [1, 3, 4, 5]], v: Math.fround(119 / 7) });
  });

  it("loadPreprocessedCase names the file when the data is not float32 C x Z x Y x X", async () => {
    writeFileSync(path.join(dir, "bad.npy"), "not numpy");
    writeFileSync(path.join(dir, "bad.json"), "{}");
    await expect(loadPreprocessedCase(dir, "bad")).rejects.toThrow(/bad\.npy: not a \.npy file/);
    rmSync(path.join(dir, "bad.npy"));
    rmSync(path.join(dir, "bad.json"));
  });
});

describe("listPreprocessedCases(folder)", () => {
  it("lists cases with data and properties, sorted by code point, ignoring unfinished ones", async () => {
    await savePreprocessedCase(dir, "Case_a", c);
    writeFileSync(path.join(dir, "half.npy"), "");
    expect(await listPreprocessedCases(dir)).toEqual(["Case_a", "case_b"]);
    expect(await preprocessedCaseExists(dir, "half")).toBe(false);
  });

  it("names a missing folder", async () => {
    await expect(listPreprocessedCases(path.join(dir, "nope"))).rejects.toThrow(/nope: preprocessed data folder not found/);
  });
});
