// nnU-Net's image readers/writers for NIfTI (nnunetv2/imageio: simpleitk_reader_writer.py, nibabel_reader_writer.py).
// All three return float32 arrays of shape (C, X, Y, Z) in nnU-Net's naming, which is the file's voxel array with its
// axes reversed ((z, y, x) of the file), and `spacing` reversed the same way. Because NIfTI stores x fastest, that
// reversal is free: the file's voxel order already is the C order of the reversed shape.

import { InputError } from "../errors.js";
import { warn } from "../warnings.js";
import { affineFromItk, columnNorms, itkGeometry, type Mat4 } from "./nifti/affine.js";
import type { NiftiTypedArray } from "./nifti/datatypes.js";
import { applyOrientation, ioOrientation, isIdentityOrnt, orntTransform, reorientedAffine, type Ornt } from "./nifti/orientation.js";
import { readNifti, scaledFloat32, type NiftiImage } from "./nifti/read.js";
import { writeNifti } from "./nifti/write.js";

export type ReaderWriterName = "SimpleITKIO" | "NibabelIO" | "NibabelIOWithReorient";
export const READER_WRITER_NAMES: readonly ReaderWriterName[] = ["SimpleITKIO", "NibabelIO", "NibabelIOWithReorient"];

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

const NIFTI_ENDINGS = [".nii.gz", ".nii"];

function checkEnding(file: string): void {
  if (!NIFTI_ENDINGS.some((e) => file.endsWith(e))) {
    throw new InputError("unsupported file ending (only NIfTI .nii / .nii.gz images are supported)", { file });
  }
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
const close = (a: readonly number[], b: readonly number[], tol = 1e-5) => a.length === b.length && a.every((v, i) => Math.abs(v - b[i]!) <= tol + tol * Math.abs(b[i]!));

/** One channel as read by a reader: scaled float32 voxels in nnU-Net order plus its per-file properties. */
interface Channel {
  file: string;
  img: NiftiImage;
  /** nnU-Net-order shape without the channel axis. */
  shape: number[];
  /** Voxels after reorientation, in file order (only NibabelIOWithReorient replaces img.data). */
  voxels: NiftiImage;
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

async function readChannel(file: string, rw: ReaderWriterName): Promise<Channel> {
  checkEnding(file);
  const img = await readNifti(file);
  if (rw === "SimpleITKIO") {
    const fs = spatialShape(img);
    if (fs.length !== 2 && fs.length !== 3) throw new InputError(`unexpected number of dimensions: ${fs.length} (shape [${img.shape.join(", ")}]); nnU-Net reads 2-d and 3-d images`, { file });
    const g = itkGeometry(img.header);
    const rev = fs.slice().reverse();
    if (fs.length === 2) {
      // SimpleITKIO turns 2-d images into (1, 1, x, y) with a huge out-of-plane spacing so nothing is resampled along it.
      const maxSp = Math.max(...g.spacing);
      return { file, img, voxels: img, shape: [1, ...rev], spacing: [maxSp * 999, ...g.spacing.slice().reverse()], sitk: g };
    }
    return { file, img, voxels: img, shape: rev, spacing: g.spacing.slice().reverse(), sitk: g };
  }
  if (img.shape.length !== 3) throw new InputError(`${rw} needs a 3-d image, got shape [${img.shape.join(", ")}]`, { file });
  if (rw === "NibabelIO") {
    return { file, img, voxels: img, shape: img.shape.slice().reverse(), spacing: img.zooms.slice().reverse(), affine: img.affine };
  }
  const ornt = ioOrientation(img.affine);
  if (isIdentityOrnt(ornt)) {
    // nibabel's as_reoriented returns the image itself, so zooms stay the header's.
    return { file, img, voxels: img, shape: img.shape.slice().reverse(), spacing: img.zooms.slice().reverse(), affine: img.affine, reorientedAffine: img.affine.map((r) => r.slice()) };
  }
  const re = applyOrientation(img.data, img.shape, ornt);
  const reAff = reorientedAffine(img.affine, img.shape, ornt);
  // A new Nifti1Image built from the reoriented affine takes its zooms from the affine's column norms.
  const zooms = columnNorms(reAff);
  return {
    file, img, voxels: { ...img, data: re.data, shape: re.shape },
    shape: re.shape.slice().reverse(), spacing: zooms.slice().reverse(), affine: img.affine, reorientedAffine: reAff,
  };
}

function properties(c: Channel, rw: ReaderWriterName): ImageProperties {
  if (rw === "SimpleITKIO") return { sitk_stuff: c.sitk!, spacing: c.spacing };
  const nib: ImageProperties["nibabel_stuff"] = { original_affine: c.affine! };
  if (rw === "NibabelIOWithReorient") nib.reoriented_affine = c.reorientedAffine!;
  return { nibabel_stuff: nib, spacing: c.spacing };
}

/**
 * Reads the channels of one case and stacks them (float32, like upstream's np.vstack(..., dtype=np.float32)).
 * Different shapes or spacings between the channels are errors; a different origin/direction/affine is a warning,
 * as upstream only prints it.
 */
export async function readImages(files: string[], rw: ReaderWriterName = "SimpleITKIO"): Promise<ImageVolume> {
  if (files.length === 0) throw new InputError("readImages: no files given");
  const channels: Channel[] = [];
  for (const f of files) channels.push(await readChannel(f, rw));
  const first = channels[0]!;
  for (const c of channels.slice(1)) {
    if (!same(c.shape, first.shape)) {
      throw new InputError(`shape [${c.shape.join(", ")}] differs from [${first.shape.join(", ")}] of ${first.file}`, { file: c.file });
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
  const data = new Float32Array(n * channels.length);
  channels.forEach((c, k) => scaledFloat32(c.voxels, data, k * n, c.file));
  return { data, shape: [channels.length, ...first.shape], properties: properties(first, rw) };
}

/** Reads a segmentation the way upstream does: with the image reader, so C = 1 and float32. */
export async function readSeg(file: string, rw: ReaderWriterName = "SimpleITKIO"): Promise<ImageVolume> {
  return readImages([file], rw);
}

function toOnDiskSeg(seg: Uint8Array | Uint16Array | Int16Array): Uint8Array | Uint16Array {
  let max = -Infinity;
  for (let i = 0; i < seg.length; i++) if (seg[i]! > max) max = seg[i]!;
  // upstream: seg.astype(np.uint8 if np.max(seg) < 255 else np.uint16) (astype wraps negative values)
  if (max < 255) return seg instanceof Uint8Array ? seg : Uint8Array.from(seg, (v) => v & 0xff);
  return seg instanceof Uint16Array ? seg : Uint16Array.from(seg, (v) => v & 0xffff);
}

/**
 * Writes a segmentation (nnU-Net order [X, Y, Z], C-contiguous) with the geometry of the image it was predicted for.
 * SimpleITKIO copies spacing/origin/direction; NibabelIO the original affine; NibabelIOWithReorient undoes the
 * reorientation so the file lines up voxel for voxel with the original image.
 */
export async function writeSeg(seg: Uint8Array | Uint16Array | Int16Array, shape: number[], file: string, properties: ImageProperties, rw: ReaderWriterName = "SimpleITKIO"): Promise<void> {
  checkEnding(file);
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== seg.length) throw new InputError(`writeSeg: shape [${shape.join(", ")}] has ${n} voxels but the segmentation has ${seg.length}`, { file });
  let data: NiftiTypedArray = toOnDiskSeg(seg);
  let fileShape = shape.slice().reverse();
  let affine: Mat4;
  if (rw === "SimpleITKIO") {
    const s = properties.sitk_stuff;
    if (!s) throw new InputError("writeSeg(SimpleITKIO) needs properties.sitk_stuff", { file });
    if (s.spacing.length !== 2 && s.spacing.length !== 3) {
      throw new InputError(`writeSeg: sitk_stuff.spacing [${s.spacing.join(", ")}] is neither 2-d nor 3-d`, { file });
    }
    if (s.spacing.length === 2) {
      // 2-d: drop the leading singleton axis and embed the 2x2 direction in 3-d.
      if (shape[0] !== 1) throw new InputError(`writeSeg: a 2-d reference needs shape [1, x, y], got [${shape.join(", ")}]`, { file });
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
      const identity: Ornt = [[0, 1], [1, 1], [2, 1]];
      const back = orntTransform(identity, ioOrientation(nib.original_affine));
      const re = applyOrientation(data, fileShape, back);
      data = re.data;
      fileShape = re.shape;
    }
  }
  await writeNifti(file, data, fileShape, affine);
}
