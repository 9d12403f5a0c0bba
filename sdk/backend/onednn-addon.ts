// The seam between the tfjs kernels and the loaded addon (native/src/addon.cc): its TypeScript signature, the one
// loaded instance, and what kernels need from tfjs' MathBackendCPU. Only sdk/backend/onednn.ts loads the .node file.

import * as tf from "@tensorflow/tfjs";
import { trackNativeOutput } from "./onednn-memory.js";

export type TensorInfo = tf.TensorInfo;

/** The functions exported by native/build/Release/nnssl_onednn.node. */
export interface OnednnAddon {
  /**
   * params: see convParams, plus an optional 25th entry for bf16 operands with fp32 accumulation and fp32 results (1: bf16,
   * 2: bf16 in a forward pass that is differentiated); x NDHWC, w DHWIO, y NDHWC (written). The same entry (1) in both
   * backward passes.
   */
  convForward(params: number[], x: Float32Array, w: Float32Array, y: Float32Array): void;
  convBackwardData(params: number[], dy: Float32Array, w: Float32Array, dx: Float32Array): void;
  convBackwardWeights(params: number[], x: Float32Array, dy: Float32Array, dw: Float32Array): void;
  /** params: [batchA, batchB, M, K, N, transposeA, transposeB], plus an optional 1 for bf16 operands (fp32 accumulation and C) */
  matmul(params: number[], a: Float32Array, b: Float32Array, c: Float32Array): void;
  /** op: 0 add, 1 sub, 2 mul, 3 div, 4 squared difference, 5 max, 6 min, 7 copy a, 8 greater (Uint8Array out); shape/strides coalesced, stride 0 broadcasts. */
  binary(op: number, shape: number[], stridesA: number[], stridesB: number[], a: Float32Array, b: Float32Array, out: Float32Array | Uint8Array): void;
  /** out = condition ? t : e, element by element (same lengths). */
  select(condition: Uint8Array, t: Float32Array, e: Float32Array, out: Float32Array): void;
  leakyRelu(alpha: number, x: Float32Array, y: Float32Array): void;
  /** y = op(x): 0 exp, 1 log, 2 neg, 3 square, 4 sqrt, 5 rsqrt, 6 sigmoid, 7 relu, 8 abs. */
  unary(op: number, x: Float32Array, y: Float32Array): void;
  /** out [outer, sum(inners)] = the inputs [outer, inners[i]] side by side. */
  concat(outer: number, inners: number[], inputs: Float32Array[], out: Float32Array): void;
  /** The inverse of concat: x [outer, sum(inners)] into the outputs [outer, inners[i]]. */
  split(outer: number, inners: number[], outputs: Float32Array[], x: Float32Array): void;
  /** out[a, b] = op over r of x[a, r, b]; op 0 sum, 1 mean, 2 max. */
  reduce(op: number, outer: number, reduced: number, inner: number, x: Float32Array, out: Float32Array): void;
  /** dims [N, S, C] (S: spatial size, C innermost); slope NaN = no activation. Writes y, mean [N*C], rstd [N*C]. */
  instanceNormForward(
    dims: number[],
    eps: number,
    slope: number,
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
  ): void;
  /** y is the forward output (only read with an activation). Writes dx, dgamma [C], dbeta [C]. */
  instanceNormBackward(
    dims: number[],
    slope: number,
    dy: Float32Array,
    x: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    gamma: Float32Array,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
  ): void;
  /** glibc: no mmap per large block, keep up to trimThreshold freed bytes (false where the C library is not glibc). */
  keepLargeBlocks(trimThreshold: number): boolean;
  /** The file as a private copy-on-write memory mapping (unmapped when collected). */
  mapFile(path: string): ArrayBuffer;
  /** Frees an ArrayBuffer's memory now (every view of it becomes empty); false if it was already detached. */
  detach(buffer: ArrayBuffer): boolean;
  version(): { major: number; minor: number; patch: number; cpuRuntime: string };
  clearCache(): void;
  cacheSize(): number;
}

/** What the kernels need from MathBackendCPU (its `data` store and `makeTensorInfo`). */
export interface CpuBackend {
  data: { get(dataId: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array | Uint8Array): TensorInfo;
}

export const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** The Float32Array behind a tensor, or null when it is not one (complex, int, or not yet materialized). */
export function f32(backend: CpuBackend, t: TensorInfo): Float32Array | null {
  const values = backend.data.get(t.dataId).values;
  return t.dtype === "float32" && values instanceof Float32Array ? values : null;
}

/** Below this many bytes a zero-filled allocation costs next to nothing, and small buffers come from V8's pools. */
const UNINIT_MIN_BYTES = 1 << 16;

/**
 * An output buffer for a native kernel that overwrites every element. `new Float32Array(n)` zero-fills (calloc: a
 * memset of the whole buffer, about 5 ms per 33 MB here) only for the kernel to overwrite it; Buffer.allocUnsafeSlow
 * is a plain malloc of its own ArrayBuffer (not Node's shared pool), freed by V8 like any other.
 */
export function outputF32(n: number): Float32Array {
  if (n * 4 < UNINIT_MIN_BYTES) return new Float32Array(n);
  const b = Buffer.allocUnsafeSlow(n * 4);
  return trackNativeOutput(new Float32Array(b.buffer, b.byteOffset, n));
}

/** outputF32 for tfjs' bool storage. */
export function outputU8(n: number): Uint8Array {
  if (n < UNINIT_MIN_BYTES) return new Uint8Array(n);
  const b = Buffer.allocUnsafeSlow(n);
  return trackNativeOutput(new Uint8Array(b.buffer, b.byteOffset, n));
}

/** A native kernel: its result, or null to hand the call to the pure-JS kernel. */
export type Fast = (inputs: Record<string, TensorInfo>, backend: CpuBackend, attrs: Record<string, unknown>) => TensorInfo | TensorInfo[] | null;

let loaded: OnednnAddon | undefined;

/** Called once by registerOnednnKernels with the addon sdk/backend/onednn.ts loaded. */
export function setAddon(lib: OnednnAddon): void {
  loaded = lib;
}

export function addon(): OnednnAddon {
  if (!loaded) throw new Error("cpu-onednn kernel called before the oneDNN addon was loaded");
  return loaded;
}
