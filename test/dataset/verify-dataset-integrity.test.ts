import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { openRawDataset, verifyDatasetIntegrity } from "../../sdk/dataset/raw.js";
import { writeNifti } from "../../sdk/io/nifti/write.js";
import { consumeWarnings } from "../../sdk/warnings.js";
import { AFFINE, SHAPE, image, label, makeDataset, tempRoot } from "./helpers.js";

const TINY = path.resolve("test/fixtures/datasets/Dataset900_Tiny");

async function problemsOf(folder: string): Promise<string[]> {
  const ds = await openRawDataset(folder);
  try {
    await verifyDatasetIntegrity(ds, { numWorkers: 1 });
  } catch (err) {
    const [head, ...lines] = (err as Error).message.split("\n");
    expect(head).toMatch(/dataset integrity check failed with \d+ problem\(s\):$/);
    return lines;
  }
  return [];
}

const shifted = AFFINE.map((r, i) => r.map((v, j) => (j === 3 && i === 0 ? v + 5 : v)));
const img = (folder: string, id: string, k = 0) => path.join(folder, "imagesTr", `${id}_${String(k).padStart(4, "0")}.nii.gz`);
const lbl = (folder: string, id: string) => path.join(folder, "labelsTr", `${id}.nii.gz`);

// [what is wrong, how to break a 2-case dataset (cases c0, c1), expected problem line(s)]
const BROKEN: [string, Record<string, unknown>, (f: string) => Promise<void>, (f: string) => RegExp[]][] = [
  [
    "numTraining does not match",
    { numTraining: 3 },
    async () => {},
    (f) => [new RegExp(`^${f}/dataset\\.json: numTraining is 3 but 2 training case\\(s\\) were found$`)],
  ],
  ["a label file is missing", {}, async (f) => rmSync(lbl(f, "c1")), (f) => [new RegExp(`^${lbl(f, "c1")}: label file of case c1 not found$`)]],
  [
    "a channel file is missing",
    { channel_names: { 0: "T1", 1: "T2" } },
    async (f) => {
      await writeNifti(img(f, "c0", 1), image(), SHAPE, AFFINE);
    },
    (f) => [new RegExp(`^${img(f, "c1", 1)}: channel file of case c1 not found \\(its files hold 1 channel\\(s\\), dataset\\.json declares 2\\)$`)],
  ],
  [
    "a case has an undeclared channel",
    {},
    async (f) => writeNifti(img(f, "c0", 1), image(), SHAPE, AFFINE),
    (f) => [new RegExp(`^${img(f, "c0", 1)}: unexpected channel`)],
  ],
  [
    "a label has an undeclared value",
    {},
    async (f) => writeNifti(lbl(f, "c0"), label([0, 1, 3]), SHAPE, AFFINE),
    (f) => [new RegExp(`^${lbl(f, "c0")}: unexpected label values \\[3\\] \\(declared: \\[0, 1, 2\\]\\)$`)],
  ],
  [
    "labels are not consecutive",
    { labels: { background: 0, a: 1, b: 3 } },
    async () => {},
    (f) => [
      new RegExp(`^${f}/dataset\\.json: labels must be consecutive .*\\[3\\]`),
      new RegExp(`^${lbl(f, "c0")}: unexpected label values \\[2\\]`),
      new RegExp(`^${lbl(f, "c1")}: unexpected label values \\[2\\]`),
    ],
  ],
  [
    "the ignore label is not max + 1",
    { labels: { background: 0, a: 1, b: 2, ignore: 5 } },
    async () => {},
    (f) => [new RegExp(`^${f}/dataset\\.json: labels: the ignore label \\(5\\) must be the highest label value`)],
  ],
  [
    "the ignore label is a list",
    { labels: { background: 0, a: 1, b: 2, ignore: [3, 4] } },
    async () => {},
    (f) => [new RegExp(`^${f}/dataset\\.json: labels: ignore label has to be an integer`)],
  ],
  [
    "regions lack regions_class_order",
    { labels: { background: 0, whole: [1, 2], core: 2 } },
    async () => {},
    (f) => [new RegExp(`^${f}/dataset\\.json: labels define regions \\(lists\\), so regions_class_order is required$`)],
  ],
  ["background is not 0", { labels: { background: 1, a: 2 } }, async () => {}, (f) => [new RegExp(`^${f}/dataset\\.json: labels: background label must be 0`)]],
  [
    "an image contains NaN",
    {},
    async (f) =>
      writeNifti(
        img(f, "c1"),
        image((i) => (i === 17 ? NaN : 1)),
        SHAPE,
        AFFINE,
      ),
    (f) => [new RegExp(`^${img(f, "c1")}: image contains NaN values$`)],
  ],
  [
    "an image contains Inf",
    {},
    async (f) =>
      writeNifti(
        img(f, "c1"),
        image((i) => (i === 3 ? -Infinity : 1)),
        SHAPE,
        AFFINE,
      ),
    (f) => [new RegExp(`^${img(f, "c1")}: image contains -Infinity values$`)],
  ],
  [
    "label and image shapes differ",
    {},
    async (f) => writeNifti(lbl(f, "c0"), new Uint8Array(6 * 5 * 5), [6, 5, 5], AFFINE),
    (f) => [new RegExp(`^${lbl(f, "c0")}: shape \\[5, 5, 6\\] differs from the image shape \\[4, 5, 6\\] of ${img(f, "c0")}$`)],
  ],
  [
    "label and image spacings differ",
    {},
    async (f) =>
      writeNifti(
        lbl(f, "c0"),
        label(),
        SHAPE,
        AFFINE.map((r, i) => r.map((v, j) => (i === 2 && j === 2 ? 2 : v))),
      ),
    (f) => [new RegExp(`^${lbl(f, "c0")}: spacing \\[2, 0\\.8, 0\\.8\\] differs from the image spacing \\[3, 0\\.8, 0\\.8\\]`)],
  ],
  [
    "label and image origins differ (SimpleITKIO)",
    {},
    async (f) => writeNifti(lbl(f, "c1"), label(), SHAPE, shifted),
    (f) => [new RegExp(`^${lbl(f, "c1")}: origin \\[-15, -20, -5\\] differs from the image origin \\[-10, -20, -5\\]`)],
  ],
  [
    "label and image affines differ (NibabelIO)",
    { overwrite_image_reader_writer: "NibabelIO" },
    async (f) => writeNifti(lbl(f, "c1"), label(), SHAPE, shifted),
    (f) => [new RegExp(`^${lbl(f, "c1")}: affine .* differs from the image affine`)],
  ],
  [
    "channels of a case have different shapes",
    { channel_names: { 0: "T1", 1: "T2" } },
    async (f) => {
      for (const c of ["c0", "c1"]) await writeNifti(img(f, c, 1), image(), SHAPE, AFFINE);
      await writeNifti(img(f, "c0", 1), new Float32Array(6 * 5 * 5), [6, 5, 5], AFFINE);
    },
    (f) => [new RegExp(`^${img(f, "c0", 1)}: shape \\[5, 5, 6\\] differs from \\[4, 5, 6\\] of ${img(f, "c0", 0)}$`)],
  ],
  [
    "labelsTr is missing",
    {},
    async (f) => renameSync(path.join(f, "labelsTr"), path.join(f, "labels")),
    (f) => [
      new RegExp(`^${f}/labelsTr: folder not found`),
      new RegExp(`^${lbl(f, "c0")}: label file of case c0 not found$`),
      new RegExp(`^${lbl(f, "c1")}: label file of case c1 not found$`),
    ],
  ],
];

describe("verifyDatasetIntegrity(ds)", () => {
  it("passes Dataset900_Tiny (NibabelIO) with worker threads", async () => {
    consumeWarnings();
    const res = await verifyDatasetIntegrity(await openRawDataset(TINY), { numWorkers: 2 });
    expect(res.warnings).toEqual([]);
  });
  it("passes a clean generated dataset and warns about a label file with only background", async () => {
    const root = tempRoot();
    const folder = await makeDataset(root, "Dataset020_Ok", [{ id: "c0" }, { id: "c1", label: label([0]) }]);
    const res = await verifyDatasetIntegrity(await openRawDataset(folder), { numWorkers: 1 });
    expect(res.warnings).toEqual([`${lbl(folder, "c1")}: only has label 0 (background)`]);
    expect(consumeWarnings()).toContain(res.warnings[0]);
  });
  it.each(BROKEN)("reports when %s, one line naming the file", async (_, json, breakIt, expected) => {
    const folder = await makeDataset(tempRoot(), "Dataset021_Broken", [{ id: "c0" }, { id: "c1" }], json);
    await breakIt(folder);
    const lines = await problemsOf(folder);
    const want = expected(folder);
    expect(lines.length, lines.join("\n")).toBe(want.length);
    want.forEach((re, i) => expect(lines[i]).toMatch(re));
  });
  it("checks the files listed in the dataset dict form", async () => {
    const root = tempRoot();
    const folder = await makeDataset(root, "Dataset022_Dict", [{ id: "c0" }, { id: "c1" }]);
    writeFileSync(
      path.join(folder, "dataset.json"),
      JSON.stringify({
        channel_names: { 0: "MR" },
        labels: { background: 0, a: 1, b: 2 },
        numTraining: 3,
        file_ending: ".nii.gz",
        dataset: {
          c0: { images: ["imagesTr/c0_0000.nii.gz"], label: "labelsTr/c0.nii.gz" },
          c1: { images: ["imagesTr/gone_0000.nii.gz"], label: "labelsTr/c1.nii.gz" },
          c2: { images: ["imagesTr/c1_0000.nii.gz"] },
        },
      }),
    );
    rmSync(path.join(folder, "labelsTr"), { recursive: true });
    mkdirSync(path.join(folder, "labelsTr"));
    await writeNifti(lbl(folder, "c0"), label(), SHAPE, AFFINE);
    const lines = await problemsOf(folder);
    expect(lines).toEqual([
      `${img(folder, "gone")}: image file of case c1 not found`,
      `${lbl(folder, "c1")}: label file of case c1 not found`,
      `${folder}/dataset.json: label file of case c2 not declared`,
    ]);
  });
});
