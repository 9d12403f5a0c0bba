// Reading NIfTI images: pure parsing from bytes (parseNifti) and a file wrapper that gunzips asynchronously on the
// libuv thread pool (readNifti), so notebooks stay responsive while large .nii.gz files decompress. Decompression is
// bounded by what the header declares: images are untrusted input, and a few MB of gzip can inflate to gigabytes.

import { constants as bufferConstants } from "node:buffer";
import { promises as fsp } from "node:fs";
import * as zlib from "node:zlib";
import { InputError } from "../../errors.js";
import { ioError, isSystemError } from "../../util/fs.js";
import { bestAffine, type Mat4 } from "./affine.js";
import { allocTyped, viewTyped, type NiftiDtype, type NiftiTypedArray } from "./datatypes.js";
import { NIFTI1_HEADER_SIZE, NIFTI2_HEADER_SIZE, niftiShape, niftiZooms, parseNiftiHeader, sniffNifti, type NiftiHeader } from "./header.js";

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
 * Bytes a .nii.gz may inflate to beyond what its header declares (data after the last voxel is legal but unused).
 * More than this and the file is not what its header says: decompression stops before it can exhaust memory.
 */
export const INFLATE_SLACK = 1 << 20;
/** deflate's largest possible expansion (RFC 1951: a 258-byte match per 2 bits is 1032:1). */
const MAX_DEFLATE_RATIO = 1032;

/** Bytes the image takes according to its header: vox_offset plus the voxel data. */
export function declaredNiftiBytes(h: NiftiHeader): number {
  return h.voxOffset + niftiShape(h).reduce((a, b) => a * b, 1) * h.dtypeInfo.bytes;
}

/**
 * The limits checked before allocating for a file of `storedBytes` on disk: what the header declares must fit in one
 * buffer and, for gzip, be reachable from that much compressed data. Returns the declared size.
 */
function checkDeclaredSize(h: NiftiHeader, storedBytes: number, gzip: boolean, file: string): number {
  const declared = declaredNiftiBytes(h);
  const shape = `[${niftiShape(h).join(", ")}] ${h.dtypeInfo.dtype}`;
  if (!Number.isSafeInteger(declared) || declared > bufferConstants.MAX_LENGTH) {
    throw new InputError(`header declares ${shape}, ${declared} bytes, more than one buffer can hold (${bufferConstants.MAX_LENGTH})`, { file });
  }
  if (gzip && declared > storedBytes * MAX_DEFLATE_RATIO + INFLATE_SLACK) {
    const most = storedBytes * MAX_DEFLATE_RATIO;
    throw new InputError(
      `truncated or corrupt: header declares ${shape} (${declared} bytes) but ${storedBytes} bytes of gzip data inflate to at most ${most}`,
      { file },
    );
  }
  if (!gzip && declared > storedBytes) {
    throw new InputError(`truncated voxel data (${Math.max(0, storedBytes - h.voxOffset)} of ${declared - h.voxOffset} bytes)`, { file });
  }
  return declared;
}

/** The header at the start of decompressed bytes, with a one-line error when they are not NIfTI. */
function headerOf(bytes: Uint8Array, file: string): NiftiHeader {
  if (bytes.length >= 4 && !sniffNifti(bytes)) {
    throw new InputError("not a NIfTI file (the data does not start with a NIfTI-1/-2 header: sizeof_hdr is neither 348 nor 540)", { file });
  }
  return parseNiftiHeader(bytes, file);
}

const tooLarge = (declared: number, file: string) =>
  new InputError(`inflates to more than the ${declared} bytes its header declares (stopped after ${declared + INFLATE_SLACK}): not a valid NIfTI file`, {
    file,
  });

/**
 * gunzip with bounded output: the header is inflated first from a prefix of the stream, then the whole member with at
 * most the declared size plus INFLATE_SLACK of output, so a small file that inflates to gigabytes fails fast.
 */
export function gunzipNiftiSync(bytes: Uint8Array, file = "<bytes>"): Uint8Array {
  // a prefix of k compressed bytes inflates to at most 1032 k bytes: the header costs a few MB at worst
  let head: Uint8Array;
  for (let k = 4096; ; k *= 4) {
    const prefix = bytes.subarray(0, Math.min(k, bytes.length));
    try {
      head = zlib.gunzipSync(prefix, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    } catch (err) {
      throw new InputError(`corrupt gzip data (${(err as Error).message})`, { file, cause: err });
    }
    if (head.length >= NIFTI2_HEADER_SIZE || prefix.length === bytes.length) break;
  }
  const declared = checkDeclaredSize(headerOf(head, file), bytes.length, true, file);
  try {
    return zlib.gunzipSync(bytes, { maxOutputLength: declared + INFLATE_SLACK });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw tooLarge(declared, file);
    throw new InputError(`corrupt gzip data (${(err as Error).message})`, { file, cause: err });
  }
}

/**
 * Parses a NIfTI-1/-2 byte buffer (gunzipped first if needed, with the output bounded by the header). `file` only
 * names the source in errors. For little endian files whose voxels are aligned, `data` is a view sharing memory with
 * `bytes`.
 */
export function parseNifti(bytes: Uint8Array, file = "<bytes>"): NiftiImage {
  if (isGzip(bytes)) bytes = gunzipNiftiSync(bytes, file);
  const header = headerOf(bytes, file);
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

function openError(err: unknown, file: string): unknown {
  return (err as NodeJS.ErrnoException).code === "ENOENT" ? new InputError("file not found", { file, cause: err }) : ioError(err, "read", file);
}

/**
 * The file's bytes, gunzipped when they start with the gzip magic. Decompression streams (on the libuv thread pool):
 * the header is read from the first inflated bytes, a file that is not NIfTI stops there with one line, and the
 * output buffer is allocated once at the size the header declares; inflating beyond it (plus INFLATE_SLACK) stops.
 */
export async function readNiftiBytes(file: string): Promise<Uint8Array> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, "r");
  } catch (err) {
    throw openError(err, file);
  }
  let stored: number;
  const magic = new Uint8Array(2);
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw new InputError("is a folder, not an image file", { file });
    stored = st.size;
    await fh.read(magic, 0, 2, 0);
  } catch (err) {
    await fh.close();
    throw err instanceof InputError ? err : ioError(err, "read", file);
  }
  if (!isGzip(magic)) {
    try {
      const head = new Uint8Array(Math.min(stored, NIFTI2_HEADER_SIZE));
      await fh.read(head, 0, head.length, 0);
      checkDeclaredSize(headerOf(head, file), stored, false, file);
      return await fh.readFile();
    } catch (err) {
      throw err instanceof InputError ? err : ioError(err, "read", file);
    } finally {
      await fh.close();
    }
  }
  const input = fh.createReadStream({ start: 0, highWaterMark: 1 << 20 });
  const inflate = zlib.createGunzip({ chunkSize: 1 << 20 });
  input.on("error", (err) => inflate.destroy(err));
  input.pipe(inflate);
  const head: Buffer[] = [];
  let headLength = 0;
  let out: Uint8Array | null = null;
  let declared = 0;
  let total = 0;
  try {
    for await (const chunk of inflate as AsyncIterable<Buffer>) {
      if (out === null) {
        head.push(chunk);
        headLength += chunk.length;
        if (headLength < NIFTI2_HEADER_SIZE) {
          const first = Buffer.concat(head);
          // decide as soon as sizeof_hdr is there: a file that is not NIfTI stops after its first inflated bytes
          if (first.length >= 4 && !sniffNifti(first)) headerOf(first, file);
          if (first.length < NIFTI1_HEADER_SIZE || sniffNifti(first)!.version === 2) continue;
        }
        const first = Buffer.concat(head);
        declared = checkDeclaredSize(headerOf(first, file), stored, true, file);
        out = new Uint8Array(declared);
        out.set(first.subarray(0, Math.min(first.length, declared)));
        total = first.length;
        head.length = 0;
      } else {
        if (total < declared) out.set(chunk.subarray(0, Math.min(chunk.length, declared - total)), total);
        total += chunk.length;
      }
      if (total > declared + INFLATE_SLACK) throw tooLarge(declared, file);
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    if (isSystemError(err)) throw ioError(err, "read", file);
    throw new InputError(`corrupt gzip data (${(err as Error).message})`, { file, cause: err });
  } finally {
    input.destroy();
    inflate.destroy();
    await fh.close().catch(() => {});
  }
  if (out === null) return Buffer.concat(head); // shorter than a header: parseNifti says what is wrong
  return total < declared ? out.subarray(0, total) : out;
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
  const slope = f?.slope ?? 1,
    inter = f?.inter ?? 0;
  const src = img.data;
  const big = src instanceof BigInt64Array || src instanceof BigUint64Array;
  let min = Infinity,
    max = -Infinity,
    sum = 0;
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
