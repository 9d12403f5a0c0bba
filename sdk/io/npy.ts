// NumPy .npy (format 1.0-3.0) read and write, for preprocessed cases (<case>.npy, <case>_seg.npy) and fixtures.
// Pure functions over bytes; readNpyFile/writeNpyFile are the thin disk wrappers.

import { promises as fsp } from "node:fs";
import { InputError } from "../errors.js";
import { writeFileAtomic } from "../util/fs.js";

export type NpyDtype = "float32" | "float64" | "int8" | "uint8" | "int16" | "uint16" | "int32" | "uint32" | "int64" | "uint64" | "bool";

export type NpyTypedArray =
  Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

export interface NpyArray<A extends NpyTypedArray = NpyTypedArray> {
  dtype: NpyDtype;
  shape: number[];
  /** C-order data (Fortran-order files are transposed on read). bool is stored as Uint8Array. */
  data: A;
}

const DESCR: Record<string, [NpyDtype, number]> = {
  f4: ["float32", 4],
  f8: ["float64", 8],
  i1: ["int8", 1],
  u1: ["uint8", 1],
  i2: ["int16", 2],
  u2: ["uint16", 2],
  i4: ["int32", 4],
  u4: ["uint32", 4],
  i8: ["int64", 8],
  u8: ["uint64", 8],
  b1: ["bool", 1],
};

const CTOR: Record<NpyDtype, new (b: ArrayBuffer) => NpyTypedArray> = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Parses .npy bytes. `name` is only used in error messages. */
export function parseNpy(bytes: Uint8Array, name = "<npy>"): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new InputError("not a .npy file (bad magic)", { file: name });
  const major = bytes[6]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const hstart = major === 1 ? 10 : 12;
  if (hstart + hlen > bytes.length) throw new InputError("truncated .npy header", { file: name });
  const header = new TextDecoder("latin1").decode(bytes.subarray(hstart, hstart + hlen));
  const descr = /'descr':\s*'([<>|=])(\w\d+)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header);
  const shapeM = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeM) throw new InputError(`unsupported .npy header ${header.trim()}`, { file: name });
  const kind = DESCR[descr[2]!];
  if (!kind) throw new InputError(`unsupported .npy dtype ${descr[1]}${descr[2]}`, { file: name });
  const [dtype, size] = kind;
  const shape = shapeM[1]!
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length)
    .map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const start = hstart + hlen;
  if (start + n * size > bytes.length) {
    throw new InputError(`truncated .npy data: expected ${n * size} bytes, found ${bytes.length - start}`, { file: name });
  }
  // Copy (aligned, detached from the file buffer). Uint8Array's slice, not Buffer's: Buffer.slice returns a view.
  const raw = Uint8Array.prototype.slice.call(bytes, start, start + n * size);
  if (descr[1] === ">" && size > 1) swapBytes(raw, size);
  let data = new CTOR[dtype](raw.buffer);
  if (fortran[1] === "True" && shape.length > 1) data = fortranToC(data, shape);
  return { dtype, shape, data };
}

/** Serialises an array as .npy version 1.0, little-endian, C order. */
export function formatNpy(arr: NpyArray): Uint8Array {
  const code = Object.entries(DESCR).find(([, [d]]) => d === arr.dtype)![0];
  const endian = code.endsWith("1") ? "|" : "<";
  const shapeStr = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(", ")})`;
  let header = `{'descr': '${endian}${code}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const total = 10 + header.length + 1;
  header += " ".repeat((64 - (total % 64)) % 64) + "\n";
  const out = new Uint8Array(10 + header.length + arr.data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength), 10 + header.length);
  return out;
}

/** Reads and parses a .npy file; the array owns a copy of its data (never a view of Node's pooled file buffer). */
export async function readNpyFile(file: string): Promise<NpyArray> {
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(file);
  } catch (err) {
    throw new InputError((err as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (err as Error).message, { file, cause: err });
  }
  return parseNpy(bytes, file);
}

/** Writes an array to `file` atomically (temporary name, then rename). */
export async function writeNpyFile(file: string, arr: NpyArray): Promise<void> {
  await writeFileAtomic(file, formatNpy(arr));
}

function swapBytes(b: Uint8Array, size: number): void {
  for (let i = 0; i < b.length; i += size) {
    for (let j = 0; j < size >> 1; j++) {
      const t = b[i + j]!;
      b[i + j] = b[i + size - 1 - j]!;
      b[i + size - 1 - j] = t;
    }
  }
}

function fortranToC<A extends NpyTypedArray>(src: A, shape: number[]): A {
  const out = new (src.constructor as new (n: number) => A)(src.length);
  const nd = shape.length;
  const idx = new Array<number>(nd).fill(0);
  const fstride = new Array<number>(nd);
  fstride[0] = 1;
  for (let d = 1; d < nd; d++) fstride[d] = fstride[d - 1]! * shape[d - 1]!;
  for (let c = 0; c < out.length; c++) {
    let f = 0;
    for (let d = 0; d < nd; d++) f += idx[d]! * fstride[d]!;
    (out as any)[c] = (src as any)[f];
    for (let d = nd - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}
