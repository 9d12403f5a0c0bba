// Tensor dtypes torch saves, with their storage class names (what the pickle refers to) and element layouts.

export type TorchDtypeName = "float32" | "float64" | "float16" | "bfloat16" | "int8" | "int16" | "int32" | "int64" | "uint8" | "bool";

export type TypedArray = Float32Array | Float64Array | Uint16Array | Int8Array | Int16Array | Int32Array | BigInt64Array | Uint8Array;

type Ctor = { new (length: number): TypedArray; new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray };

export interface DtypeInfo {
  size: number;
  /** float16 / bfloat16 keep their raw bits in a Uint16Array; bool is a Uint8Array of 0/1. */
  ctor: Ctor;
  storage: string;
}

export const DTYPES: Record<TorchDtypeName, DtypeInfo> = {
  float32: { size: 4, ctor: Float32Array as Ctor, storage: "FloatStorage" },
  float64: { size: 8, ctor: Float64Array as Ctor, storage: "DoubleStorage" },
  float16: { size: 2, ctor: Uint16Array as Ctor, storage: "HalfStorage" },
  bfloat16: { size: 2, ctor: Uint16Array as Ctor, storage: "BFloat16Storage" },
  int8: { size: 1, ctor: Int8Array as Ctor, storage: "CharStorage" },
  int16: { size: 2, ctor: Int16Array as Ctor, storage: "ShortStorage" },
  int32: { size: 4, ctor: Int32Array as Ctor, storage: "IntStorage" },
  int64: { size: 8, ctor: BigInt64Array as Ctor, storage: "LongStorage" },
  uint8: { size: 1, ctor: Uint8Array as Ctor, storage: "ByteStorage" },
  bool: { size: 1, ctor: Uint8Array as Ctor, storage: "BoolStorage" },
};

/** `torch.FloatStorage` -> "float32", ... */
export const STORAGE_DTYPE: ReadonlyMap<string, TorchDtypeName> = new Map((Object.keys(DTYPES) as TorchDtypeName[]).map((d) => [DTYPES[d].storage, d]));

/** torch's attribute names for dtypes (`torch.half` etc. are aliases) -> our names. */
export const TORCH_DTYPE_ATTR: ReadonlyMap<string, TorchDtypeName> = new Map([
  ["float32", "float32"],
  ["float", "float32"],
  ["float64", "float64"],
  ["double", "float64"],
  ["float16", "float16"],
  ["half", "float16"],
  ["bfloat16", "bfloat16"],
  ["int8", "int8"],
  ["int16", "int16"],
  ["short", "int16"],
  ["int32", "int32"],
  ["int", "int32"],
  ["int64", "int64"],
  ["long", "int64"],
  ["uint8", "uint8"],
  ["bool", "bool"],
] as [string, TorchDtypeName][]);

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half-precision bits -> number (exact). */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** bfloat16 bits -> number (exact: bfloat16 is the top half of a float32). */
export function bfloat16ToFloat(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}

/** number -> IEEE half bits, round to nearest even (what torch's `.half()` does). */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const e = (b >>> 23) & 0xff;
  let m = b & 0x7fffff;
  if (e === 0xff) return sign | 0x7c00 | (m ? 0x200 : 0);
  const he = e - 127 + 15;
  if (he >= 31) return sign | 0x7c00;
  if (he <= 0) {
    if (he < -10) return sign;
    m |= 0x800000;
    const shift = 14 - he;
    let hm = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && hm & 1)) hm++;
    return sign | hm;
  }
  const hm = m >>> 13;
  const rem = m & 0x1fff;
  let out = sign | (he << 10) | hm;
  if (rem > 0x1000 || (rem === 0x1000 && hm & 1)) out++;
  return out;
}

/** number -> bfloat16 bits, round to nearest even. */
export function floatToBfloat16(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}
