import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  convertIdToDatasetName,
  expandVars,
  getIdentifiersFromSplittedDatasetFolder,
  maybeConvertToDatasetName,
  openRawDataset,
} from "../../sdk/dataset/raw.js";
import { makeDataset, tempRoot } from "./helpers.js";

const TINY = path.resolve("test/fixtures/datasets/Dataset900_Tiny");

describe("openRawDataset(idOrNameOrPath, paths)", () => {
  it("opens Dataset900_Tiny by path with the reader from overwrite_image_reader_writer", async () => {
    const ds = await openRawDataset(TINY);
    expect(ds.id).toBe(900);
    expect(ds.name).toBe("Dataset900_Tiny");
    expect(ds.readerWriter).toBe("NibabelIO");
    expect(ds.identifiers).toEqual(["Tiny_000", "Tiny_001", "Tiny_002", "Tiny_003", "Tiny_004"]);
    expect(ds.cases.Tiny_003).toEqual({ images: [path.join(TINY, "imagesTr/Tiny_003_0000.nii.gz")], label: path.join(TINY, "labelsTr/Tiny_003.nii.gz") });
  });
  it.each([[900], ["900"], ["Dataset900_Tiny"]] as const)("finds the dataset from %j through nnUNet_raw", async (key) => {
    const ds = await openRawDataset(key, { nnUNet_raw: path.dirname(TINY) });
    expect(ds.folder).toBe(TINY);
  });
  it("sorts identifiers by code point like np.unique and groups channels by name", async () => {
    const root = tempRoot();
    const folder = await makeDataset(
      root,
      "Dataset010_Sort",
      [
        { id: "b_2", channels: 2 },
        { id: "B_10", channels: 2 },
        { id: "a", channels: 2 },
        { id: "b_10", channels: 2 },
      ],
      { channel_names: { 0: "T1", 1: "T2" } },
    );
    const ds = await openRawDataset(folder);
    expect(ds.identifiers).toEqual(["B_10", "a", "b_10", "b_2"]);
    expect(ds.cases.b_2!.images.map((f) => path.basename(f))).toEqual(["b_2_0000.nii.gz", "b_2_0001.nii.gz"]);
    expect(ds.readerWriter).toBe("SimpleITKIO");
  });
  it("marks a missing label file as null", async () => {
    const folder = await makeDataset(tempRoot(), "Dataset011_NoLabel", [{ id: "x" }, { id: "y", label: null }]);
    const ds = await openRawDataset(folder);
    expect(ds.cases.y!.label).toBeNull();
    expect(ds.cases.x!.label).toBe(path.join(folder, "labelsTr/x.nii.gz"));
  });
  it("uses the dataset dict form: relative paths, $VARS expanded, key order kept", async () => {
    const root = tempRoot();
    const folder = await makeDataset(root, "Dataset012_Dict", [{ id: "c1" }, { id: "c2" }]);
    mkdirSync(path.join(root, "elsewhere"));
    renameSync(path.join(folder, "imagesTr/c2_0000.nii.gz"), path.join(root, "elsewhere/c2_img.nii.gz"));
    process.env.NNSSL_TEST_ELSEWHERE = path.join(root, "elsewhere");
    writeFileSync(
      path.join(folder, "dataset.json"),
      JSON.stringify({
        channel_names: { 0: "CT" },
        labels: { background: 0, a: 1, b: 2 },
        numTraining: 2,
        file_ending: ".nii.gz",
        dataset: {
          zeta: { images: ["${NNSSL_TEST_ELSEWHERE}/c2_img.nii.gz"], label: "labelsTr/c2.nii.gz" },
          alpha: { images: ["imagesTr/c1_0000.nii.gz"], label: "$NNSSL_TEST_ELSEWHERE/../Dataset012_Dict/labelsTr/c1.nii.gz" },
        },
      }),
    );
    const ds = await openRawDataset(folder);
    expect(ds.identifiers).toEqual(["zeta", "alpha"]);
    expect(ds.cases.zeta).toEqual({ images: [path.join(root, "elsewhere/c2_img.nii.gz")], label: path.join(folder, "labelsTr/c2.nii.gz") });
    // An absolute path after expansion is kept as written (upstream only abspath()s relative ones).
    expect(ds.cases.alpha!.label).toBe(`${root}/elsewhere/../Dataset012_Dict/labelsTr/c1.nii.gz`);
  });
  it("accepts the legacy modality key", async () => {
    const folder = await makeDataset(tempRoot(), "Dataset013_Legacy", [{ id: "x" }], { channel_names: undefined, modality: { 0: "CT" } });
    expect((await openRawDataset(folder)).datasetJson.modality).toEqual({ 0: "CT" });
  });
  it.each([
    ["a missing required key", { numTraining: undefined }, /dataset\.json: missing required key\(s\): numTraining/],
    [
      "an unsupported reader",
      { overwrite_image_reader_writer: "SimpleITKIOWithReorient" },
      /dataset\.json: overwrite_image_reader_writer "SimpleITKIOWithReorient" is not supported/,
    ],
    ["an unsupported file ending", { file_ending: ".jpg" }, /dataset\.json: file_ending "\.jpg" is not supported/],
  ])("rejects %s with a one-line error naming dataset.json", async (_, json, re) => {
    const folder = await makeDataset(tempRoot(), "Dataset014_Bad", [{ id: "x" }], json);
    await expect(openRawDataset(folder)).rejects.toThrow(re);
  });
  it("says which variable to set when nnUNet_raw is missing", async () => {
    const saved = process.env.nnUNet_raw;
    delete process.env.nnUNet_raw;
    try {
      await expect(openRawDataset("Dataset999_Nope", {})).rejects.toThrow(/nnUNet_raw is not set/);
    } finally {
      if (saved !== undefined) process.env.nnUNet_raw = saved;
    }
  });
});

describe("convertIdToDatasetName(id, paths)", () => {
  it("finds the name across nnUNet_raw / nnUNet_preprocessed and refuses ambiguous ids", async () => {
    const raw = tempRoot(),
      pre = tempRoot();
    mkdirSync(path.join(raw, "Dataset042_A"));
    mkdirSync(path.join(pre, "Dataset042_A"));
    expect(await convertIdToDatasetName(42, { nnUNet_raw: raw, nnUNet_preprocessed: pre })).toBe("Dataset042_A");
    expect(await maybeConvertToDatasetName("42", { nnUNet_raw: raw })).toBe("Dataset042_A");
    mkdirSync(path.join(pre, "Dataset042_B"));
    await expect(convertIdToDatasetName(42, { nnUNet_raw: raw, nnUNet_preprocessed: pre })).rejects.toThrow(
      /more than one dataset name found for dataset id 42/,
    );
    await expect(convertIdToDatasetName(43, { nnUNet_raw: raw })).rejects.toThrow(/could not find a dataset with id 43/);
  });
});

describe("getIdentifiersFromSplittedDatasetFolder(folder, fileEnding)", () => {
  it("strips _XXXX + ending and ignores other files", async () => {
    const d = tempRoot();
    for (const f of ["z_0000.nii.gz", "z_0001.nii.gz", "a_b_0000.nii.gz", "notes.txt", "q_0000.nii"]) writeFileSync(path.join(d, f), "");
    expect(await getIdentifiersFromSplittedDatasetFolder(d, ".nii.gz")).toEqual(["a_b", "z"]);
  });
});

describe("expandVars(p)", () => {
  it.each([
    ["$HOME/x", `${process.env.HOME}/x`],
    ["${HOME}y", `${process.env.HOME}y`],
    ["$NNSSL_UNSET_VAR/z", "$NNSSL_UNSET_VAR/z"],
  ])("%s", (inp, out) => {
    expect(expandVars(inp)).toBe(out);
  });
});
