import { describe, expect, it } from "vitest";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { openRawDataset } from "../../sdk/dataset/raw.js";
import { analyzeCase } from "../../sdk/fingerprint/analyze-case.js";
import { extractFingerprint } from "../../sdk/fingerprint/extract-fingerprint.js";
import { Fingerprint } from "../../sdk/fingerprint/fingerprint.js";

const TINY = new URL("../fixtures/datasets/Dataset900_Tiny/", import.meta.url).pathname;
const expectedFile = path.join(TINY, "expected/dataset_fingerprint.json");
const expected = JSON.parse(readFileSync(expectedFile, "utf8"));
const perCase = JSON.parse(readFileSync(path.join(TINY, "expected/fingerprint_per_case.json"), "utf8")).cases;

/** A fresh $nnUNet_raw / $nnUNet_preprocessed pair with a copy of Dataset900_Tiny. */
function workspace() {
  const root = mkdtempSync(path.join(tmpdir(), "fp-"));
  const raw = path.join(root, "raw");
  const dst = path.join(raw, "Dataset900_Tiny");
  for (const f of ["dataset.json", "imagesTr", "labelsTr"]) cpSync(path.join(TINY, f), path.join(dst, f), { recursive: true });
  return { root, raw, dst, paths: { nnUNet_raw: raw, nnUNet_preprocessed: path.join(root, "pre") } };
}

describe("analyzeCase on Dataset900_Tiny", () => {
  it.each(Object.keys(perCase))("analyzeCase(%s) matches upstream's shape after crop, spacing and relative size", async (id) => {
    const out = await analyzeCase({
      id,
      images: [path.join(TINY, "imagesTr", `${id}_0000.nii.gz`)],
      label: path.join(TINY, "labelsTr", `${id}.nii.gz`),
      readerWriter: "NibabelIO",
      numSamples: 1000,
    });
    expect([out.shapeAfterCrop, out.spacing, out.relativeSizeAfterCropping]).toEqual([
      perCase[id].shape_after_crop,
      perCase[id].spacing,
      perCase[id].relative_size_after_cropping,
    ]);
    expect(out.samples[0]!.length).toBe(1000);
  });
});

describe("extractFingerprint", () => {
  it("extractFingerprint(Dataset900_Tiny) reproduces upstream's dataset_fingerprint.json", async () => {
    const ws = workspace();
    try {
      const fp = await extractFingerprint(await openRawDataset(900, ws.paths), { paths: ws.paths, numProcesses: 1 });
      const written = JSON.parse(readFileSync(path.join(ws.paths.nnUNet_preprocessed, "Dataset900_Tiny/dataset_fingerprint.json"), "utf8"));
      const { foreground_intensity_properties_per_channel: got, ...rest } = written;
      const { foreground_intensity_properties_per_channel: want, ...wantRest } = expected;
      expect(rest).toEqual(wantRest);
      expect(Object.keys(got)).toEqual(Object.keys(want));
      for (const [k, v] of Object.entries(want["0"] as Record<string, number>)) {
        expect([k, Math.abs(got["0"][k] - v) / Math.abs(v)]).toEqual([k, expect.any(Number)]);
        expect(Math.abs(got["0"][k] - v) / Math.abs(v), k).toBeLessThan(1e-5);
      }
      // file layout: sorted keys, indent 4, Python floats
      expect(fp.format().split("\n").length).toBe(readFileSync(expectedFile, "utf8").split("\n").length);
      expect(fp.table().numRows()).toBe(5);
      expect(fp.table().columnNames()).toEqual(["id", "spacing", "shape_before_crop", "shape_after_crop", "relative_size"]);
      expect(fp.table().get("shape_before_crop", 0)).toEqual([14, 48, 48]);
    } finally {
      rmSync(ws.root, { recursive: true, force: true });
    }
  });

  it("extractFingerprint loads an existing file unless clean", async () => {
    const ws = workspace();
    try {
      const out = path.join(ws.paths.nnUNet_preprocessed, "Dataset900_Tiny");
      cpSync(expectedFile, path.join(out, "dataset_fingerprint.json"), { recursive: true });
      const ds = await openRawDataset(900, ws.paths);
      const fp = await extractFingerprint(ds, { paths: ws.paths });
      expect(fp.toJSON()).toEqual(expected);
      expect(fp.table().get("id", 4)).toBe("Tiny_004");
      expect(fp.format()).toBe(readFileSync(expectedFile, "utf8"));
    } finally {
      rmSync(ws.root, { recursive: true, force: true });
    }
  });

  it.each([
    [
      "an empty dataset",
      (ws: ReturnType<typeof workspace>) => {
        rmSync(path.join(ws.dst, "imagesTr"), { recursive: true });
        rmSync(path.join(ws.dst, "labelsTr"), { recursive: true });
        cpSync(path.join(TINY, "dataset.json"), path.join(ws.dst, "imagesTr", "README"), {});
      },
      /no training cases found|imagesTr/,
    ],
    ["a missing label", (ws: ReturnType<typeof workspace>) => rmSync(path.join(ws.dst, "labelsTr", "Tiny_002.nii.gz")), /Tiny_002/],
    [
      "an unreadable image",
      (ws: ReturnType<typeof workspace>) => writeFileSync(path.join(ws.dst, "imagesTr", "Tiny_001_0000.nii.gz"), "not a nifti"),
      /Tiny_001_0000\.nii\.gz/,
    ],
    [
      "a missing channel",
      (ws: ReturnType<typeof workspace>) => {
        const j = JSON.parse(readFileSync(path.join(ws.dst, "dataset.json"), "utf8"));
        j.channel_names = { "0": "MR", "1": "T2" };
        writeFileSync(path.join(ws.dst, "dataset.json"), JSON.stringify(j));
      },
      /channel|_0001/,
    ],
  ])("extractFingerprint with %s ends with a one-line InputError naming the problem", async (_n, breakIt, re) => {
    const ws = workspace();
    try {
      breakIt(ws);
      const run = async () => extractFingerprint(await openRawDataset(900, ws.paths), { paths: ws.paths, numProcesses: 1, verifyDatasetIntegrity: false });
      const err = await run().then(
        () => null,
        (e: Error) => e,
      );
      expect(err).not.toBeNull();
      expect(err!.name).toMatch(/InputError|ConfigError/);
      expect(err!.message).toMatch(re);
      expect(existsSync(path.join(ws.paths.nnUNet_preprocessed, "Dataset900_Tiny/dataset_fingerprint.json"))).toBe(false);
    } finally {
      rmSync(ws.root, { recursive: true, force: true });
    }
  });

  it("Fingerprint.load rejects a file that is not a fingerprint", async () => {
    await expect(Fingerprint.load(path.join(TINY, "expected/nnUNetPlans.json"))).rejects.toThrow(/nnUNetPlans\.json: not a dataset fingerprint/);
  });
});
