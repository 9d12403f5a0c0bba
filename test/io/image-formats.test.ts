// The other image formats nnU-Net reads, against files written by tools that are not ours: ITK (through Debian's
// plastimatch) and teem's unu for .mha/.nrrd, Pillow/tifffile/skimage for .png/.bmp/.tif, nibabel for 4-d NIfTI.
// And the other way: files we write, read by those tools. Geometry oracle for .mha/.nrrd: `plastimatch header`
// (ITK's origin/spacing/direction) and our SimpleITKIO reading of the NIfTI the file was converted from.
// Under CI=true a missing tool fails the test (the tools come from scripts/install-system-deps.sh).

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { deflateSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { readImages, readSeg, writeSeg } from "../../sdk/io/image-io.js";
import { determineReaderWriter } from "../../sdk/dataset/raw.js";
import { InputError } from "../../sdk/errors.js";
import { pythonSkipReason, runPython, runPythonJson } from "../helpers/python.js";

const ci = process.env.CI === "true";
const which = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const pySkip = pythonSkipReason(["nibabel", "numpy", "PIL", "tifffile", "skimage"]);
const toolSkip =
  [
    pySkip,
    which("plastimatch") ? null : "plastimatch not found (apt-get install plastimatch)",
    which("teem-unu") ? null : "teem-unu not found (apt-get install teem-apps)",
  ]
    .filter(Boolean)
    .join("; ") || null;
if (ci && toolSkip) throw new Error(`CI=true but the oracles are missing: ${toolSkip}`);
const tmp = () => mkdtempSync(path.join(tmpdir(), "nnssl-formats-"));

/** `plastimatch header` output -> ITK geometry numbers. */
function itkHeader(file: string): { origin: number[]; spacing: number[]; direction: number[]; size: number[] } {
  const out = execFileSync("plastimatch", ["header", file], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  const get = (k: string) =>
    /^(\w+) = (.*)$/m
      .exec(out.split("\n").find((l) => l.startsWith(k + " ")) ?? "")![2]!
      .trim()
      .split(/\s+/)
      .map(Number);
  return { origin: get("Origin"), spacing: get("Spacing"), direction: get("Direction"), size: get("Size") };
}

const closeList = (a: number[], b: number[], tol: number) => {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => expect(Math.abs(v - b[i]!)).toBeLessThanOrEqual(tol));
};

describe.skipIf(toolSkip)(`.mha / .nrrd through SimpleITKIO${toolSkip ? ` (skipped: ${toolSkip})` : ""}`, () => {
  let dir: string;
  beforeAll(() => {
    dir = tmp();
    // An oblique, flipped affine and int16 voxels with a known pattern, written by nibabel and converted by ITK.
    runPython(
      `
import sys, numpy as np, nibabel as nib
d = sys.argv[1]
a = (np.arange(5*6*7, dtype=np.int16).reshape(5, 6, 7) * 3 - 50)
c, s = np.cos(0.3), np.sin(0.3)
aff = np.array([[0, -2*c, 2*s, 10.5], [1.5, 0, 0, -5.25], [0, 2*s*0+0.0, 0, 7], [0, 0, 0, 1]], float)
aff[:3, :3] = np.array([[0, -2*c, -3*s], [1.5, 0, 0], [0, -2*s, 3*c]])
nib.save(nib.Nifti1Image(a, aff), d + '/img.nii.gz')
np.arange(4*5, dtype=np.uint8).tofile(d + '/flat.raw')
# a 2-d MetaImage written by the format's spec (a few lines of Python): x = 5 columns, y = 4 rows
open(d + '/flat.mha', 'wb').write(b'ObjectType = Image\\nNDims = 2\\nDimSize = 5 4\\nElementSpacing = 0.7 1.3\\nOffset = 1 2\\nTransformMatrix = 1 0 0 1\\nElementType = MET_UCHAR\\nElementDataFile = LOCAL\\n' + np.arange(20, dtype=np.uint8).tobytes())
`,
      [dir],
    );
    for (const [src, dst] of [
      ["img.nii.gz", "img.mha"],
      ["img.nii.gz", "img.nrrd"],
    ]) {
      execFileSync("plastimatch", ["convert", "--input", path.join(dir, src!), "--output-img", path.join(dir, dst!)], { stdio: "ignore" });
    }
    // a 2-d NRRD made by teem's unu (per-axis "spacings", no space directions)
    execFileSync(
      "teem-unu",
      ["make", "-i", path.join(dir, "flat.raw"), "-t", "uchar", "-s", "5", "4", "-sp", "0.7", "1.3", "-e", "raw", "-o", path.join(dir, "flat.nrrd")],
      { stdio: "ignore" },
    );
    // teem's unu re-encodes ITK's NRRD as raw, ascii and big-endian gzip
    for (const [enc, extra] of [
      ["raw", []],
      ["ascii", []],
      ["gzip", ["-en", "big"]],
    ] as [string, string[]][]) {
      execFileSync("teem-unu", ["save", "-f", "nrrd", "-e", enc, ...extra, "-i", path.join(dir, "img.nrrd"), "-o", path.join(dir, `img_${enc}.nrrd`)], {
        stdio: "ignore",
      });
    }
  });

  it("gives ITK's spacing, origin and direction and the voxels of the NIfTI they came from", async () => {
    const ref = await readImages([path.join(dir, "img.nii.gz")], "SimpleITKIO");
    for (const f of ["img.mha", "img.nrrd", "img_raw.nrrd", "img_ascii.nrrd", "img_gzip.nrrd"]) {
      const v = await readImages([path.join(dir, f)], "SimpleITKIO");
      expect(v.shape, f).toEqual([1, 7, 6, 5]);
      expect(v.data, f).toEqual(ref.data);
      const s = v.properties.sitk_stuff!;
      closeList(s.spacing, ref.properties.sitk_stuff!.spacing, 1e-5);
      closeList(s.origin, ref.properties.sitk_stuff!.origin, 1e-5);
      closeList(s.direction, ref.properties.sitk_stuff!.direction, 1e-5);
      const h = itkHeader(path.join(dir, f.startsWith("img_") ? "img.nrrd" : f));
      closeList(s.spacing, h.spacing, 1e-4);
      closeList(s.origin, h.origin, 1e-4);
      closeList(s.direction, h.direction, 1e-4);
      closeList(v.properties.spacing, s.spacing.slice().reverse(), 1e-12);
    }
  });

  it("reads 2-d .mha / .nrrd as (1, 1, y, x) with spacing (999 * max, sy, sx)", async () => {
    for (const f of ["flat.mha", "flat.nrrd"]) {
      const v = await readImages([path.join(dir, f)], "SimpleITKIO");
      expect(v.shape).toEqual([1, 1, 4, 5]);
      expect(Array.from(v.data)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      closeList(v.properties.spacing, [1.3 * 999, 1.3, 0.7], 1e-9);
      expect(v.properties.sitk_stuff!.direction).toEqual([1, 0, 0, 1]);
      expect(v.properties.sitk_stuff!.origin).toEqual(f === "flat.mha" ? [1, 2] : [0, 0]);
    }
  });

  it("reads a zlib-compressed .mha written by the MetaImage spec (Python zlib, a few lines)", async () => {
    const raw = readFileSync(path.join(dir, "img.mha"));
    const text = raw.subarray(0, raw.indexOf("ElementDataFile = LOCAL\n") + 24).toString("latin1");
    const body = raw.subarray(text.length);
    const z = deflateSync(body);
    const f = path.join(dir, "img_z.mha");
    writeFileSync(
      f,
      Buffer.concat([Buffer.from(text.replace("CompressedData = False", `CompressedData = True\nCompressedDataSize = ${z.length}`), "latin1"), z]),
    );
    const a = await readImages([f], "SimpleITKIO");
    const b = await readImages([path.join(dir, "img.mha")], "SimpleITKIO");
    expect(a.data).toEqual(b.data);
    expect(a.properties).toEqual(b.properties);
  });

  it("writes .mha and .nrrd that ITK reads with the same geometry and labels", async () => {
    const ref = await readImages([path.join(dir, "img.nii.gz")], "SimpleITKIO");
    const seg = new Uint8Array(7 * 6 * 5).map((_, i) => i % 4);
    for (const e of [".mha", ".nrrd"]) {
      const out = path.join(dir, `pred${e}`);
      await writeSeg(seg, [7, 6, 5], out, ref.properties, "SimpleITKIO");
      const h = itkHeader(out);
      expect(h.size).toEqual([5, 6, 7]);
      closeList(h.spacing, ref.properties.sitk_stuff!.spacing, 1e-4);
      closeList(h.origin, ref.properties.sitk_stuff!.origin, 1e-4);
      closeList(h.direction, ref.properties.sitk_stuff!.direction, 1e-4);
      const nii = path.join(dir, `pred${e}.nii`);
      execFileSync("plastimatch", ["convert", "--input", out, "--output-img", nii], { stdio: "ignore" });
      const vals = runPythonJson<number[]>(
        "import sys, json, nibabel as nib, numpy as np; print(json.dumps(np.asarray(nib.load(sys.argv[1]).dataobj).transpose(2,1,0).ravel().tolist()))",
        [nii],
      );
      expect(vals).toEqual(Array.from(seg));
      const back = await readSeg(out, "SimpleITKIO");
      expect(Array.from(back.data)).toEqual(Array.from(seg));
      expect(back.properties.sitk_stuff!.direction.map((x) => +x.toFixed(12))).toEqual(ref.properties.sitk_stuff!.direction.map((x) => +x.toFixed(12)));
    }
  });

  it("refuses bombs and lies before allocating", async () => {
    const f = path.join(dir, "bomb.mha");
    const z = deflateSync(new Uint8Array(1 << 20));
    writeFileSync(
      f,
      Buffer.concat([
        Buffer.from("ObjectType = Image\nNDims = 3\nDimSize = 10 10 10\nElementType = MET_UCHAR\nCompressedData = True\nElementDataFile = LOCAL\n"),
        z,
      ]),
    );
    await expect(readImages([f], "SimpleITKIO")).rejects.toThrow(/bomb\.mha: compressed voxel data inflates to more than the 1000 bytes/);
    writeFileSync(f, "ObjectType = Image\nNDims = 3\nDimSize = 100000 100000 100000\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n");
    await expect(readImages([f], "SimpleITKIO")).rejects.toThrow(/declares 1000000000000000 bytes/);
    writeFileSync(f, "ObjectType = Image\nNDims = 3\nDimSize = 1000 1000 1000\nElementType = MET_UCHAR\nCompressedData = True\nElementDataFile = LOCAL\nxx");
    await expect(readImages([f], "SimpleITKIO")).rejects.toThrow(/only 2 compressed bytes follow/);
    const n = path.join(dir, "short.nrrd");
    writeFileSync(n, "NRRD0004\ntype: short\ndimension: 3\nsizes: 4 4 4\nencoding: raw\n\n\x01\x02");
    await expect(readImages([n], "SimpleITKIO")).rejects.toThrow(InputError);
    await expect(readImages([n], "SimpleITKIO")).rejects.toThrow(/short\.nrrd: truncated voxel data \(2 of 128 bytes\)/);
  });
});

describe.skipIf(pySkip)(`4-d NIfTI through SimpleITKIO${pySkip ? ` (skipped: ${pySkip})` : ""}`, () => {
  it("reads (x, y, z, c) as c channels (c, z, y, x) with the spatial spacing, like SimpleITK + SimpleITKIO", async () => {
    const dir = tmp();
    runPython(
      `
import sys, numpy as np, nibabel as nib
a = np.arange(4*5*6*2, dtype=np.float32).reshape(4, 5, 6, 2)
nib.save(nib.Nifti1Image(a, np.diag([0.5, 0.75, 2.0, 1])), sys.argv[1] + '/four_0000.nii.gz')
np.save(sys.argv[1] + '/ref.npy', a.transpose(3, 2, 1, 0).copy())
`,
      [dir],
    );
    const v = await readImages([path.join(dir, "four_0000.nii.gz")], "SimpleITKIO");
    expect(v.shape).toEqual([2, 6, 5, 4]);
    expect(v.properties.spacing).toEqual([2, 0.75, 0.5]);
    expect(v.properties.sitk_stuff!.spacing).toHaveLength(4);
    const ref = readFileSync(path.join(dir, "ref.npy"));
    const hl = ref.readUInt16LE(8);
    expect(Array.from(v.data)).toEqual(Array.from(new Float32Array(ref.buffer.slice(ref.byteOffset + 10 + hl, ref.byteOffset + ref.length))));
    // a 3-d prediction for it is written with the spatial geometry
    const out = path.join(dir, "pred.nii.gz");
    await writeSeg(new Uint8Array(6 * 5 * 4), [6, 5, 4], out, v.properties, "SimpleITKIO");
    const z = runPythonJson<number[]>("import sys, json, nibabel as nib; print(json.dumps([float(x) for x in nib.load(sys.argv[1]).header.get_zooms()]))", [
      out,
    ]);
    expect(z).toEqual([0.5, 0.75, 2]);
  });
});

describe.skipIf(pySkip)(`natural images and TIFFs${pySkip ? ` (skipped: ${pySkip})` : ""}`, () => {
  let dir: string;
  let expected: Record<string, { shape: number[]; values: number[] }>;
  beforeAll(() => {
    dir = tmp();
    // Each file written by Pillow or tifffile; the oracle is skimage.io.imread (what NaturalImage2DIO calls) or
    // tifffile.imread (Tiff3DIO).
    expected = runPythonJson(
      `
import sys, json, numpy as np, tifffile
from PIL import Image
from skimage import io
d = sys.argv[1]
rng = np.random.RandomState(0)
g8 = rng.randint(0, 256, (7, 9)).astype(np.uint8)
g16 = rng.randint(0, 65536, (5, 6)).astype(np.uint16)
rgb = rng.randint(0, 256, (6, 5, 3)).astype(np.uint8)
rgba = rng.randint(0, 256, (4, 3, 4)).astype(np.uint8)
Image.fromarray(g8).save(d + '/g8.png')
Image.fromarray(g16).save(d + '/g16.png')
Image.fromarray(rgb).save(d + '/rgb.png')
Image.fromarray(rgba).save(d + '/rgba.png')
p = Image.fromarray((g8 % 5).astype(np.uint8), mode='P'); p.putpalette([0,0,0, 40,40,40, 80,80,80, 7,7,7, 9,9,9]); p.save(d + '/pal.png'); p.save(d + '/pal.bmp')
p.putpalette([0,0,0, 255,0,0, 0,255,0, 0,0,255, 9,9,9]); p.save(d + '/cpal.png')
Image.fromarray(g8).save(d + '/g8.bmp')
Image.fromarray(rgb).save(d + '/rgb.bmp')
Image.fromarray(g8).save(d + '/g8.tif')
Image.fromarray(g8).save(d + '/g8_lzw.tif', compression='tiff_lzw')
Image.fromarray(g8).save(d + '/g8_pack.tif', compression='packbits')
tifffile.imwrite(d + '/rgb.tif', rgb, photometric='rgb')
v3 = rng.randint(0, 3000, (4, 5, 6)).astype(np.int16)
tifffile.imwrite(d + '/v3.tif', v3)
tifffile.imwrite(d + '/v3z.tif', v3, compression='zlib')
tifffile.imwrite(d + '/v3p.tif', v3.astype(np.uint16), compression='zlib', predictor=True)
tifffile.imwrite(d + '/f3.tif', rng.rand(3, 4, 5).astype(np.float32))
out = {}
for f in ['g8.png', 'g16.png', 'rgb.png', 'rgba.png', 'pal.png', 'pal.bmp', 'g8.bmp', 'rgb.bmp', 'g8.tif', 'g8_lzw.tif', 'g8_pack.tif', 'rgb.tif', 'v3.tif', 'v3z.tif', 'v3p.tif', 'f3.tif']:
    # Debian's tifffile has no LZW codec (imagecodecs), so Pillow reads that one
    a = np.asarray(Image.open(d + '/' + f)) if 'lzw' in f else io.imread(d + '/' + f) if not f.startswith(('v3', 'f3')) else tifffile.imread(d + '/' + f)
    out[f] = {'shape': list(a.shape), 'values': a.astype(np.float64).ravel().tolist()}
print(json.dumps(out))
`,
      [dir],
    );
  });

  it("NaturalImage2DIO gives (c, 1, h, w) with RGB(A) channels first and spacing (999, 1, 1)", async () => {
    for (const f of ["g8.png", "g16.png", "rgb.png", "rgba.png", "pal.png", "pal.bmp", "g8.bmp", "rgb.bmp", "g8.tif", "g8_lzw.tif", "g8_pack.tif", "rgb.tif"]) {
      const e = expected[f]!;
      const v = await readImages([path.join(dir, f)], "NaturalImage2DIO");
      const [h, w, c = 1] = e.shape;
      expect(v.shape, f).toEqual([c, 1, h, w]);
      expect(v.properties).toEqual({ spacing: [999, 1, 1] });
      // channels first: value (ch, y, x) = e[(y * w + x) * c + ch]
      const want = new Float32Array(c * h! * w!);
      for (let ch = 0; ch < c; ch++) for (let i = 0; i < h! * w!; i++) want[ch * h! * w! + i] = e.values[i * c + ch]!;
      expect(v.data, f).toEqual(want);
    }
    await expect(readImages([path.join(dir, "cpal.png")], "NaturalImage2DIO")).rejects.toThrow(/cpal\.png: colour palette image/);
  });

  it("Tiff3DIO gives (1, z, y, x) with the spacing of <case>.json, or (1, 1, 1) with a warning", async () => {
    writeFileSync(path.join(dir, "v3.json"), JSON.stringify({ spacing: [2.5, 0.5, 0.75] }));
    for (const f of ["v3.tif", "v3z.tif", "v3p.tif", "f3.tif"]) {
      const e = expected[f]!;
      const v = await readSeg(path.join(dir, f), "Tiff3DIO");
      expect(v.shape, f).toEqual([1, ...e.shape]);
      expect(Array.from(v.data), f).toEqual(Array.from(Float32Array.from(e.values)));
      expect(v.properties.spacing).toEqual(f === "v3.tif" ? [2.5, 0.5, 0.75] : [1, 1, 1]);
    }
    // images: case_0000.tif finds case.json
    writeFileSync(path.join(dir, "case_0000.tif"), readFileSync(path.join(dir, "v3z.tif")));
    writeFileSync(path.join(dir, "case.json"), JSON.stringify({ spacing: [3, 1, 1] }));
    expect((await readImages([path.join(dir, "case_0000.tif")], "Tiff3DIO")).properties.spacing).toEqual([3, 1, 1]);
    writeFileSync(path.join(dir, "case.json"), JSON.stringify({ spacing: [3, 0, 1] }));
    await expect(readImages([path.join(dir, "case_0000.tif")], "Tiff3DIO")).rejects.toThrow(/case\.json: "spacing" must be a list of 3 positive numbers/);
    await expect(readImages([path.join(dir, "g8.tif")], "Tiff3DIO")).rejects.toThrow(/Tiff3DIO reads only 3-d images/);
    await expect(readImages([path.join(dir, "v3.tif")], "NaturalImage2DIO")).rejects.toThrow(/3-d TIFFs need Tiff3DIO/);
  });

  it("picks the reader from file_ending like upstream (a .tif is tried with NaturalImage2DIO first)", () => {
    const j = (e: string) => ({ channel_names: { 0: "x" }, labels: { background: 0 }, numTraining: 1, file_ending: e });
    expect(determineReaderWriter(j(".png"))).toBe("NaturalImage2DIO");
    expect(determineReaderWriter(j(".mha"))).toBe("SimpleITKIO");
    expect(determineReaderWriter(j(".nrrd"))).toBe("SimpleITKIO");
    expect(determineReaderWriter(j(".nii.gz"))).toBe("SimpleITKIO");
    expect(determineReaderWriter(j(".nii"))).toBe("NibabelIO");
    expect(determineReaderWriter(j(".tiff"))).toBe("Tiff3DIO");
    expect(determineReaderWriter(j(".tif"), undefined, path.join(dir, "g8.tif"))).toBe("NaturalImage2DIO");
    expect(determineReaderWriter(j(".tif"), undefined, path.join(dir, "v3.tif"))).toBe("Tiff3DIO");
    expect(() => determineReaderWriter(j(".jpg"), "dataset.json")).toThrow(/dataset\.json: file_ending "\.jpg" is not supported/);
  });

  it("writes predictions that skimage / tifffile read back", async () => {
    const seg = new Uint8Array(7 * 9).map((_, i) => i % 3);
    const big = new Uint16Array(7 * 9).map((_, i) => i * 300);
    for (const f of ["p.png", "p.bmp", "p.tif", "p16.png", "p16.tif"]) {
      await writeSeg(f.includes("16") ? big : seg, [1, 7, 9], path.join(dir, f), { spacing: [999, 1, 1] }, "NaturalImage2DIO");
    }
    const vol = new Uint8Array(4 * 5 * 6).map((_, i) => (i * 7) % 5);
    await writeSeg(vol, [4, 5, 6], path.join(dir, "p3.tif"), { spacing: [2, 1, 0.5] }, "Tiff3DIO");
    const got = runPythonJson<Record<string, { shape: number[]; dtype: string; values: number[] }>>(
      `
import sys, json, numpy as np, tifffile
from skimage import io
d = sys.argv[1]
out = {}
for f in ['p.png', 'p.bmp', 'p.tif', 'p16.png', 'p16.tif', 'p3.tif']:
    a = tifffile.imread(d + '/' + f) if f == 'p3.tif' else io.imread(d + '/' + f)
    out[f] = {'shape': list(a.shape), 'dtype': str(a.dtype), 'values': a.ravel().tolist()}
print(json.dumps(out))`,
      [dir],
    );
    for (const f of ["p.png", "p.bmp", "p.tif"]) expect(got[f]).toEqual({ shape: [7, 9], dtype: "uint8", values: Array.from(seg) });
    for (const f of ["p16.png", "p16.tif"]) expect(got[f]).toEqual({ shape: [7, 9], dtype: "uint16", values: Array.from(big) });
    expect(got["p3.tif"]).toEqual({ shape: [4, 5, 6], dtype: "uint8", values: Array.from(vol) });
    expect(JSON.parse(readFileSync(path.join(dir, "p3.json"), "utf8"))).toEqual({ spacing: [2, 1, 0.5] });
    expect(existsSync(path.join(dir, "p3.json"))).toBe(true);
    await expect(writeSeg(big, [1, 7, 9], path.join(dir, "x.bmp"), { spacing: [999, 1, 1] }, "NaturalImage2DIO")).rejects.toThrow(
      /BMP holds 8-bit values only/,
    );
  });
});

describe("corrupt files", () => {
  it("every truncation or byte flip of each format ends in a typed error naming the file, or a successful read", async () => {
    const { parseMetaImage } = await import("../../sdk/io/metaimage.js");
    const { parseNrrd } = await import("../../sdk/io/nrrd.js");
    const { formatPng, parsePng } = await import("../../sdk/io/png.js");
    const { formatBmp, parseBmp } = await import("../../sdk/io/bmp.js");
    const { formatTiff, parseTiff } = await import("../../sdk/io/tiff.js");
    const { parseB2nd } = await import("../../sdk/io/b2nd.js");
    const { NnsslAdaptError } = await import("../../sdk/errors.js");
    const dir = tmp();
    const g = { spacing: [1, 2, 3], origin: [0, 1, 2], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
    const seg = new Uint8Array(4 * 5 * 6).map((_, i) => i % 7);
    await writeSeg(seg, [4, 5, 6], path.join(dir, "s.mha"), { spacing: [3, 2, 1], sitk_stuff: g }, "SimpleITKIO");
    await writeSeg(seg, [4, 5, 6], path.join(dir, "s.nrrd"), { spacing: [3, 2, 1], sitk_stuff: g }, "SimpleITKIO");
    const files: [string, Uint8Array, (b: Uint8Array, f: string) => unknown][] = [
      ["s.mha", new Uint8Array(readFileSync(path.join(dir, "s.mha"))), parseMetaImage],
      ["s.nrrd", new Uint8Array(readFileSync(path.join(dir, "s.nrrd"))), parseNrrd],
      ["s.png", formatPng(seg.subarray(0, 30), 5, 6), parsePng],
      ["s.bmp", formatBmp(seg.subarray(0, 30), 5, 6), parseBmp],
      ["s.tif", formatTiff(seg, [4, 5, 6]), parseTiff],
      ["s.b2nd", new Uint8Array(readFileSync(path.resolve("test/fixtures/b2nd/synthetic/u8_edges.b2nd"))), parseB2nd],
    ];
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const untyped: string[] = [];
    for (const [name, orig, parse] of files) {
      for (let t = 0; t < 300; t++) {
        let b = orig.slice();
        if (t % 3 === 0) b = b.subarray(0, Math.floor(rnd() * b.length));
        else for (let k = 0; k < 1 + Math.floor(rnd() * 4); k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
        try {
          await parse(b, name);
        } catch (err) {
          if (!(err instanceof NnsslAdaptError) || !(err as Error).message.startsWith(`${name}: `))
            untyped.push(`${name}: ${(err as Error).constructor.name} ${(err as Error).message}`);
        }
      }
    }
    expect(untyped).toEqual([]);
  });
});
