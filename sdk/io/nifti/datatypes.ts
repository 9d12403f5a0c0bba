// NIfTI datatype codes (nifti1.h) mapped to numpy dtype names and typed arrays. Only the scalar types nnU-Net data
// uses are supported; complex and RGB types are rejected with a named error by the header parser.

export type NiftiDtype = "uint8" | "int8" | "int16" | "uint16" | "int32" | "uint32" | "float32" | "float64" | "int64" | "uint64";

export type NiftiTypedArray =
  Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

export interface DatatypeInfo {
  code: number;
  dtype: NiftiDtype;
  bytes: number;
}

export const DATATYPES: readonly DatatypeInfo[] = [
  { code: 2, dtype: "uint8", bytes: 1 },
  { code: 4, dtype: "int16", bytes: 2 },
  { code: 8, dtype: "int32", bytes: 4 },
  { code: 16, dtype: "float32", bytes: 4 },
  { code: 64, dtype: "float64", bytes: 8 },
  { code: 256, dtype: "int8", bytes: 1 },
  { code: 512, dtype: "uint16", bytes: 2 },
  { code: 768, dtype: "uint32", bytes: 4 },
  { code: 1024, dtype: "int64", bytes: 8 },
  { code: 1280, dtype: "uint64", bytes: 8 },
];

const UNSUPPORTED: Record<number, string> = {
  0: "unknown",
  1: "binary",
  32: "complex64",
  128: "rgb24",
  1536: "float128",
  1792: "complex128",
  2048: "complex256",
  2304: "rgba32",
};

export function datatypeByCode(code: number): DatatypeInfo | string {
  return DATATYPES.find((d) => d.code === code) ?? `unsupported NIfTI datatype ${code} (${UNSUPPORTED[code] ?? "not defined by NIfTI"})`;
}

export function datatypeByName(dtype: NiftiDtype): DatatypeInfo {
  return DATATYPES.find((d) => d.dtype === dtype)!;
}

/** A new zero-filled typed array of `dtype` with `n` elements. */
export function allocTyped(dtype: NiftiDtype, n: number): NiftiTypedArray {
  switch (dtype) {
    case "uint8":
      return new Uint8Array(n);
    case "int8":
      return new Int8Array(n);
    case "int16":
      return new Int16Array(n);
    case "uint16":
      return new Uint16Array(n);
    case "int32":
      return new Int32Array(n);
    case "uint32":
      return new Uint32Array(n);
    case "float32":
      return new Float32Array(n);
    case "float64":
      return new Float64Array(n);
    case "int64":
      return new BigInt64Array(n);
    case "uint64":
      return new BigUint64Array(n);
  }
}

/** A typed-array view of `n` elements of `dtype` on `buffer` at `byteOffset` (which must be aligned). */
export function viewTyped(dtype: NiftiDtype, buffer: ArrayBuffer, byteOffset: number, n: number): NiftiTypedArray {
  switch (dtype) {
    case "uint8":
      return new Uint8Array(buffer, byteOffset, n);
    case "int8":
      return new Int8Array(buffer, byteOffset, n);
    case "int16":
      return new Int16Array(buffer, byteOffset, n);
    case "uint16":
      return new Uint16Array(buffer, byteOffset, n);
    case "int32":
      return new Int32Array(buffer, byteOffset, n);
    case "uint32":
      return new Uint32Array(buffer, byteOffset, n);
    case "float32":
      return new Float32Array(buffer, byteOffset, n);
    case "float64":
      return new Float64Array(buffer, byteOffset, n);
    case "int64":
      return new BigInt64Array(buffer, byteOffset, n);
    case "uint64":
      return new BigUint64Array(buffer, byteOffset, n);
  }
}

/** The dtype name of a typed array we can write. */
export function dtypeOf(a: NiftiTypedArray): NiftiDtype {
  if (a instanceof Uint8Array) return "uint8";
  if (a instanceof Int8Array) return "int8";
  if (a instanceof Int16Array) return "int16";
  if (a instanceof Uint16Array) return "uint16";
  if (a instanceof Int32Array) return "int32";
  if (a instanceof Uint32Array) return "uint32";
  if (a instanceof Float32Array) return "float32";
  if (a instanceof Float64Array) return "float64";
  if (a instanceof BigInt64Array) return "int64";
  return "uint64";
}
