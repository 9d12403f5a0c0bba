// tfjs kernels of the `cpu-onednn` backend that run in oneDNN (native/src/conv.cc, matmul.cc): convolutions and matmul, plus
// the registration of the whole backend's kernel table (element-wise ones: sdk/backend/native-elementwise.ts). The backend instance is a plain
// tfjs MathBackendCPU, so tensors live in `backend.data` as TypedArrays; these kernels hand those arrays to the addon
// and wrap a freshly allocated output array, the same allocation the pure-JS kernels make, and nothing else is copied.
// Layouts are tfjs' own: NDHWC activations and DHWIO filters (NHWC / HWIO for 2D, passed as depth-1 3D problems).

import * as tf from "@tensorflow/tfjs";
import { addon, f32, outputF32, setAddon, size, type CpuBackend, type Fast, type OnednnAddon, type TensorInfo } from "./onednn-addon.js";
import { ELEMENTWISE_KERNELS } from "./native-elementwise.js";
import { registerNormKernels } from "./native-norm.js";

export type { OnednnAddon } from "./onednn-addon.js";

type Conv3DInfo = ReturnType<typeof tf.backend_util.computeConv3DInfo>;
type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;
type Shape5D = [number, number, number, number, number];
type Shape4D = [number, number, number, number];
type Triple = number | [number, number, number];

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
    c.batchSize,
    c.inChannels,
    c.inDepth,
    c.inHeight,
    c.inWidth,
    c.outChannels,
    c.filterDepth,
    c.filterHeight,
    c.filterWidth,
    c.outDepth,
    c.outHeight,
    c.outWidth,
    c.strideDepth,
    c.strideHeight,
    c.strideWidth,
    c.dilationDepth - 1,
    c.dilationHeight - 1,
    c.dilationWidth - 1,
    p.front,
    p.top,
    p.left,
    rightPad(c.inDepth, c.outDepth, c.filterDepth, c.dilationDepth, c.strideDepth, p.front, p.back),
    rightPad(c.inHeight, c.outHeight, c.filterHeight, c.dilationHeight, c.strideHeight, p.top, p.bottom),
    rightPad(c.inWidth, c.outWidth, c.filterWidth, c.dilationWidth, c.strideWidth, p.left, p.right),
  ];
}

/** A 2D convolution as the depth-1 3D problem (NHWC/HWIO memory is identical to NDHWC/DHWIO with D = 1). */
export function conv2dParams(c: Conv2DInfo): number[] {
  const p = c.padInfo;
  return [
    c.batchSize,
    c.inChannels,
    1,
    c.inHeight,
    c.inWidth,
    c.outChannels,
    1,
    c.filterHeight,
    c.filterWidth,
    1,
    c.outHeight,
    c.outWidth,
    1,
    c.strideHeight,
    c.strideWidth,
    0,
    c.dilationHeight - 1,
    c.dilationWidth - 1,
    0,
    p.top,
    p.left,
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

let convPrecision: "fp32" | "bf16" = "fp32";
let bf16UnderTape = false;

/**
 * Precision of the convolutions and matmuls. bf16 rounds the operands oneDNN multiplies to bf16 and accumulates in fp32; inputs,
 * outputs and gradients stay fp32 tensors (native/src/conv.cc). With `training` false (inference, `--precision bf16`
 * for prediction) only convolutions without a gradient tape use bf16; with `training` true the taped forward passes
 * and both backward passes do too (mixed-precision training: the weights the optimizer updates stay fp32).
 */
export function setConvPrecision(p: "fp32" | "bf16", options: { training?: boolean } = {}): void {
  convPrecision = p;
  bf16UnderTape = p === "bf16" && Boolean(options.training);
}

export function getConvPrecision(): "fp32" | "bf16" {
  return convPrecision;
}

/** Whether training convolutions (under a tape, and the backward passes) run in bf16. */
export function getTrainingConvPrecision(): "fp32" | "bf16" {
  return bf16UnderTape ? "bf16" : "fp32";
}

/**
 * The addon's precision entry for a forward convolution: 1 bf16 without a tape, 2 bf16 with one (its backward passes
 * follow), none for fp32. Kernels run with the tape paused, so "is a gradient being recorded" is the engine's
 * gradient depth.
 */
function forwardPrecision(params: number[]): number[] {
  if (convPrecision !== "bf16") return params;
  if (tf.engine().state.gradientDepth === 0) params.push(1);
  else if (bf16UnderTape) params.push(2);
  return params;
}

/** The precision entry of a backward convolution: 1 when training in bf16. */
function backwardPrecision(params: number[]): number[] {
  if (bf16UnderTape) params.push(1);
  return params;
}

const conv3D: Fast = ({ x, filter }, backend, attrs) => {
  const a = attrs as { strides: Triple; pad: "valid" | "same"; dilations: Triple };
  const xs = f32(backend, x),
    ws = f32(backend, filter);
  if (!xs || !ws || xs.length === 0 || ws.length === 0) return null;
  const info = tf.backend_util.computeConv3DInfo(x.shape as Shape5D, filter.shape as Shape5D, a.strides, a.dilations, a.pad);
  const params = convParams(info);
  if (!oneDnnPads(params)) return null;
  const y = outputF32(size(info.outShape));
  if (y.length > 0) addon().convForward(forwardPrecision(params), xs, ws, y);
  return backend.makeTensorInfo(info.outShape, "float32", y);
};

const conv3DBackpropInputV2: Fast = ({ dy, filter }, backend, attrs) => {
  const a = attrs as { strides: Triple; pad: "valid" | "same"; inputShape: Shape5D };
  const dys = f32(backend, dy),
    ws = f32(backend, filter);
  if (!dys || !ws || dys.length === 0 || ws.length === 0) return null;
  // Like the pure-JS kernel, dilations are 1: tfjs has no dilated conv3d gradient.
  const info = tf.backend_util.computeConv3DInfo(a.inputShape, filter.shape as Shape5D, a.strides, 1, a.pad);
  const params = convParams(info);
  if (!oneDnnPads(params)) return null;
  const dx = outputF32(size(info.inShape));
  if (dx.length > 0) addon().convBackwardData(backwardPrecision(params), dys, ws, dx);
  return backend.makeTensorInfo(info.inShape, "float32", dx);
};

const conv3DBackpropFilterV2: Fast = ({ x, dy }, backend, attrs) => {
  const a = attrs as { strides: Triple; pad: "valid" | "same"; filterShape: Shape5D };
  const xs = f32(backend, x),
    dys = f32(backend, dy);
  if (!xs || !dys || xs.length === 0 || dys.length === 0) return null;
  const info = tf.backend_util.computeConv3DInfo(x.shape as Shape5D, a.filterShape, a.strides, 1, a.pad);
  const params = convParams(info);
  if (!oneDnnPads(params)) return null;
  const dw = outputF32(size(info.filterShape));
  if (dw.length > 0) addon().convBackwardWeights(backwardPrecision(params), xs, dys, dw);
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
  const xs = f32(backend, x),
    ws = f32(backend, filter);
  if (!xs || !ws || xs.length === 0 || ws.length === 0 || a.dataFormat === "NCHW") return null;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4D,
    filter.shape as Shape4D,
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    false,
    "channelsLast",
  );
  const params = conv2dParams(info);
  if (!oneDnnPads(params)) return null;
  const y = outputF32(size(info.outShape));
  if (y.length > 0) addon().convForward(forwardPrecision(params), xs, ws, y);
  return backend.makeTensorInfo(info.outShape, "float32", y);
};

const conv2DBackpropInput: Fast = ({ dy, filter }, backend, attrs) => {
  const a = attrs as unknown as Conv2DAttrs & { inputShape: Shape4D };
  const dys = f32(backend, dy),
    ws = f32(backend, filter);
  if (!dys || !ws || dys.length === 0 || ws.length === 0 || a.dataFormat === "NCHW") return null;
  const info = tf.backend_util.computeConv2DInfo(a.inputShape, filter.shape as Shape4D, a.strides, 1, a.pad, a.dimRoundingMode, false, "channelsLast");
  const params = conv2dParams(info);
  if (!oneDnnPads(params)) return null;
  const dx = outputF32(size(info.inShape));
  if (dx.length > 0) addon().convBackwardData(backwardPrecision(params), dys, ws, dx);
  return backend.makeTensorInfo(info.inShape, "float32", dx);
};

const conv2DBackpropFilter: Fast = ({ x, dy }, backend, attrs) => {
  const a = attrs as unknown as Conv2DAttrs & { filterShape: Shape4D };
  const xs = f32(backend, x),
    dys = f32(backend, dy);
  if (!xs || !dys || xs.length === 0 || dys.length === 0 || a.dataFormat === "NCHW") return null;
  const info = tf.backend_util.computeConv2DInfo(x.shape as Shape4D, a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, "channelsLast");
  const params = conv2dParams(info);
  if (!oneDnnPads(params)) return null;
  const dw = outputF32(size(info.filterShape));
  if (dw.length > 0) addon().convBackwardWeights(backwardPrecision(params), xs, dys, dw);
  return backend.makeTensorInfo(info.filterShape, "float32", dw);
};

const batchMatMul: Fast = ({ a, b }, backend, attrs) => {
  const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
  const as = f32(backend, a),
    bs = f32(backend, b);
  if (!as || !bs || a.shape.length < 2 || b.shape.length < 2) return null;
  const batchShapeA = a.shape.slice(0, -2),
    batchShapeB = b.shape.slice(0, -2);
  const batchA = size(batchShapeA),
    batchB = size(batchShapeB);
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
  const c = outputF32(size(outShape));
  const params = [batchA, batchB, m, k, n, transposeA ? 1 : 0, transposeB ? 1 : 0];
  // bf16 like a forward convolution: without a tape, or under one when training in bf16 (Primus' linear layers and
  // attention; the backward pass's matmuls run with the tape closed, so they follow the same switch)
  if (convPrecision === "bf16" && (tf.engine().state.gradientDepth === 0 || bf16UnderTape)) params.push(1);
  addon().matmul(params, as, bs, c);
  return backend.makeTensorInfo(outShape, "float32", c);
};

/**
 * dst = src reversed along `axes` (C order). The dims after the last reversed axis form contiguous blocks that are
 * copied whole; only a reversed last axis is copied element by element. tfjs' cpu kernel computes a multi-index per
 * element (about 1 us each here: 0.2-0.4 s for one 2 x 3 x 32^3 tile's logits, 7 times per tile with test-time
 * mirroring), which made mirroring cost more than the network's forward passes.
 */
export function reverseInto(src: Float32Array, dst: Float32Array, shape: readonly number[], axes: readonly number[]): void {
  const rank = shape.length;
  const rev = shape.map((_, d) => axes.includes(d));
  let last = rank - 1;
  while (last >= 0 && !rev[last]) last--;
  if (last < 0) {
    dst.set(src);
    return;
  }
  const block = size(shape.slice(last + 1));
  const n = shape[last]!;
  // strides in blocks of dims 0..last-1; the odometer walks them in C order, so the destination row advances by n
  const strides = new Array<number>(last).fill(0);
  for (let d = last - 1, st = n; d >= 0; d--) {
    strides[d] = st;
    st *= shape[d]!;
  }
  const rows = size(shape.slice(0, last));
  const idx = new Array<number>(last).fill(0);
  for (let row = 0; row < rows; row++) {
    let srcRow = 0;
    for (let d = 0; d < last; d++) srcRow += (rev[d] ? shape[d]! - 1 - idx[d]! : idx[d]!) * strides[d]!;
    const dstRow = row * n;
    if (block === 1) {
      for (let j = 0, s = srcRow + n - 1; j < n; j++, s--) dst[dstRow + j] = src[s]!;
    } else {
      for (let j = 0; j < n; j++) {
        const s = (srcRow + n - 1 - j) * block;
        dst.set(src.subarray(s, s + block), (dstRow + j) * block);
      }
    }
    for (let d = last - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
}

const reverse: Fast = ({ x }, backend, attrs) => {
  const xs = f32(backend, x);
  if (!xs || xs.length < 4096) return null;
  const { dims } = attrs as { dims: number | number[] };
  const axes = (typeof dims === "number" ? [dims] : dims).map((d) => (d < 0 ? d + x.shape.length : d));
  const y = outputF32(xs.length);
  reverseInto(xs, y, x.shape, axes);
  return backend.makeTensorInfo([...x.shape], "float32", y);
};

/**
 * Softmax over the last axis from the addon's reduction, broadcast and unary loops (max, subtract, exp, sum, divide,
 * each spread over the cores). tfjs' cpu Softmax calls its own pure-JS kernels directly, one core with per-element
 * broadcast index arithmetic: for Primus-M at 128^3 (12 heads x 4096^2 attention scores per block) that was most of
 * the forward pass. Same operations in the same order as tfjs', so results agree to rounding.
 */
const softmax: Fast = ({ logits }, backend, attrs) => {
  const xs = f32(backend, logits);
  const rank = logits.shape.length;
  const { dim } = attrs as { dim: number };
  if (!xs || xs.length < 4096 || rank === 0 || (dim !== -1 && dim !== rank - 1)) return null;
  const n = logits.shape[rank - 1]!;
  const rows = xs.length / n;
  const rowMax = new Float32Array(rows);
  addon().reduce(2, rows, n, 1, xs, rowMax);
  const y = outputF32(xs.length);
  addon().binary(1, [rows, n], [n, 1], [1, 0], xs, rowMax, y);
  addon().unary(0, y, y);
  const rowSum = new Float32Array(rows);
  addon().reduce(0, rows, n, 1, y, rowSum);
  addon().binary(3, [rows, n], [n, 1], [1, 0], y, rowSum, y);
  return backend.makeTensorInfo([...logits.shape], "float32", y);
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
  Reverse: reverse,
  Softmax: softmax,
  ...ELEMENTWISE_KERNELS,
};

export const ONEDNN_KERNEL_NAMES: readonly string[] = Object.keys(FAST);

/**
 * Registers, for `backendName`, every kernel of tfjs' cpu backend, with the ones in ONEDNN_KERNEL_NAMES replaced by
 * oneDNN versions that fall back to the cpu kernel for inputs oneDNN does not take, plus the fused instance-norm
 * kernels (sdk/backend/fused-norm.ts), which only this backend has.
 */
export function registerOnednnKernels(lib: OnednnAddon, backendName: string): void {
  setAddon(lib);
  for (const config of tf.getKernelsForBackend("cpu")) {
    const fast = FAST[config.kernelName];
    tf.registerKernel(fast ? withFallback(config.kernelName, backendName, config, fast) : { ...config, backendName });
  }
  registerNormKernels(backendName);
}
