// Native (OpenMP) kernels of `cpu-onednn` for the memory-bound ops around every convolution of a U-Net: broadcast
// Add/Sub/Multiply/RealDiv/SquaredDifference/Maximum/Minimum, Mean/Sum/Max, LeakyReLU and its gradient (Greater,
// Select), the skip concatenation and its gradient (Concat, Slice/SplitV), layout changes (Transpose), and the
// unary math of softmax and the losses (Exp, Log, Neg, Square, Sqrt, Rsqrt, Sigmoid, Relu, Abs). tfjs' cpu kernels
// run these on one core, with per-element index arithmetic for broadcasts and a full transpose before each reduction.

import * as tf from "@tensorflow/tfjs";
import { addon, f32, outputF32, outputU8, size, type CpuBackend, type Fast, type TensorInfo } from "./onednn-addon.js";

/**
 * Below this many output elements the pure-JS loop is about as fast as crossing into C++ and waking the OpenMP threads;
 * the small tensors of a network (per-channel statistics, scalars) stay in JS.
 */
const MIN_ELEMENTWISE = 4096;

/** Row-major strides of `shape` aligned right to `rank` dims, 0 on broadcast (size-1) dims. */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
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
  const shape: number[] = [],
    ra: number[] = [],
    rb: number[] = [];
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
    const av = f32(backend, a),
      bv = f32(backend, b);
    if (!av || !bv) return null;
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const n = size(outShape);
    if (n < MIN_ELEMENTWISE) return null;
    const c = coalesce(outShape, broadcastStrides(a.shape, outShape), broadcastStrides(b.shape, outShape));
    if (c.shape.length > 6) return null;
    const out = op === GREATER ? outputU8(n) : outputF32(n);
    addon().binary(op, c.shape, c.sa, c.sb, av, bv, out);
    return backend.makeTensorInfo(outShape, op === GREATER ? "bool" : "float32", out);
  };
}

const GREATER = 8;

const select: Fast = ({ condition, t, e }, backend) => {
  const cv = backend.data.get(condition.dataId).values,
    tv = f32(backend, t),
    ev = f32(backend, e);
  // Same-shape only; tfjs' rank-1 condition (selecting whole rows) stays in JS.
  if (!(cv instanceof Uint8Array) || !tv || !ev || tv.length < MIN_ELEMENTWISE) return null;
  if (cv.length !== tv.length || ev.length !== tv.length) return null;
  const out = outputF32(tv.length);
  addon().select(cv, tv, ev, out);
  return backend.makeTensorInfo(t.shape, "float32", out);
};

const leakyRelu: Fast = ({ x }, backend, attrs) => {
  const xv = f32(backend, x);
  if (!xv || xv.length < MIN_ELEMENTWISE) return null;
  const y = outputF32(xv.length);
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
    const lo = axes[0],
      hi = axes[axes.length - 1];
    const outer = size(x.shape.slice(0, lo)),
      reduced = size(x.shape.slice(lo, hi + 1)),
      inner = size(x.shape.slice(hi + 1));
    if (reduced === 0) return null;
    const out = outputF32(outer * inner);
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
  const out = outputF32(size(sizes));
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

/**
 * A permutation of the axes as one strided copy (the network's NCDHW <-> NDHWC conversions at its input and
 * outputs); tfjs' kernel computes every element's source index through per-element coordinate arithmetic.
 */
const transpose: Fast = ({ x }, backend, attrs) => {
  const xv = f32(backend, x);
  if (!xv || xv.length < MIN_ELEMENTWISE) return null;
  const perm = attrs.perm as number[];
  const strides = broadcastStrides(x.shape, x.shape);
  const outShape = perm.map((p) => x.shape[p]!);
  const c = coalesce(
    outShape,
    perm.map((p) => strides[p]!),
    new Array<number>(perm.length).fill(0),
  );
  if (c.shape.length > 6) return null;
  const out = outputF32(xv.length);
  addon().binary(COPY, c.shape, c.sa, c.sb, xv, EMPTY, out);
  return backend.makeTensorInfo(outShape, "float32", out);
};

// Concat's gradient: tfjs' SplitV calls its JS slice directly, element by element through index arithmetic.
const splitV: Fast = ({ x }, backend, attrs) => {
  const xv = f32(backend, x);
  if (!xv || xv.length < MIN_ELEMENTWISE) return null;
  const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0]!;
  const splits = tf.backend_util.prepareSplitSize(x as tf.Tensor, attrs.numOrSizeSplits as number | number[], axis);
  const outer = size(x.shape.slice(0, axis)),
    inner = size(x.shape.slice(axis + 1));
  const shapes = splits.map((s) => x.shape.map((d, i) => (i === axis ? s : d)));
  const outs = shapes.map((s) => outputF32(size(s)));
  addon().split(
    outer,
    splits.map((s) => s * inner),
    outs,
    xv,
  );
  return shapes.map((s, i) => backend.makeTensorInfo(s, "float32", outs[i]));
};

/** A one-input float32 op (tfjs computes these in double through Math.*; float32 results agree to rounding). */
function unary(op: number): Fast {
  return ({ x }, backend) => {
    const xv = f32(backend, x);
    if (!xv || xv.length < MIN_ELEMENTWISE) return null;
    const y = outputF32(xv.length);
    addon().unary(op, xv, y);
    return backend.makeTensorInfo(x.shape, "float32", y);
  };
}

/** Concat along any axis: each input is [outer, inner_i] with `outer` the product of the dims before the axis. */
const concat: Fast = (inputs, backend, attrs) => {
  const tensors = Object.values(inputs);
  if (tensors.length < 2 || tensors.some((t) => t.dtype !== "float32")) return null;
  const shapes = tensors.map((t) => t.shape);
  const axis = tf.util.parseAxisParam(attrs.axis as number, shapes[0]!)[0]!;
  tf.backend_util.assertParamsConsistent(shapes, axis);
  const outShape = tf.backend_util.computeOutShape(shapes, axis);
  const n = size(outShape);
  if (n < MIN_ELEMENTWISE) return null;
  const values = tensors.map((t) => f32(backend, t));
  if (values.some((v) => !v)) return null;
  const outer = size(outShape.slice(0, axis));
  const out = outputF32(n);
  addon().concat(
    outer,
    shapes.map((s) => size(s.slice(axis))),
    values as Float32Array[],
    out,
  );
  return backend.makeTensorInfo(outShape, "float32", out);
};

/** Kernel name -> native element-wise implementation. */
export const ELEMENTWISE_KERNELS: Record<string, Fast> = {
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
  Concat: concat,
  Transpose: transpose,
  Exp: unary(0),
  Log: unary(1),
  Neg: unary(2),
  Square: unary(3),
  Sqrt: unary(4),
  Rsqrt: unary(5),
  Sigmoid: unary(6),
  Relu: unary(7),
  Abs: unary(8),
};
