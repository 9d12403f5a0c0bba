// Reading NIfTI images: pure parsing from bytes (parseNifti) and a file wrapper that gunzips asynchronously on the
// libuv thread pool (readNifti), so notebooks stay responsive while large .nii.gz files decompress.

import { promises as fsp } from "node:fs";
import { promisify } from "node:util";
import * as zlib from "node:zlib";
import { InputError } from "../../errors.js";
import { bestAffine, type Mat4 } from "./affine.js";
import { allocTyped, viewTyped, type NiftiDtype, type NiftiTypedArray } from "./datatypes.js";
import { niftiShape, niftiZooms, parseNiftiHeader, type NiftiHeader } from "./header.js";

const gunzip = promisify(zlib.gunzip);

export interface NiftiImage {
  header: NiftiHeader;
  /** Voxel array shape in file order (x, y, z, ...), like nibabel's img.shape. */
  shape: number[];
  /** On-disk datatype as numpy names it. */
  dtype: NiftiDtype;
  /** Unscaled voxel values in native byte order, file (Fortran) order: x varies fastest. */
  data: NiftiTypedArray;
  /** nibabel's img.affine (RAS+): sform if sform_code > 0, else qform, else the base affine. */
  affine: Mat4;
  /** nibabel's header.get_zooms(). */
  zooms: number[];
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Parses a NIfTI-1/-2 byte buffer (gunzipped first if needed). `file` only names the source in errors. For little
 * endian files whose voxels are aligned, `data` is a view sharing memory with `bytes`.
 */
export function parseNifti(bytes: Uint8Array, file = "<bytes>"): NiftiImage {
  if (isGzip(bytes)) bytes = zlib.gunzipSync(bytes);
  const header = parseNiftiHeader(bytes, file);
  const shape = niftiShape(header);
  const n = shape.reduce((a, b) => a * b, 1);
  const { dtype, bytes: size } = header.dtypeInfo;
  const start = header.voxOffset;
  const end = start + n * size;
  if (bytes.length < end) throw new InputError(`truncated voxel data (${Math.max(0, bytes.length - start)} of ${n * size} bytes)`, { file });
  let data: NiftiTypedArray;
  if (header.littleEndian && (bytes.byteOffset + start) % size === 0) {
    // Zero-copy: a view on the (decompressed) buffer. Large volumes would otherwise exist twice in memory.
    data = viewTyped(dtype, bytes.buffer as ArrayBuffer, bytes.byteOffset + start, n);
  } else {
    data = allocTyped(dtype, n);
    const out = new Uint8Array(data.buffer);
    out.set(bytes.subarray(start, end));
    if (!header.littleEndian && size > 1) {
      for (let i = 0; i < out.length; i += size) out.subarray(i, i + size).reverse();
    }
  }
  return { header, shape, dtype, data, affine: bestAffine(header), zooms: niftiZooms(header) };
}

/** The file's bytes, gunzipped (asynchronously) when they start with the gzip magic. */
export async function readNiftiBytes(file: string): Promise<Uint8Array> {
  let raw: Buffer;
  try {
    raw = await fsp.readFile(file);
  } catch (err) {
    throw new InputError((err as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (err as Error).message, { file, cause: err });
  }
  if (!isGzip(raw)) return raw;
  try {
    return await gunzip(raw);
  } catch (err) {
    throw new InputError(`corrupt gzip data (${(err as Error).message})`, { file, cause: err });
  }
}

export async function readNifti(file: string): Promise<NiftiImage> {
  return parseNifti(await readNiftiBytes(file), file);
}

/**
 * nibabel's read scaling: a slope of 0 or a non-finite slope means "no scaling"; (1, 0) is the identity.
 * Returns null when no scaling applies. A valid slope with a non-finite intercept is an error (nibabel raises too).
 */
export function sclFactors(h: NiftiHeader, file = "<bytes>"): { slope: number; inter: number } | null {
  const { sclSlope: slope, sclInter: inter } = h;
  if (slope === 0 || !Number.isFinite(slope)) return null;
  if (!Number.isFinite(inter)) throw new InputError(`valid scl_slope ${slope} but invalid scl_inter ${inter}`, { file });
  if (slope === 1 && inter === 0) return null;
  return { slope, inter };
}

/**
 * The scaled voxel values as float32, like `np.asarray(img.get_fdata(), dtype=np.float32)`: scaling in float64
 * (slope and intercept are the header's float32 values widened), rounded once to float32. Written into `out` at
 * `offset` when given (to stack channels without an extra copy).
 */
export function scaledFloat32(img: NiftiImage, out?: Float32Array, offset = 0, file = "<bytes>"): Float32Array {
  const n = img.data.length;
  const dst = out ?? new Float32Array(n);
  const f = sclFactors(img.header, file);
  const src = img.data;
  if (src instanceof BigInt64Array || src instanceof BigUint64Array) {
    for (let i = 0; i < n; i++) dst[offset + i] = f ? Number(src[i]!) * f.slope + f.inter : Number(src[i]!);
  } else if (f) {
    const { slope, inter } = f;
    for (let i = 0; i < n; i++) dst[offset + i] = src[i]! * slope + inter;
  } else {
    dst.set(src, offset);
  }
  return dst;
}

/** min, max and mean of the scaled values (float64 arithmetic, like nibabel's get_fdata() statistics). */
export function scaledStats(img: NiftiImage, file = "<bytes>"): { min: number; max: number; mean: number } {
  const f = sclFactors(img.header, file);
  const slope = f?.slope ?? 1, inter = f?.inter ?? 0;
  const src = img.data;
  const big = src instanceof BigInt64Array || src instanceof BigUint64Array;
  let min = Infinity, max = -Infinity, sum = 0;
  for (let i = 0; i < src.length; i++) {
    const v = (big ? Number(src[i]!) : (src[i] as number)) * slope + inter;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  // NaN voxels make numpy's min/max/mean NaN; propagate the same way.
  if (Number.isNaN(sum)) return { min: NaN, max: NaN, mean: NaN };
  return { min, max, mean: src.length ? sum / src.length : NaN };
}
