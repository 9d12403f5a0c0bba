import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { readImages, readSeg, writeSeg, type ReaderWriterName } from "../../sdk/io/image-io.js";
import { readNifti } from "../../sdk/io/nifti/read.js";
import { writeNifti } from "../../sdk/io/nifti/write.js";
import { InputError } from "../../sdk/errors.js";
import { pythonSkipReason, runPythonJson } from "../helpers/python.js";

const TINY = path.resolve("test/fixtures/datasets/Dataset900_Tiny");
const EXPECTED = path.join(TINY, "expected/nnUNetPlans_3d_fullres");
const CASES = ["Tiny_000", "Tiny_001", "Tiny_002", "Tiny_003", "Tiny_004"];
const nibSkip = pythonSkipReason(["nibabel", "numpy"]);
const tmp = () => mkdtempSync(path.join(tmpdir(), "nnssl-image-io-"));

describe("readImages(files, 'NibabelIO')", () => {
  it.each(CASES)("gives the properties upstream's NibabelIO stored for %s", async (c) => {
    const v = await readImages([path.join(TINY, "imagesTr", `${c}_0000.nii.gz`)], "NibabelIO");
    const props = JSON.parse(readFileSync(path.join(EXPECTED, `${c}_properties.json`), "utf8"));
    expect(v.properties.spacing).toEqual(props.spacing);
    expect(v.properties.nibabel_stuff!.original_affine).toEqual(props.nibabel_stuff.original_affine);
    expect(v.shape).toEqual([1, ...props.shape_before_cropping]);
    expect(Object.keys(v.properties)).toEqual(["nibabel_stuff", "spacing"]);
  });
});

describe.skipIf(nibSkip)(`readImages agrees with nibabel${nibSkip ? ` (skipped: ${nibSkip})` : ""}`, () => {
  it.each(CASES)("values of %s equal get_fdata().transpose(2, 1, 0) as float32", async (c) => {
    const file = path.join(TINY, "imagesTr", `${c}_0000.nii.gz`);
    const v = await readImages([file], "NibabelIO");
    const ref = runPythonJson<{ sum: number; first: number[]; idx: number[]; vals: number[] }>(
      `
import sys, json, numpy as np, nibabel as nib
a = nib.load(sys.argv[1]).get_fdata().transpose(2, 1, 0).astype(np.float32).ravel()
idx = list(range(0, a.size, max(1, a.size // 500)))
print(json.dumps({"sum": float(a.astype(np.float64).sum()), "first": a[:5].tolist(), "idx": idx, "vals": a[idx].tolist()}))`,
      [file],
    );
    let sum = 0;
    for (const x of v.data) sum += x;
    expect(sum).toBeCloseTo(ref.sum, 3);
    expect(ref.idx.map((i) => v.data[i])).toEqual(ref.vals);
  });
});

describe("readSeg(file, rw)", () => {
  it.each(["SimpleITKIO", "NibabelIO", "NibabelIOWithReorient"] as ReaderWriterName[])("reads labels as float32 with C = 1 (%s)", async (rw) => {
    const s = await readSeg(path.join(TINY, "labelsTr", "Tiny_000.nii.gz"), rw);
    expect(s.data).toBeInstanceOf(Float32Array);
    expect(s.shape).toEqual([1, 14, 48, 48]);
    expect(new Set(s.data)).toEqual(new Set([0, 1, 2]));
  });
});

describe("readImages(files, 'SimpleITKIO')", () => {
  it("reports ITK's LPS geometry in file axis order for an x/y-flipped affine", async () => {
    const v = await readImages([path.join(TINY, "imagesTr", "Tiny_001_0000.nii.gz")], "SimpleITKIO");
    const s = v.properties.sitk_stuff!;
    // RAS affine diag(-0.8, -0.8, 3) with offset (16, 20.7, -21) is LPS identity direction with origin (-16, -20.7, -21).
    expect(s.direction).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1].map((x) => expect.closeTo(x, 6)));
    expect(s.origin.map((x) => +x.toFixed(4))).toEqual([-16, -20.7, -21]);
    expect(s.spacing.map((x) => +x.toFixed(6))).toEqual([0.8, 0.8, 3]);
    expect(v.properties.spacing).toEqual([...s.spacing].reverse());
    expect(Object.keys(v.properties)).toEqual(["sitk_stuff", "spacing"]);
  });
  it("refuses channels with different shapes, naming the file", async () => {
    await expect(readImages([path.join(TINY, "imagesTr", "Tiny_000_0000.nii.gz"), path.join(TINY, "imagesTr", "Tiny_001_0000.nii.gz")])).rejects.toThrow(
      /Tiny_001_0000\.nii\.gz: shape \[14, 50, 46\] differs/,
    );
  });
});

describe("writeSeg(seg, shape, file, properties, rw)", () => {
  it.each(["SimpleITKIO", "NibabelIO", "NibabelIOWithReorient"] as ReaderWriterName[])("keeps the reference geometry and voxels (%s)", async (rw) => {
    const ref = path.join(TINY, "labelsTr", "Tiny_002.nii.gz");
    const s = await readSeg(ref, rw);
    const seg = Uint8Array.from(s.data);
    const out = path.join(tmp(), "seg.nii.gz");
    await writeSeg(seg, s.shape.slice(1), out, s.properties, rw);
    const a = await readNifti(ref),
      b = await readNifti(out);
    expect(b.dtype).toBe("uint8");
    expect(b.shape).toEqual(a.shape);
    expect(Array.from(b.data as Uint8Array)).toEqual(Array.from(a.data as Uint8Array));
    b.affine.flat().forEach((x, i) => expect(x).toBeCloseTo(a.affine.flat()[i]!, 4));
  });
  it("writes uint16 when the maximum is 255 or more", async () => {
    const s = await readSeg(path.join(TINY, "labelsTr", "Tiny_000.nii.gz"), "NibabelIO");
    const seg = new Uint16Array(s.data.length);
    seg[7] = 300;
    const out = path.join(tmp(), "seg16.nii.gz");
    await writeSeg(seg, s.shape.slice(1), out, s.properties, "NibabelIO");
    const b = await readNifti(out);
    expect(b.dtype).toBe("uint16");
    expect(b.data[7]).toBe(300);
  });
  it("writeSeg with a 4-d SimpleITK geometry (a 4-d multi-channel image) writes its spatial part; 5-d is an InputError naming the file", async () => {
    const out = path.join(tmp(), "seg4d.nii.gz");
    const direction = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
    const properties = { spacing: [3, 2, 1], sitk_stuff: { spacing: [1, 2, 3, 1], origin: [4, 5, 6, 0], direction } };
    await writeSeg(new Uint8Array(8), [2, 2, 2], out, properties, "SimpleITKIO");
    const back = await readSeg(out, "SimpleITKIO");
    expect(back.properties.sitk_stuff).toEqual({ spacing: [1, 2, 3], origin: [4, 5, 6], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] });
    const p5 = { spacing: [1, 1, 1], sitk_stuff: { spacing: [1, 1, 1, 1, 1], origin: [0, 0, 0, 0, 0], direction: Array(25).fill(0) } };
    await expect(writeSeg(new Uint8Array(8), [2, 2, 2], out, p5, "SimpleITKIO")).rejects.toThrow(
      new InputError(`${out}: writeSeg: sitk_stuff.spacing [1, 1, 1, 1, 1] is neither 2-d nor 3-d`).message,
    );
  });
});

describe("writeNifti(file, data, shape, affine)", () => {
  it("writeNifti with a shape that does not fit the data is an InputError naming the file and writes nothing", async () => {
    const dir = tmp();
    const out = path.join(dir, "bad.nii.gz");
    const eye = [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ];
    await expect(writeNifti(out, new Uint8Array(7), [2, 2, 2], eye)).rejects.toThrow(`${out}: formatNifti1: shape [2, 2, 2] has 8 voxels but data has 7`);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("NibabelIOWithReorient on a permuted, flipped image", () => {
  // voxel axes: i -> -y (0.8 mm), j -> +z (2 mm), k -> -x (1.5 mm); RAS reorientation must permute and flip the array.
  const affine = [
    [0, 0, -1.5, 30],
    [-0.8, 0, 0, 10],
    [0, 2, 0, -8],
    [0, 0, 0, 1],
  ];
  const fileShape = [4, 3, 5];
  const data = Int16Array.from({ length: 60 }, (_, i) => i);
  it("readImages gives RAS-ordered data, the reoriented affine and spacing; writeSeg restores the original layout", async () => {
    const { writeNifti } = await import("../../sdk/io/nifti/write.js");
    const file = path.join(tmp(), "perm.nii.gz");
    await writeNifti(file, data, fileShape, affine);
    const v = await readImages([file], "NibabelIOWithReorient");
    const ra = v.properties.nibabel_stuff!.reoriented_affine!;
    // RAS: diagonal positive after reorientation; file shape becomes (x: 5, y: 4, z: 3), nnU-Net order reversed.
    expect(v.shape).toEqual([1, 3, 4, 5]);
    expect([ra[0]![0], ra[1]![1], ra[2]![2]].map((x) => +x!.toFixed(5))).toEqual([1.5, 0.8, 2]);
    expect(v.properties.spacing.map((x) => +x.toFixed(5))).toEqual([2, 0.8, 1.5]);
    // voxel (i, j, k) of the file lands at RAS index (x = 4 - k, y = 3 - i, z = j)
    const at = (x: number, y: number, z: number) => v.data[x + 5 * (y + 4 * z)];
    for (const [i, j, k] of [
      [0, 0, 0],
      [3, 2, 4],
      [1, 2, 3],
    ] as const)
      expect(at(4 - k, 3 - i, j)).toBe(i + 4 * (j + 3 * k));
    const out = path.join(tmp(), "seg.nii.gz");
    await writeSeg(
      Uint16Array.from(v.data, (x) => x * 10),
      v.shape.slice(1),
      out,
      v.properties,
      "NibabelIOWithReorient",
    );
    const back = await readNifti(out);
    expect(back.shape).toEqual(fileShape);
    expect(back.dtype).toBe("uint16");
    expect(Array.from(back.data as Uint16Array)).toEqual(Array.from(data, (x) => x * 10));
    back.affine.flat().forEach((x, i) => expect(x).toBeCloseTo(affine.flat()[i]!, 5));
  });
});

describe("SimpleITKIO geometry (ITK's qform/sform choice)", () => {
  it.each([
    ["sform only (qform_code 0): sform", 0, 1, true],
    ["qform and a scanner sform (code 1): sform", 1, 1, true],
    ["qform and an aligned sform (code 2): qform", 1, 2, false],
  ])("%s", async (_, qcode, scode, usesSform) => {
    const { formatNifti1 } = await import("../../sdk/io/nifti/write.js");
    const { writeFileSync } = await import("node:fs");
    // qform: identity rotation (spacing 1); sform: 2 mm with x/y flipped and offset, written into srow afterwards.
    const bytes = formatNifti1(
      new Uint8Array(8),
      [2, 2, 2],
      [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ],
      { qformCode: qcode, sformCode: scode },
    );
    const dv = new DataView(bytes.buffer);
    [
      [-2, 0, 0, 5],
      [0, -2, 0, 6],
      [0, 0, 2, 7],
    ].forEach((row, r) => row.forEach((x, c) => dv.setFloat32(280 + 16 * r + 4 * c, x, true)));
    const file = path.join(tmp(), "x.nii");
    writeFileSync(file, bytes);
    const s = (await readImages([file], "SimpleITKIO")).properties.sitk_stuff!;
    // ITK takes the spacing from pixdim (1 here) and only the rotation from the chosen transform.
    expect(s.spacing).toEqual([1, 1, 1]);
    expect(s.direction.map((x) => x + 0)).toEqual(usesSform ? [1, 0, 0, 0, 1, 0, 0, 0, 1] : [-1, 0, 0, 0, -1, 0, 0, 0, 1]);
    expect(s.origin.map((x) => x + 0)).toEqual(usesSform ? [-5, -6, 7] : [0, 0, 0]);
  });
});

describe("SimpleITKIO on a 2-d image", () => {
  it("reads (1, 1, y, x) with spacing (999 * max, sy, sx) and writes a 2-d segmentation back", async () => {
    const { writeNifti } = await import("../../sdk/io/nifti/write.js");
    const file = path.join(tmp(), "slice.nii.gz");
    await writeNifti(
      file,
      Uint8Array.from({ length: 12 }, (_, i) => i % 3),
      [4, 3],
      [
        [-0.5, 0, 0, 1],
        [0, -0.7, 0, 2],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ],
    );
    const v = await readImages([file], "SimpleITKIO");
    expect(v.shape).toEqual([1, 1, 3, 4]);
    expect(v.properties.spacing.map((x) => +x.toFixed(3))).toEqual([699.3, 0.7, 0.5]); // 999 * float32(0.7)
    expect(v.properties.sitk_stuff!.direction).toEqual([1, 0, 0, 1]);
    const out = path.join(tmp(), "seg2d.nii.gz");
    await writeSeg(Uint8Array.from(v.data), v.shape.slice(1), out, v.properties, "SimpleITKIO");
    const back = await readNifti(out);
    expect(back.shape).toEqual([4, 3]);
    expect(Array.from(back.data as Uint8Array)).toEqual(Array.from({ length: 12 }, (_, i) => i % 3));
    back.affine.flat().forEach((x, i) => expect(x).toBeCloseTo([-0.5, 0, 0, 1, 0, -0.7, 0, 2, 0, 0, 1, 0, 0, 0, 0, 1][i]!, 5));
  });
});

describe("readImages(files) with several channels", () => {
  it("stacks channels in the given order and warns (does not fail) when their origins differ", async () => {
    const { writeNifti } = await import("../../sdk/io/nifti/write.js");
    const { consumeWarnings } = await import("../../sdk/warnings.js");
    const dir = tmp();
    const a = path.join(dir, "c_0000.nii.gz"),
      b = path.join(dir, "c_0001.nii.gz");
    const aff = [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 2, 0],
      [0, 0, 0, 1],
    ];
    await writeNifti(
      a,
      Int16Array.from({ length: 24 }, (_, i) => i),
      [2, 3, 4],
      aff,
    );
    await writeNifti(
      b,
      Float32Array.from({ length: 24 }, (_, i) => -i - 0.5),
      [2, 3, 4],
      aff.map((r, i) => (i === 0 ? [1, 0, 0, 3] : r)),
    );
    consumeWarnings();
    const v = await readImages([a, b], "SimpleITKIO");
    expect(v.shape).toEqual([2, 4, 3, 2]);
    expect(Array.from(v.data.subarray(0, 24))).toEqual(Array.from({ length: 24 }, (_, i) => i));
    expect(Array.from(v.data.subarray(24))).toEqual(Array.from({ length: 24 }, (_, i) => -i - 0.5));
    expect(consumeWarnings()).toEqual([`${b}: origin or direction differs from ${a}`]);
  });
});
