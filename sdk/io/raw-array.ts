// Shared pieces of the small image format readers (MetaImage, NRRD, PNG, BMP, TIFF): numpy-named dtypes, voxel
// bytes to typed arrays in native order, and inflation bounded by the size the header declares. Every reader checks
// the declared size against the bytes it has (or the cap below) before it allocates, because the files are untrusted.

import { constants as bufferConstants } from "node:buffer";
import { promisify } from "node:util";
import * as zlib from "node:zlib";
import { InputError } from "../errors.js";

export type ArrayDtype = "uint8" | "int8" | "int16" | "uint16" | "int32" | "uint32" | "float32" | "float64" | "int64" | "uint64";

export type RawTypedArray =
  Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

export const DTYPE_BYTES: Record<ArrayDtype, number> = {
  uint8: 1,
  int8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  float32: 4,
  float64: 8,
  int64: 8,
  uint64: 8,
};

const CTORS: Record<ArrayDtype, { new (n: number): RawTypedArray }> = {
  uint8: Uint8Array,
  int8: Int8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
};

/**
 * The largest voxel buffer a reader allocates (4 GiB; a 1000 x 1024 x 1024 float32 CT is 4 GiB); larger declared
 * sizes are refused before reading.
 */
export const MAX_IMAGE_BYTES = Math.min(bufferConstants.MAX_LENGTH, 2 ** 32);

/** An n-d array as a file stores it, before any nnU-Net axis handling. */
export interface RawArray {
  dtype: ArrayDtype;
  /** C-order shape of `data` (slowest axis first). */
  shape: number[];
  data: RawTypedArray;
}

/** Checks dimensions read from a header and returns the element count; refuses sizes beyond MAX_IMAGE_BYTES. */
export function checkedCount(dims: readonly number[], bytesPerElement: number, file: string, what = "image"): number {
  if (dims.length === 0 || dims.some((d) => !Number.isSafeInteger(d) || d < 1)) {
    throw new InputError(`invalid ${what} size [${dims.join(", ")}] (each dimension must be a positive integer)`, { file });
  }
  let n = 1;
  for (const d of dims) n *= d;
  if (!Number.isSafeInteger(n) || n * bytesPerElement > MAX_IMAGE_BYTES) {
    throw new InputError(`${what} size [${dims.join(", ")}] declares ${n * bytesPerElement} bytes, more than the ${MAX_IMAGE_BYTES} this reader accepts`, {
      file,
    });
  }
  return n;
}

/** `n` elements of `dtype` copied out of `bytes` (little or big endian) into a new native-order typed array. */
export function typedFromBytes(dtype: ArrayDtype, bytes: Uint8Array, n: number, littleEndian: boolean, file: string): RawTypedArray {
  const size = DTYPE_BYTES[dtype];
  if (bytes.length < n * size) throw new InputError(`truncated voxel data (${bytes.length} of ${n * size} bytes)`, { file });
  const out = new CTORS[dtype](n);
  const o = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  o.set(bytes.subarray(0, n * size));
  if (!littleEndian && size > 1) for (let i = 0; i < o.length; i += size) o.subarray(i, i + size).reverse();
  return out;
}

export function allocArray(dtype: ArrayDtype, n: number): RawTypedArray {
  return new CTORS[dtype](n);
}

const inflateAsync = promisify(zlib.inflate);
const gunzipAsync = promisify(zlib.gunzip);
const inflateRawAsync = promisify(zlib.inflateRaw);

// deflate's best case is about 1032:1, so a stream that declares more than this many bytes per compressed byte lies.
const MAX_DEFLATE_RATIO = 1032;

/**
 * Inflates `bytes` (zlib, gzip or raw deflate) into at most `expected` bytes; a stream that would inflate to more
 * stops with an error instead of growing, and fewer bytes than expected is an error too (truncated data).
 */
export async function inflateBounded(bytes: Uint8Array, expected: number, kind: "zlib" | "gzip" | "raw", file: string): Promise<Uint8Array> {
  if (expected > bytes.length * MAX_DEFLATE_RATIO + 1024) {
    throw new InputError(`header declares ${expected} bytes of voxel data but only ${bytes.length} compressed bytes follow (deflate cannot expand that much)`, {
      file,
    });
  }
  const fn = kind === "zlib" ? inflateAsync : kind === "gzip" ? gunzipAsync : inflateRawAsync;
  let out: Buffer;
  try {
    out = await fn(bytes, { maxOutputLength: Math.max(1, expected) });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "ERR_BUFFER_TOO_LARGE" || e instanceof RangeError) {
      throw new InputError(`compressed voxel data inflates to more than the ${expected} bytes the header declares`, { file, cause: err });
    }
    throw new InputError(`corrupt ${kind === "gzip" ? "gzip" : "zlib"} data (${e.message})`, { file, cause: err });
  }
  if (out.length < expected) throw new InputError(`truncated voxel data (${out.length} of ${expected} bytes after decompression)`, { file });
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** Decimal text of a number as ITK/pynrrd-style headers carry it (shortest round-trip form, no exponent for integers). */
export function fmt(v: number): string {
  return Object.is(v, -0) ? "0" : String(v);
}

/** Numbers from a whitespace separated header value; null when any token is not a finite number. */
export function parseNumbers(s: string): number[] | null {
  const t = s
    .trim()
    .split(/\s+/)
    .filter((x) => x.length > 0);
  const v = t.map(Number);
  return v.some((x) => !Number.isFinite(x)) ? null : v;
}
