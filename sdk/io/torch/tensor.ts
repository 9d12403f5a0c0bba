// A tensor as torch stores it: a view (shape, stride, offset) into a storage that other tensors may share.
// Values are read lazily through the view, so aliased state-dict keys cost no memory.

import { DTYPES, bfloat16ToFloat, halfToFloat, type TorchDtypeName, type TypedArray } from "./dtypes.js";

/** One storage: a flat typed array. Tensors that share it hold the same object. */
export interface TorchStorage {
  /** The key torch gave it in the file ("0", "1", ...); "" for storages made in JS and not yet saved. */
  key: string;
  data: TypedArray;
}

export class TorchTensor {
  /** True for `nn.Parameter`s (written back as plain tensors; state dicts hold plain tensors anyway). */
  isParameter = false;
  requiresGrad = false;

  constructor(
    readonly dtype: TorchDtypeName,
    readonly shape: number[],
    readonly stride: number[],
    readonly storageOffset: number,
    readonly storage: TorchStorage,
  ) {}

  get numel(): number {
    let n = 1;
    for (const d of this.shape) n *= d;
    return n;
  }

  /** Whether the view is C-contiguous (dimensions of size 1 may have any stride, as in torch). */
  isContiguous(): boolean {
    let expected = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      const d = this.shape[i]!;
      if (d === 0) return true;
      if (d !== 1 && this.stride[i] !== expected) return false;
      expected *= d;
    }
    return true;
  }

  /**
   * The values in C order, as the storage's typed array type (float16 / bfloat16 as raw Uint16 bits, bool as 0/1).
   * A contiguous tensor returns a view sharing memory with the storage: copy it before writing to it.
   */
  toTypedArray(): TypedArray {
    const n = this.numel;
    if (this.isContiguous()) return this.storage.data.subarray(this.storageOffset, this.storageOffset + n);
    const out = new DTYPES[this.dtype].ctor(n);
    gather(this.storage.data, out, this.shape, this.stride, this.storageOffset);
    return out;
  }

  /** The values in C order as float32 (a view for contiguous float32 tensors, else a new array). */
  toFloat32(): Float32Array {
    const src = this.toTypedArray();
    if (this.dtype === "float32") return src as Float32Array;
    const out = new Float32Array(src.length);
    if (this.dtype === "float16") for (let i = 0; i < src.length; i++) out[i] = halfToFloat(src[i] as number);
    else if (this.dtype === "bfloat16") for (let i = 0; i < src.length; i++) out[i] = bfloat16ToFloat(src[i] as number);
    else if (this.dtype === "int64") for (let i = 0; i < src.length; i++) out[i] = Number(src[i] as bigint);
    else out.set(src as Exclude<TypedArray, BigInt64Array>);
    return out;
  }

  /** The values in C order as JS numbers (exact for every dtype except int64 beyond 2^53; use toTypedArray for those). */
  toNumbers(): number[] {
    const src = this.toTypedArray();
    const out = new Array<number>(src.length);
    const conv = this.dtype === "float16" ? halfToFloat : this.dtype === "bfloat16" ? bfloat16ToFloat : Number;
    for (let i = 0; i < src.length; i++) out[i] = conv(src[i] as number);
    return out;
  }

  /**
   * A contiguous tensor over `data` (not copied). The dtype follows the array type; pass it for float16 / bfloat16
   * (Uint16Array of raw bits) and bool (Uint8Array).
   */
  static fromTypedArray(data: TypedArray, shape: readonly number[], dtype?: TorchDtypeName): TorchTensor {
    const dt = dtype ?? dtypeOfArray(data);
    if (!(data instanceof DTYPES[dt].ctor)) throw new TypeError(`fromTypedArray: a ${data.constructor.name} cannot hold ${dt}`);
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== data.length) throw new RangeError(`fromTypedArray: shape [${shape.join(", ")}] needs ${n} values, got ${data.length}`);
    return new TorchTensor(dt, [...shape], contiguousStrides(shape), 0, { key: "", data });
  }
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const stride = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    stride[i] = s;
    s *= Math.max(shape[i]!, 1);
  }
  return stride;
}

function dtypeOfArray(data: TypedArray): TorchDtypeName {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Float64Array) return "float64";
  if (data instanceof Int8Array) return "int8";
  if (data instanceof Int16Array) return "int16";
  if (data instanceof Int32Array) return "int32";
  if (data instanceof BigInt64Array) return "int64";
  if (data instanceof Uint8Array) return "uint8";
  throw new TypeError("fromTypedArray: a Uint16Array is ambiguous, pass dtype 'float16' or 'bfloat16'");
}

/** Copies a strided view into `out` in C order (inner loop over the last dimension). */
function gather(src: TypedArray, out: TypedArray, shape: number[], stride: number[], offset: number): void {
  const nd = shape.length;
  if (out.length === 0) return;
  if (nd === 0) {
    (out as Float64Array)[0] = (src as Float64Array)[offset]!;
    return;
  }
  const last = shape[nd - 1]!;
  const ls = stride[nd - 1]!;
  const idx = new Array<number>(nd).fill(0);
  const s = src as Float64Array; // the element type does not matter for copying; the cast only satisfies the checker
  const o = out as Float64Array;
  let base = offset;
  let k = 0;
  for (;;) {
    for (let j = 0, p = base; j < last; j++, p += ls) o[k++] = s[p]!;
    let d = nd - 2;
    for (; d >= 0; d--) {
      idx[d]!++;
      base += stride[d]!;
      if (idx[d]! < shape[d]!) break;
      base -= stride[d]! * shape[d]!;
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}
