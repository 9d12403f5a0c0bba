// tfjs kernels of the `cpu-onednn` backend that run in oneDNN (native/src/addon.cc). The backend instance is a plain
// tfjs MathBackendCPU, so tensors live in `backend.data` as TypedArrays; these kernels hand those arrays to the addon
// and wrap a freshly allocated output array, the same allocation the pure-JS kernels make, and nothing else is copied.
// Layouts are tfjs' own: NDHWC activations and DHWIO filters (NHWC / HWIO for 2D, passed as depth-1 3D problems).

import * as tf from "@tensorflow/tfjs";

type TensorInfo = tf.TensorInfo;
type Conv3DInfo = ReturnType<typeof tf.backend_util.computeConv3DInfo>;
type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;
type Shape5D = [number, number, number, number, number];
type Shape4D = [number, number, number, number];
type Triple = number | [number, number, number];

/** The functions exported by native/build/Release/nnssl_onednn.node. */
export interface OnednnAddon {
  /** params: see convParams; x NDHWC, w DHWIO, y NDHWC (written). */
  convForward(params: number[], x: Float32Array, w: Float32Array, y: Float32Array): void;
  convBackwardData(params: number[], dy: Float32Array, w: Float32Array, dx: Float32Array): void;
  convBackwardWeights(params: number[], x: Float32Array, dy: Float32Array, dw: Float32Array): void;
  /** params: [batchA, batchB, M, K, N, transposeA, transposeB] */
  matmul(params: number[], a: Float32Array, b: Float32Array, c: Float32Array): void;
  /** op: 0 add, 1 sub, 2 mul, 3 div, 4 squared difference, 5 max, 6 min, 7 copy a, 8 greater (Uint8Array out); shape/strides coalesced, stride 0 broadcasts. */
  binary(op: number, shape: number[], stridesA: number[], stridesB: number[], a: Float32Array, b: Float32Array, out: Float32Array | Uint8Array): void;
  /** out = condition ? t : e, element by element (same lengths). */
  select(condition: Uint8Array, t: Float32Array, e: Float32Array, out: Float32Array): void;
  leakyRelu(alpha: number, x: Float32Array, y: Float32Array): void;
  /** out[a, b] = op over r of x[a, r, b]; op 0 sum, 1 mean, 2 max. */
  reduce(op: number, outer: number, reduced: number, inner: number, x: Float32Array, out: Float32Array): void;
  version(): { major: number; minor: number; patch: number; cpuRuntime: string };
  clearCache(): void;
  cacheSize(): number;
}

/** What the kernels need from MathBackendCPU (its `data` store and `makeTensorInfo`). */
interface CpuBackend {
  data: { get(dataId: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array | Uint8Array): TensorInfo;
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** The Float32Array behind a tensor, or null when it is not one (complex, int, or not yet materialized). */
function f32(backend: CpuBackend, t: TensorInfo): Float32Array | null {
  const values = backend.data.get(t.dataId).values;
  return t.dtype === "float32" && values instanceof Float32Array ? values : null;
}

/**
 * oneDNN requires (in + padL + padR - extent) / stride + 1 == out with floor division; tfjs' output size can exceed
 * that (dimRoundingMode "ceil"), in which case the windows read further zero padding on the right.
 */
function rightPad(inSize: number, outSize: number, k: number, dilation: number, stride: number, padL: number, padR: number): number {
  const extent = (k - 1) * dilation + 1;
  const needed = (outSize - 1) * stride + extent - inSize - padL;
  return Math.floor((inSize + padL + padR - extent) / stride) + 1 === outSize ? padR : needed;
}

/** The addon's 24 convolution parameters from tfjs' Conv3DInfo (dilations in oneDNN's "0 = dense" convention). */
export function convParams(c: Conv3DInfo): number[] {
  const p = c.padInfo;
  return [
    c.batchSize, c.inChannels, c.inDepth, c.inHeight, c.inWidth,
    c.outChannels, c.filterDepth, c.filterHeight, c.filterWidth,
    c.outDepth, c.outHeight, c.outWidth,
    c.strideDepth, c.strideHeight, c.strideWidth,
    c.dilationDepth - 1, c.dilationHeight - 1, c.dilationWidth - 1,
    p.front, p.top, p.left,
    rightPad(c.inDepth, c.outDepth, c.filterDepth, c.dilationDepth, c.strideDepth, p.front, p.back),
    rightPad(c.inHeight, c.outHeight, c.filterHeight, c.dilationHeight, c.strideHeight, p.top, p.bottom),
    rightPad(c.inWidth, c.outWidth, c.filterWidth, c.dilationWidth, c.strideWidth, p.left, p.right),
  ];
}

/** A 2D convolution as the depth-1 3D problem (NHWC/HWIO memory is identical to NDHWC/DHWIO with D = 1). */
export function conv2dParams(c: Conv2DInfo): number[] {
  const p = c.padInfo;
  return [
    c.batchSize, c.inChannels, 1, c.inHeight, c.inWidth,
    c.outChannels, 1, c.filterHeight, c.filterWidth,
    1, c.outHeight, c.outWidth,
    1, c.strideHeight, c.strideWidth,
    0, c.dilationHeight - 1, c.dilationWidth - 1,
    0, p.top, p.left,
    0,
    rightPad(c.inHeight, c.outHeight, c.filterHeight, c.dilationHeight, c.strideHeight, p.top, p.bottom),
    rightPad(c.inWidth, c.outWidth, c.filterWidth, c.dilationWidth, c.strideWidth, p.left, p.right),
  ];
}

/**
 * tfjs' 'same' padding for a kernel smaller than the stride on an even size (1x1x1 stride 2) comes out as padding -1 at
 * the front, i.e. the windows start at index 1; oneDNN takes no negative padding, so such convolutions stay in JS.
 * (PyTorch's equivalent, padding 0, starts at index 0 - tfjs' 'valid' - which is what U-Net skip paths should use.)
 */
const oneDnnPads = (params: number[]): boolean => params.slice(18).every((v) => v >= 0);

/** How often each kernel ran natively (not in its JS fallback): tests use it to prove the native path ran. */
export const nativeCallCounts = new Map<string, number>();

type Fast = (inputs: Record<string, TensorInfo>, backend: CpuBackend, attrs: Record<string, unknown>) => TensorInfo | TensorInfo[] | null;

/**
 * A kernel that runs `fast` and falls back to the pure-JS kernel when `fast` declines (returns null: non-float32
 * inputs, empty tensors, negative padding, NCHW data format, batch shapes oneDNN cannot broadcast).
 */
function withFallback(kernelName: string, backendName: string, cpu: tf.KernelConfig, fast: Fast): tf.KernelConfig {
  return {
    kernelName,
    backendName,
    kernelFunc: (args) => {
      const out = fast(args.inputs as Record<string, TensorInfo>, args.backend as unknown as CpuBackend, args.attrs as Record<string, unknown>);
      if (!out) return cpu.kernelFunc(args);
      nativeCallCounts.set(kernelName, (nativeCallCounts.get(kernelName) ?? 0) + 1);
      return out;
    },
  };
}

const conv3D: Fast = ({ x, filter }, backend, attrs) => {
  const a = attrs as { strides: Triple; pad: "valid" | "same"; dilations: Triple };
  const xs = f32(backend, x), ws = f32(backend, filter);
  if (!xs || !ws || xs.length === 0 || ws.length === 0) return null;
  const info = tf.backend_util.computeConv3DInfo(x.shape as Shape5D, filter.shape as Shape5D, a.strides, a.dilations, a.pad);
  const params = convParams(info);
  if (!oneDnnPads(params)) return null;
  const y = new Float32Array(size(info.outShape));
  if (y.length > 0) addon().convForward(params, xs, ws, y);
  return backend.makeTensorInfo(info.outShape, "float32", y);
};

const conv3DBackpropInputV2: Fast = ({ dy, filter }, backend, attrs) => {
  const a = attrs as { strides: Triple; pad: "valid" | "same"; inputShape: Shape5D };
  const dys = f32(backend, dy), ws = f32(backend, filter);
  if (!dys || !ws || dys.length === 0 || ws.length === 0) return null;
  // Like the pure-JS kernel, dilations are 1: tfjs has no dilated conv3d gradient.
  const info = tf.backend_util.computeConv3DInfo(a.inputShape, filter.shape as Shape5D, a.strides, 1, a.pad);
  const params = convParams(info);
  if (!oneDnnPads(params)) return null;
  const dx = new Float32Array(size(info.inShape));
  if (dx.length > 0) addon().convBackwardData(params, dys, ws, dx);
  return backend.makeTensorInfo(info.inShape, "float32", dx);
};

const conv3DBackpropFilterV2: Fast = ({ x, dy }, backend, attrs) => {
  const a = attrs as { strides: Triple; pad: "valid" | "same"; filterShape: Shape5D };
  const xs = f32(backend, x), dys = f32(backend, dy);
  if (!xs || !dys || xs.length === 0 || dys.length === 0) return null;
  const info = tf.backend_util.computeConv3DInfo(x.shape as Shape5D, a.filterShape, a.strides, 1, a.pad);
  const params = convParams(info);
  if (!oneDnnPads(params)) return null;
  const dw = new Float32Array(size(info.filterShape));
  if (dw.length > 0) addon().convBackwardWeights(params, xs, dys, dw);
  return backend.makeTensorInfo(info.filterShape, "float32", dw);
};

interface Conv2DAttrs {
  strides: number | [number, number];
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  dilations?: number | [number, number];
}

const conv2D: Fast = ({ x, filter }, backend, attrs) => {
  const a = attrs as unknown as Conv2DAttrs;
  const xs = f32(backend, x), ws = f32(backend, filter);
  if (!xs || !ws || xs.length === 0 || ws.length === 0 || a.dataFormat === "NCHW") return null;
  const info = tf.backend_util.computeConv2DInfo(x.shape as Shape4D, filter.shape as Shape4D, a.strides, a.dilations ?? 1,
    a.pad, a.dimRoundingMode, false, "channelsLast");
  const params = conv2dParams(info);
  if (!oneDnnPads(params)) return null;
  const y = new Float32Array(size(info.outShape));
  if (y.length > 0) addon().convForward(params, xs, ws, y);
  return backend.makeTensorInfo(info.outShape, "float32", y);
};

const conv2DBackpropInput: Fast = ({ dy, filter }, backend, attrs) => {
  const a = attrs as unknown as Conv2DAttrs & { inputShape: Shape4D };
  const dys = f32(backend, dy), ws = f32(backend, filter);
  if (!dys || !ws || dys.length === 0 || ws.length === 0 || a.dataFormat === "NCHW") return null;
  const info = tf.backend_util.computeConv2DInfo(a.inputShape, filter.shape as Shape4D, a.strides, 1, a.pad,
    a.dimRoundingMode, false, "channelsLast");
  const params = conv2dParams(info);
  if (!oneDnnPads(params)) return null;
  const dx = new Float32Array(size(info.inShape));
  if (dx.length > 0) addon().convBackwardData(params, dys, ws, dx);
  return backend.makeTensorInfo(info.inShape, "float32", dx);
};

const conv2DBackpropFilter: Fast = ({ x, dy }, backend, attrs) => {
  const a = attrs as unknown as Conv2DAttrs & { filterShape: Shape4D };
  const xs = f32(backend, x), dys = f32(backend, dy);
  if (!xs || !dys || xs.length === 0 || dys.length === 0 || a.dataFormat === "NCHW") return null;
  const info = tf.backend_util.computeConv2DInfo(x.shape as Shape4D, a.filterShape, a.strides, 1, a.pad,
    a.dimRoundingMode, false, "channelsLast");
  const params = conv2dParams(info);
  if (!oneDnnPads(params)) return null;
  const dw = new Float32Array(size(info.filterShape));
  if (dw.length > 0) addon().convBackwardWeights(params, xs, dys, dw);
  return backend.makeTensorInfo(info.filterShape, "float32", dw);
};

const batchMatMul: Fast = ({ a, b }, backend, attrs) => {
  const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
  const as = f32(backend, a), bs = f32(backend, b);
  if (!as || !bs || a.shape.length < 2 || b.shape.length < 2) return null;
  const batchShapeA = a.shape.slice(0, -2), batchShapeB = b.shape.slice(0, -2);
  const batchA = size(batchShapeA), batchB = size(batchShapeB);
  // oneDNN broadcasts a whole batch of 1; element-wise batch broadcasting ([2,1] x [1,3]) and invalid shapes go to
  // the pure-JS kernel, which also produces tfjs' error messages.
  const rank = Math.max(batchShapeA.length, batchShapeB.length);
  const padded = (s: number[]) => [...Array(rank - s.length).fill(1), ...s];
  const sameBatch = padded(batchShapeA).every((d, i) => d === padded(batchShapeB)[i]);
  if (!sameBatch && batchA !== 1 && batchB !== 1) return null;
  const [m, k] = transposeA ? [a.shape.at(-1)!, a.shape.at(-2)!] : [a.shape.at(-2)!, a.shape.at(-1)!];
  const [k2, n] = transposeB ? [b.shape.at(-1)!, b.shape.at(-2)!] : [b.shape.at(-2)!, b.shape.at(-1)!];
  if (k !== k2 || m * k * n === 0) return null;
  const outBatch = batchA >= batchB ? padded(batchShapeA) : padded(batchShapeB);
  const outShape = [...outBatch, m, n];
  const c = new Float32Array(size(outShape));
  addon().matmul([batchA, batchB, m, k, n, transposeA ? 1 : 0, transposeB ? 1 : 0], as, bs, c);
  return backend.makeTensorInfo(outShape, "float32", c);
};


// ---- element-wise and reductions -------------------------------------------------------------------------------

/**
 * Below this many output elements the pure-JS loop is about as fast as crossing into C++ and waking the OpenMP threads;
 * the small tensors of a network (per-channel statistics, scalars) stay in JS.
 */
const MIN_ELEMENTWISE = 4096;

/** Row-major strides of `shape` aligned right to `rank` dims, 0 on broadcast (size-1) dims. */
function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const rank = outShape.length;
  const strides = new Array<number>(rank).fill(0);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = rank - shape.length + i;
    strides[d] = shape[i] === 1 && outShape[d] !== 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

/** Drops size-1 dims and merges neighbours that are contiguous in both operands, e.g. [2,8,8,8,16] + [2,1,1,1,16] -> [2,512,16]. */
export function coalesce(outShape: readonly number[], sa: readonly number[], sb: readonly number[]): { shape: number[]; sa: number[]; sb: number[] } {
  const shape: number[] = [], ra: number[] = [], rb: number[] = [];
  for (let d = 0; d < outShape.length; d++) {
    if (outShape[d] === 1) continue;
    const k = shape.length - 1;
    if (k >= 0 && ra[k] === sa[d] * outShape[d] && rb[k] === sb[d] * outShape[d]) {
      shape[k] *= outShape[d];
      ra[k] = sa[d];
      rb[k] = sb[d];
    } else {
      shape.push(outShape[d]);
      ra.push(sa[d]);
      rb.push(sb[d]);
    }
  }
  if (shape.length === 0) return { shape: [1], sa: [1], sb: [1] };
  return { shape, sa: ra, sb: rb };
}

function binary(op: number): Fast {
  return ({ a, b }, backend) => {
    const av = f32(backend, a), bv = f32(backend, b);
    if (!av || !bv) return null;
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const n = size(outShape);
    if (n < MIN_ELEMENTWISE) return null;
    const c = coalesce(outShape, broadcastStrides(a.shape, outShape), broadcastStrides(b.shape, outShape));
    if (c.shape.length > 6) return null;
    const out = op === GREATER ? new Uint8Array(n) : new Float32Array(n);
    addon().binary(op, c.shape, c.sa, c.sb, av, bv, out);
    return backend.makeTensorInfo(outShape, op === GREATER ? "bool" : "float32", out);
  };
}

const GREATER = 8;

const select: Fast = ({ condition, t, e }, backend) => {
  const cv = backend.data.get(condition.dataId).values, tv = f32(backend, t), ev = f32(backend, e);
  // Same-shape only; tfjs' rank-1 condition (selecting whole rows) stays in JS.
  if (!(cv instanceof Uint8Array) || !tv || !ev || tv.length < MIN_ELEMENTWISE) return null;
  if (cv.length !== tv.length || ev.length !== tv.length) return null;
  const out = new Float32Array(tv.length);
  addon().select(cv, tv, ev, out);
  return backend.makeTensorInfo(t.shape, "float32", out);
};

const leakyRelu: Fast = ({ x }, backend, attrs) => {
  const xv = f32(backend, x);
  if (!xv || xv.length < MIN_ELEMENTWISE) return null;
  const y = new Float32Array(xv.length);
  addon().leakyRelu((attrs as { alpha: number }).alpha, xv, y);
  return backend.makeTensorInfo(x.shape, "float32", y);
};

/**
 * Sum/Mean/Max over a contiguous run of axes (channels-last instance norm reduces [1,2,3] of NDHWC, the gradients of
 * per-channel parameters [0,1,2,3], softmax the last axis) in one pass, where tfjs first transposes the reduced axes
 * to the end. Other axis sets stay in JS.
 */
function reduction(op: number, axisAttr: "axis" | "reductionIndices"): Fast {
  return ({ x }, backend, attrs) => {
    const xv = f32(backend, x);
    if (!xv || xv.length < MIN_ELEMENTWISE) return null;
    const axes = tf.util.parseAxisParam(attrs[axisAttr] as number | number[], x.shape).sort((p, q) => p - q);
    if (axes.length === 0 || axes.some((ax, i) => ax !== axes[0] + i)) return null;
    const lo = axes[0], hi = axes[axes.length - 1];
    const outer = size(x.shape.slice(0, lo)), reduced = size(x.shape.slice(lo, hi + 1)), inner = size(x.shape.slice(hi + 1));
    if (reduced === 0) return null;
    const out = new Float32Array(outer * inner);
    addon().reduce(op, outer, reduced, inner, xv, out);
    const keepDims = (attrs as { keepDims?: boolean }).keepDims ?? false;
    const outShape = keepDims ? x.shape.map((d, i) => (i >= lo && i <= hi ? 1 : d)) : [...x.shape.slice(0, lo), ...x.shape.slice(hi + 1)];
    return backend.makeTensorInfo(outShape, "float32", out);
  };
}

const COPY = 7;
const EMPTY = new Float32Array(1);

/** A strided window of `x` (begin/size per axis) copied out in one native pass. */
function sliceNative(backend: CpuBackend, x: TensorInfo, xv: Float32Array, begin: number[], sizes: number[]): TensorInfo {
  const strides = broadcastStrides(x.shape, x.shape);
  const offset = begin.reduce((acc, b, i) => acc + b * strides[i], 0);
  const c = coalesce(sizes, strides, new Array<number>(sizes.length).fill(0));
  const out = new Float32Array(size(sizes));
  if (out.length > 0) addon().binary(COPY, c.shape, c.sa, c.sb, xv.subarray(offset), EMPTY, out);
  return backend.makeTensorInfo(sizes, "float32", out);
}

const slice: Fast = ({ x }, backend, attrs) => {
  const xv = f32(backend, x);
  if (!xv || xv.length < MIN_ELEMENTWISE) return null;
  const [begin, sizes] = tf.slice_util.parseSliceParams(x as tf.Tensor, attrs.begin as number[], attrs.size as number[]);
  if (sizes.length > 6) return null;
  return sliceNative(backend, x, xv, begin, sizes);
};

// Concat's gradient: tfjs' SplitV calls its JS slice directly, element by element through index arithmetic.
const splitV: Fast = ({ x }, backend, attrs) => {
  const xv = f32(backend, x);
  if (!xv || xv.length < MIN_ELEMENTWISE || x.shape.length > 6) return null;
  const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
  const splits = tf.backend_util.prepareSplitSize(x as tf.Tensor, attrs.numOrSizeSplits as number | number[], axis);
  const begin = new Array<number>(x.shape.length).fill(0);
  return splits.map((s) => {
    const sizes = [...x.shape];
    sizes[axis] = s;
    const out = sliceNative(backend, x, xv, [...begin], sizes);
    begin[axis] += s;
    return out;
  });
};

/** Kernel name -> native implementation (oneDNN primitives or the addon's OpenMP loops); everything else is pure JS. */
const FAST: Record<string, Fast> = {
  Conv3D: conv3D,
  Conv3DBackpropInputV2: conv3DBackpropInputV2,
  Conv3DBackpropFilterV2: conv3DBackpropFilterV2,
  Conv2D: conv2D,
  Conv2DBackpropInput: conv2DBackpropInput,
  Conv2DBackpropFilter: conv2DBackpropFilter,
  BatchMatMul: batchMatMul,
  Add: binary(0),
  Sub: binary(1),
  Multiply: binary(2),
  RealDiv: binary(3),
  SquaredDifference: binary(4),
  Maximum: binary(5),
  Minimum: binary(6),
  LeakyRelu: leakyRelu,
  Greater: binary(GREATER),
  Select: select,
  Sum: reduction(0, "axis"),
  Mean: reduction(1, "axis"),
  Max: reduction(2, "reductionIndices"),
  Slice: slice,
  SplitV: splitV,
};

export const ONEDNN_KERNEL_NAMES: readonly string[] = Object.keys(FAST);

let loaded: OnednnAddon | undefined;
function addon(): OnednnAddon {
  if (!loaded) throw new Error("cpu-onednn kernel called before the oneDNN addon was loaded");
  return loaded;
}

/**
 * Registers, for `backendName`, every kernel of tfjs' cpu backend, with the ones in ONEDNN_KERNEL_NAMES replaced by
 * oneDNN versions that fall back to the cpu kernel for inputs oneDNN does not take.
 */
export function registerOnednnKernels(lib: OnednnAddon, backendName: string): void {
  loaded = lib;
  for (const config of tf.getKernelsForBackend("cpu")) {
    const fast = FAST[config.kernelName];
    tf.registerKernel(fast ? withFallback(config.kernelName, backendName, config, fast) : { ...config, backendName });
  }
}
