// nnU-Net's image readers/writers (nnunetv2/imageio: simpleitk_reader_writer.py, nibabel_reader_writer.py,
// natural_image_reader_writer.py, tif_reader_writer.py). All return float32 arrays of shape (C, X, Y, Z) in nnU-Net's
// naming, which is the file's voxel array with its axes reversed ((z, y, x) of the file), and `spacing` reversed the
// same way. Because NIfTI, MetaImage and NRRD store x fastest, that reversal is free: the file's voxel order already is
// the C order of the reversed shape. Natural images and TIFFs keep numpy's (row, column) order, as upstream does.

import * as path from "node:path";
import { promises as fsp } from "node:fs";
import { InputError } from "../errors.js";
import { warn } from "../warnings.js";
import { readJson, writeFileAtomic, writeJsonAtomic } from "../util/fs.js";
import { formatBmp, parseBmp } from "./bmp.js";
import { formatMetaImageHeader, parseMetaImage, type ItkImage } from "./metaimage.js";
import { affineFromItk, columnNorms, itkGeometry, type Mat4 } from "./nifti/affine.js";
import type { NiftiTypedArray } from "./nifti/datatypes.js";
import { applyOrientation, ioOrientation, isIdentityOrnt, orntTransform, reorientedAffine, type Ornt } from "./nifti/orientation.js";
import { readNifti, scaledFloat32, type NiftiImage } from "./nifti/read.js";
import { writeNifti } from "./nifti/write.js";
import { formatNrrdHeader, parseNrrd } from "./nrrd.js";
import { formatPng, parsePng } from "./png.js";
import type { RawArray, RawTypedArray } from "./raw-array.js";
import { formatTiff, parseTiff } from "./tiff.js";
import { deflateSync, gzipSync } from "node:zlib";

export type ReaderWriterName = "SimpleITKIO" | "NibabelIO" | "NibabelIOWithReorient" | "NaturalImage2DIO" | "Tiff3DIO";
export const READER_WRITER_NAMES: readonly ReaderWriterName[] = ["SimpleITKIO", "NibabelIO", "NibabelIOWithReorient", "NaturalImage2DIO", "Tiff3DIO"];

/** Each reader's supported_file_endings, in upstream's LIST_OF_IO_CLASSES order (the order file endings are matched in). */
export const SUPPORTED_FILE_ENDINGS: readonly [ReaderWriterName, readonly string[]][] = [
  ["NaturalImage2DIO", [".png", ".bmp", ".tif"]],
  ["SimpleITKIO", [".nii.gz", ".nrrd", ".mha", ".gipl"]],
  ["Tiff3DIO", [".tif", ".tiff"]],
  ["NibabelIO", [".nii.gz", ".nii"]],
  ["NibabelIOWithReorient", [".nii.gz", ".nii"]],
];

export interface ImageProperties {
  /** Voxel spacing in nnU-Net array order (file axes reversed). */
  spacing: number[];
  /** SimpleITKIO: geometry as SimpleITK reports it (LPS, file axis order, direction row-major). */
  sitk_stuff?: { spacing: number[]; origin: number[]; direction: number[] };
  /** NibabelIO / NibabelIOWithReorient: nibabel's RAS+ affine(s). */
  nibabel_stuff?: { original_affine: number[][]; reoriented_affine?: number[][] };
}

export interface ImageVolume {
  data: Float32Array;
  /** [C, X, Y, Z] in nnU-Net order, C-contiguous. */
  shape: number[];
  properties: ImageProperties;
}

const ENDINGS: Record<ReaderWriterName, readonly string[]> = {
  SimpleITKIO: [".nii.gz", ".nii", ".mha", ".nrrd"],
  NibabelIO: [".nii.gz", ".nii"],
  NibabelIOWithReorient: [".nii.gz", ".nii"],
  NaturalImage2DIO: [".png", ".bmp", ".tif"],
  Tiff3DIO: [".tif", ".tiff"],
};

function checkEnding(file: string, rw: ReaderWriterName): string {
  const lower = file.toLowerCase();
  const e = ENDINGS[rw].find((x) => lower.endsWith(x));
  if (!e) throw new InputError(`unsupported file ending for ${rw} (it reads ${ENDINGS[rw].join(", ")})`, { file });
  return e;
}

async function readBytes(file: string): Promise<Uint8Array> {
  try {
    const b = await fsp.readFile(file);
    return new Uint8Array(b.buffer, b.byteOffset, b.length);
  } catch (err) {
    throw new InputError((err as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (err as Error).message, { file, cause: err });
  }
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
const close = (a: readonly number[], b: readonly number[], tol = 1e-5) =>
  a.length === b.length && a.every((v, i) => Math.abs(v - b[i]!) <= tol + tol * Math.abs(b[i]!));

/** One file as read by a reader: its channels as float32 in nnU-Net order plus its per-file properties. */
interface Channel {
  file: string;
  /** Channels this file holds (4-d images and RGB(A) pictures hold several). */
  channels: number;
  /** nnU-Net-order shape without the channel axis. */
  shape: number[];
  /** Writes the scaled float32 voxels of all channels of this file into `out` at `offset`. */
  fill: (out: Float32Array, offset: number) => void;
  spacing: number[];
  sitk?: { spacing: number[]; origin: number[]; direction: number[] };
  affine?: Mat4;
  reorientedAffine?: Mat4;
}

/** Trailing singleton dimensions beyond the third are dropped, as ITK's NIfTI reader does for (x, y, z, 1) files. */
function spatialShape(img: NiftiImage): number[] {
  const s = img.shape.slice();
  while (s.length > 3 && s[s.length - 1] === 1) s.pop();
  return s;
}

function copyFloat(src: RawTypedArray, out: Float32Array, offset: number): void {
  if (src instanceof BigInt64Array || src instanceof BigUint64Array) for (let i = 0; i < src.length; i++) out[offset + i] = Number(src[i]!);
  else out.set(src, offset);
}

/**
 * SimpleITKIO's handling of an image of 2, 3 or 4 dimensions (file axis order): 2-d becomes (1, 1, y, x) with spacing
 * (999 * max, sy, sx), 3-d (1, z, y, x), 4-d (c, z, y, x) with the spatial spacing (several modalities in one file).
 */
function sitkChannel(file: string, size: number[], sitk: { spacing: number[]; origin: number[]; direction: number[] }, fill: Channel["fill"]): Channel {
  const rev = size.slice().reverse();
  const sp = sitk.spacing.slice().reverse().map(Math.abs);
  if (size.length === 2) return { file, channels: 1, shape: [1, ...rev], spacing: [Math.max(...sitk.spacing) * 999, ...sp], sitk, fill };
  if (size.length === 3) return { file, channels: 1, shape: rev, spacing: sp, sitk, fill };
  if (size.length === 4) return { file, channels: rev[0]!, shape: rev.slice(1), spacing: sp.slice(1), sitk, fill };
  throw new InputError(`unexpected number of dimensions: ${size.length} (size [${size.join(", ")}]); nnU-Net reads 2-d, 3-d and 4-d (channels last) images`, {
    file,
  });
}

/** ITK's geometry of a 4-d NIfTI: the spatial part from the header, the 4th axis with spacing pixdim[4] (1 if unset), origin 0 and no rotation. */
function itkGeometry4(img: NiftiImage): { spacing: number[]; origin: number[]; direction: number[] } {
  const g = itkGeometry(img.header);
  const dt = img.header.pixdim[4]!;
  const direction: number[] = [];
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) direction.push(r < 3 && c < 3 ? g.direction[3 * r + c]! : r === c ? 1 : 0);
  return { spacing: [...g.spacing, dt > 0 ? dt : 1], origin: [...g.origin, 0], direction };
}

async function readItkFile(file: string, ending: string): Promise<ItkImage> {
  const bytes = await readBytes(file);
  return ending === ".mha" ? parseMetaImage(bytes, file) : parseNrrd(bytes, file);
}

/** A picture as skimage.io.imread returns it (PNG, BMP, TIFF). */
async function readPicture(file: string, ending: string): Promise<RawArray> {
  const bytes = await readBytes(file);
  if (ending === ".png") return parsePng(bytes, file);
  if (ending === ".bmp") return parseBmp(bytes, file);
  return parseTiff(bytes, file);
}

/** Tiff3DIO's spacing file: `<case>.json` beside `<case>_0000.tif` (images) or beside `<case>.tif` (segmentations). */
async function tiffSpacing(auxFile: string, forFile: string): Promise<number[]> {
  try {
    await fsp.access(auxFile);
  } catch {
    warn(`no spacing file found for ${forFile} (expected ${auxFile}); assuming spacing (1, 1, 1), as Tiff3DIO does`);
    return [1, 1, 1];
  }
  const j = await readJson<{ spacing?: unknown }>(auxFile);
  const sp = j?.spacing;
  if (!Array.isArray(sp) || sp.length !== 3 || sp.some((x) => typeof x !== "number" || !(x > 0) || !Number.isFinite(x))) {
    throw new InputError(`"spacing" must be a list of 3 positive numbers, one for each dimension of the image (got ${JSON.stringify(sp)})`, { file: auxFile });
  }
  return sp as number[];
}

async function readChannel(file: string, rw: ReaderWriterName, opts: { auxFile?: string } = {}): Promise<Channel> {
  const ending = checkEnding(file, rw);
  if (rw === "NaturalImage2DIO") {
    const a = await readPicture(file, ending);
    const [h, w] = a.shape;
    if (a.shape.length === 2) return { file, channels: 1, shape: [1, h!, w!], spacing: [999, 1, 1], fill: (o, k) => copyFloat(a.data, o, k) };
    if (a.shape.length === 3 && (a.shape[2] === 3 || a.shape[2] === 4)) {
      const c = a.shape[2]!;
      // RGB(A) last -> channels first with a singleton z axis: (c, 1, h, w)
      const fill = (o: Float32Array, k: number) => {
        const src = a.data as Exclude<RawTypedArray, BigInt64Array | BigUint64Array>;
        for (let ch = 0; ch < c; ch++) for (let i = 0; i < h! * w!; i++) o[k + ch * h! * w! + i] = src[i * c + ch]!;
      };
      return { file, channels: c, shape: [1, h!, w!], spacing: [999, 1, 1], fill };
    }
    throw new InputError(
      `NaturalImage2DIO reads 2-d images: (h, w) grey or (h, w, 3|4) RGB(A); this one has shape (${a.shape.join(", ")}) (3-d TIFFs need Tiff3DIO)`,
      { file },
    );
  }
  if (rw === "Tiff3DIO") {
    const a = await readPicture(file, ".tif");
    if (a.shape.length !== 3) throw new InputError(`Tiff3DIO reads only 3-d images; this one has shape (${a.shape.join(", ")})`, { file });
    const spacing = await tiffSpacing(opts.auxFile!, file);
    return { file, channels: 1, shape: a.shape.slice(), spacing, fill: (o, k) => copyFloat(a.data, o, k) };
  }
  if (rw === "SimpleITKIO" && (ending === ".mha" || ending === ".nrrd")) {
    const img = await readItkFile(file, ending);
    return sitkChannel(file, img.size, { spacing: img.spacing, origin: img.origin, direction: img.direction }, (o, k) => copyFloat(img.data, o, k));
  }
  const img = await readNifti(file);
  const fillNifti = (v: NiftiImage) => (o: Float32Array, k: number) => void scaledFloat32(v, o, k, file);
  if (rw === "SimpleITKIO") {
    const fs = spatialShape(img);
    if (fs.length === 4) return sitkChannel(file, fs, itkGeometry4(img), fillNifti(img));
    if (fs.length !== 2 && fs.length !== 3) {
      throw new InputError(`unexpected number of dimensions: ${fs.length} (shape [${img.shape.join(", ")}]); nnU-Net reads 2-d, 3-d and 4-d images`, { file });
    }
    return sitkChannel(file, fs, itkGeometry(img.header), fillNifti(img));
  }
  if (img.shape.length !== 3) throw new InputError(`${rw} needs a 3-d image, got shape [${img.shape.join(", ")}]`, { file });
  if (rw === "NibabelIO") {
    return { file, channels: 1, fill: fillNifti(img), shape: img.shape.slice().reverse(), spacing: img.zooms.slice().reverse(), affine: img.affine };
  }
  const ornt = ioOrientation(img.affine);
  if (isIdentityOrnt(ornt)) {
    // nibabel's as_reoriented returns the image itself, so zooms stay the header's.
    return {
      file,
      channels: 1,
      fill: fillNifti(img),
      shape: img.shape.slice().reverse(),
      spacing: img.zooms.slice().reverse(),
      affine: img.affine,
      reorientedAffine: img.affine.map((r) => r.slice()),
    };
  }
  const re = applyOrientation(img.data, img.shape, ornt);
  const reAff = reorientedAffine(img.affine, img.shape, ornt);
  // A new Nifti1Image built from the reoriented affine takes its zooms from the affine's column norms.
  const zooms = columnNorms(reAff);
  return {
    file,
    channels: 1,
    fill: fillNifti({ ...img, data: re.data, shape: re.shape }),
    shape: re.shape.slice().reverse(),
    spacing: zooms.slice().reverse(),
    affine: img.affine,
    reorientedAffine: reAff,
  };
}

function properties(c: Channel, rw: ReaderWriterName): ImageProperties {
  if (rw === "SimpleITKIO") return { sitk_stuff: c.sitk!, spacing: c.spacing };
  if (rw === "NaturalImage2DIO" || rw === "Tiff3DIO") return { spacing: c.spacing };
  const nib: ImageProperties["nibabel_stuff"] = { original_affine: c.affine! };
  if (rw === "NibabelIOWithReorient") nib.reoriented_affine = c.reorientedAffine!;
  return { nibabel_stuff: nib, spacing: c.spacing };
}

/** Tiff3DIO's spacing file name: the first image's name less `_0000<ending>` (images) or less `<ending>` (segmentations), plus .json. */
function tiffAuxFile(file: string, isSeg: boolean): string {
  const ending = "." + file.split(".").pop()!;
  return file.slice(0, -(ending.length + (isSeg ? 0 : 5))) + ".json";
}

async function readCase(files: string[], rw: ReaderWriterName, isSeg: boolean): Promise<ImageVolume> {
  if (files.length === 0) throw new InputError("readImages: no files given");
  const channels: Channel[] = [];
  const auxFile = rw === "Tiff3DIO" ? tiffAuxFile(files[0]!, isSeg) : undefined;
  for (const f of files) channels.push(await readChannel(f, rw, { auxFile }));
  const first = channels[0]!;
  for (const c of channels.slice(1)) {
    if (!same(c.shape, first.shape) || c.channels !== first.channels) {
      const show = (x: Channel) => `[${x.channels > 1 ? `${x.channels} channels, ` : ""}${x.shape.join(", ")}]`;
      throw new InputError(`shape ${show(c)} differs from ${show(first)} of ${first.file}`, { file: c.file });
    }
    if (!close(c.spacing, first.spacing)) {
      throw new InputError(`spacing [${c.spacing.join(", ")}] differs from [${first.spacing.join(", ")}] of ${first.file}`, { file: c.file });
    }
    if (c.sitk && first.sitk && (!close(c.sitk.origin, first.sitk.origin) || !close(c.sitk.direction, first.sitk.direction))) {
      warn(`${c.file}: origin or direction differs from ${first.file}`);
    }
    if (c.affine && first.affine && !close(c.affine.flat(), first.affine.flat())) warn(`${c.file}: affine differs from ${first.file}`);
  }
  const n = first.shape.reduce((a, b) => a * b, 1);
  const total = channels.reduce((a, c) => a + c.channels, 0);
  const data = new Float32Array(n * total);
  let k = 0;
  for (const c of channels) {
    c.fill(data, k * n);
    k += c.channels;
  }
  return { data, shape: [total, ...first.shape], properties: properties(first, rw) };
}

/**
 * Reads the channels of one case and stacks them (float32, like upstream's np.vstack(..., dtype=np.float32)).
 * Different shapes or spacings between the channels are errors; a different origin/direction/affine is a warning,
 * as upstream only prints it.
 */
export async function readImages(files: string[], rw: ReaderWriterName = "SimpleITKIO"): Promise<ImageVolume> {
  return readCase(files, rw, false);
}

/** Reads a segmentation the way upstream does: with the image reader, so C = 1 and float32. */
export async function readSeg(file: string, rw: ReaderWriterName = "SimpleITKIO"): Promise<ImageVolume> {
  return readCase([file], rw, true);
}

function toOnDiskSeg(seg: Uint8Array | Uint16Array | Int16Array): Uint8Array | Uint16Array {
  let max = -Infinity;
  for (let i = 0; i < seg.length; i++) if (seg[i]! > max) max = seg[i]!;
  // upstream: seg.astype(np.uint8 if np.max(seg) < 255 else np.uint16) (astype wraps negative values)
  if (max < 255) return seg instanceof Uint8Array ? seg : Uint8Array.from(seg, (v) => v & 0xff);
  return seg instanceof Uint16Array ? seg : Uint16Array.from(seg, (v) => v & 0xffff);
}

/** The spatial (first 3 axes) part of a 4-d SimpleITK geometry, which is what a 3-d segmentation of it carries. */
function spatialGeometry(s: { spacing: number[]; origin: number[]; direction: number[] }): { spacing: number[]; origin: number[]; direction: number[] } {
  const nd = s.spacing.length;
  if (nd !== 4) return s;
  const direction: number[] = [];
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) direction.push(s.direction[r * 4 + c]!);
  return { spacing: s.spacing.slice(0, 3), origin: s.origin.slice(0, 3), direction };
}

/** SimpleITK's WriteImage(img, file, useCompression=True) for .mha (zlib) and .nrrd (gzip). */
async function writeItkFile(
  file: string,
  ending: string,
  data: Uint8Array | Uint16Array,
  size: number[],
  g: { spacing: number[]; origin: number[]; direction: number[] },
): Promise<void> {
  const img = { size, dtype: data instanceof Uint16Array ? ("uint16" as const) : ("uint8" as const), ...g };
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (ending === ".mha") {
    const z = deflateSync(raw);
    await writeFileAtomic(file, [formatMetaImageHeader(img, z.length), z]);
  } else {
    await writeFileAtomic(file, [formatNrrdHeader(img, true), gzipSync(raw)]);
  }
}

/**
 * Writes a segmentation (nnU-Net order [X, Y, Z], C-contiguous) with the geometry of the image it was predicted for.
 * SimpleITKIO copies spacing/origin/direction (a 4-d reference gives its spatial part: upstream's writer refuses 4-d
 * references); NibabelIO the original affine; NibabelIOWithReorient undoes the reorientation so the file lines up
 * voxel for voxel with the original image. NaturalImage2DIO writes the (1, h, w) slice as a picture; Tiff3DIO a
 * deflate-compressed 3-d TIFF plus `<name>.json` holding the spacing.
 */
export async function writeSeg(
  seg: Uint8Array | Uint16Array | Int16Array,
  shape: number[],
  file: string,
  properties: ImageProperties,
  rw: ReaderWriterName = "SimpleITKIO",
): Promise<void> {
  const ending = checkEnding(file, rw);
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== seg.length) throw new InputError(`writeSeg: shape [${shape.join(", ")}] has ${n} voxels but the segmentation has ${seg.length}`, { file });
  let data: NiftiTypedArray = toOnDiskSeg(seg);
  let fileShape = shape.slice().reverse();
  let affine: Mat4;
  if (rw === "NaturalImage2DIO") {
    if (shape.length !== 3 || shape[0] !== 1) throw new InputError(`writeSeg(NaturalImage2DIO) needs shape [1, h, w], got [${shape.join(", ")}]`, { file });
    const [, h, w] = shape as [number, number, number];
    const d = data as Uint8Array | Uint16Array;
    if (ending === ".png") return writeFileAtomic(file, formatPng(d, h, w));
    if (ending === ".tif") return writeFileAtomic(file, formatTiff(d, [h, w]));
    if (d instanceof Uint16Array) throw new InputError("writeSeg: BMP holds 8-bit values only, the segmentation has labels >= 255", { file });
    return writeFileAtomic(file, formatBmp(d, h, w));
  }
  if (rw === "Tiff3DIO") {
    if (shape.length !== 3) throw new InputError(`writeSeg(Tiff3DIO) needs a 3-d shape, got [${shape.join(", ")}]`, { file });
    await writeFileAtomic(file, formatTiff(data as Uint8Array | Uint16Array, shape));
    const base = path.basename(file);
    const e = base.split(".").pop()!;
    await writeJsonAtomic(path.join(path.dirname(file), base.slice(0, -(e.length + 1)) + ".json"), { spacing: properties.spacing });
    return;
  }
  if (rw === "SimpleITKIO") {
    const s0 = properties.sitk_stuff;
    if (!s0) throw new InputError("writeSeg(SimpleITKIO) needs properties.sitk_stuff", { file });
    const s = spatialGeometry(s0);
    if (s.spacing.length !== 2 && s.spacing.length !== 3) {
      throw new InputError(`writeSeg: sitk_stuff.spacing [${s.spacing.join(", ")}] is neither 2-d nor 3-d`, { file });
    }
    if (s.spacing.length === 2 && shape[0] !== 1) throw new InputError(`writeSeg: a 2-d reference needs shape [1, x, y], got [${shape.join(", ")}]`, { file });
    if (ending === ".mha" || ending === ".nrrd") {
      return writeItkFile(file, ending, data as Uint8Array | Uint16Array, s.spacing.length === 2 ? fileShape.slice(0, 2) : fileShape, s);
    }
    if (s.spacing.length === 2) {
      // 2-d: drop the leading singleton axis and embed the 2x2 direction in 3-d.
      fileShape = fileShape.slice(0, 2);
      const d = s.direction;
      affine = affineFromItk({ spacing: [...s.spacing, 1], origin: [...s.origin, 0], direction: [d[0]!, d[1]!, 0, d[2]!, d[3]!, 0, 0, 0, 1] });
    } else {
      affine = affineFromItk(s);
    }
  } else {
    const nib = properties.nibabel_stuff;
    if (!nib) throw new InputError(`writeSeg(${rw}) needs properties.nibabel_stuff`, { file });
    affine = nib.original_affine;
    if (rw === "NibabelIOWithReorient") {
      if (!nib.reoriented_affine) throw new InputError("writeSeg(NibabelIOWithReorient) needs nibabel_stuff.reoriented_affine", { file });
      const identity: Ornt = [
        [0, 1],
        [1, 1],
        [2, 1],
      ];
      const back = orntTransform(identity, ioOrientation(nib.original_affine));
      const re = applyOrientation(data, fileShape, back);
      data = re.data;
      fileShape = re.shape;
    }
  }
  await writeNifti(file, data, fileShape, affine);
}
