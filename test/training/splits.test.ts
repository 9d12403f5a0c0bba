import { describe, it, expect } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { generateCrossvalSplit, splitForFold, doSplit } from "../../sdk/training/splits.js";
import { runPythonJson, pythonSkipReason } from "../helpers/python.js";

const ids10 = Array.from({ length: 10 }, (_, i) => `case_${String(i).padStart(3, "0")}`);

describe("generateCrossvalSplit(ids, 12345, 5)", () => {
  it("matches upstream's 5-fold val sets for case_000..case_009 (numpy RandomState(12345))", () => {
    const s = generateCrossvalSplit([...ids10].reverse());
    expect(s.map((f) => f.val)).toEqual([
      ["case_000", "case_007"],
      ["case_003", "case_009"],
      ["case_004", "case_006"],
      ["case_001", "case_008"],
      ["case_002", "case_005"],
    ]);
    for (const f of s) {
      expect(f.train).toEqual(ids10.filter((id) => !f.val.includes(id)));
    }
  });

  it("gives the first n % 5 folds one extra case (n = 13)", () => {
    const ids = Array.from({ length: 13 }, (_, i) => `c${String(i).padStart(2, "0")}`);
    expect(generateCrossvalSplit(ids).map((f) => f.val.length)).toEqual([3, 3, 3, 2, 2]);
  });

  it("rejects fewer cases than folds", () => {
    expect(() => generateCrossvalSplit(["a", "b"])).toThrow(/cannot split 2 cases into 5 folds/);
  });

  const skip = pythonSkipReason(["numpy"]);
  it.skipIf(skip !== null)(`matches numpy's RandomState(12345+fold).choice for folds >= 5 ${skip ?? ""}`, () => {
    const ids = Array.from({ length: 23 }, (_, i) => `x${String(i).padStart(2, "0")}`);
    const ref = runPythonJson<number[]>(
      "import numpy as np, json\nr=np.random.RandomState(12345+7)\nprint(json.dumps(r.choice(23, int(23*0.8), replace=False).tolist()))",
    );
    const s = splitForFold(ids, generateCrossvalSplit(ids), 7);
    expect(s.train).toEqual(ref.map((i) => ids[i]));
    expect(s.val).toEqual(ids.filter((_, i) => !ref.includes(i)));
  });
});

describe("splitForFold / doSplit", () => {
  it("fold all trains and validates on every case", () => {
    expect(splitForFold(["b", "a"], [], "all")).toEqual({ train: ["a", "b"], val: ["a", "b"] });
  });

  it("doSplit writes splits_final.json once and then reads it", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "splits-"));
    const s0 = await doSplit(dir, ids10, 0);
    expect(s0.val).toEqual(["case_000", "case_007"]);
    const written = JSON.parse(readFileSync(path.join(dir, "splits_final.json"), "utf8"));
    expect(written).toHaveLength(5);
    writeFileSync(path.join(dir, "splits_final.json"), JSON.stringify([{ train: ["case_001"], val: ["case_002"] }]));
    expect(await doSplit(dir, ids10, 0)).toEqual({ train: ["case_001"], val: ["case_002"] });
    writeFileSync(path.join(dir, "splits_final.json"), JSON.stringify([{ train: ["nope"], val: ["case_002"] }]));
    await expect(doSplit(dir, ids10, 0)).rejects.toThrow(/splits_final.json: fold 0 lists cases that are not in the preprocessed folder: nope/);
  });
});
