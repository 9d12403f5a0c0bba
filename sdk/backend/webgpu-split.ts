// Work on tensors larger than one WebGPU storage binding. A GPU buffer may be as large as the device's maxBufferSize,
// but a shader sees at most maxStorageBufferBindingSize bytes of it per binding (on many GPUs far less than the buffer
// limit). tfjs-backend-webgpu always binds whole buffers, so a tensor over the binding limit cannot be an operand of
// any of its programs. The kernels that matter for nnU-Net therefore run in pieces along the outermost axes (batch,
// then depth / voxels): each piece is bound as a sub-range of the tensor's buffer ({ buffer, offset, size }: no copy)
// where the offset is a multiple of minStorageBufferOffsetAlignment, and copied into a buffer of its own otherwise.
// Results are written the same way into the whole output buffer. Only a tensor larger than maxBufferSize cannot exist
// at all; that, and an operand of a kernel that is not split, end in GpuLimitError.

import * as tf from "@tensorflow/tfjs";

type TensorInfo = tf.TensorInfo;

/** The parts of tfjs-backend-webgpu's WebGPUBackend (backend_webgpu.d.ts) the pieces use. */
export interface SplitBackend {
  device: GPUDevice;
  tensorMap: { get(dataId: object): { resource: unknown; external?: boolean; values?: unknown } | undefined };
  commandQueueOwnedIds: WeakSet<object>;
  commandEncoder: GPUCommandEncoder | null;
  makeTensorInfo(shape: number[], dtype: tf.DataType): TensorInfo;
  uploadToGPU(dataId: object): void;
  disposeData(dataId: object): boolean;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
}

let bindingLimitOverride: number | null = null;

/**
 * For tests only: treat `bytes` as the device's maxStorageBufferBindingSize (null: the device's own), so that the split
 * paths run on small tensors (SwiftShader allows 128 MiB and more, too large for a test's shapes).
 */
export function setWebgpuBindingLimitForTests(bytes: number | null): void {
  bindingLimitOverride = bytes;
}

/** The largest storage binding in bytes: the device's, or the test override when that is lower. */
export function bindingLimit(backend: { device: { limits: { maxStorageBufferBindingSize: number } } }): number {
  const device = backend.device.limits.maxStorageBufferBindingSize;
  return bindingLimitOverride === null ? device : Math.min(device, bindingLimitOverride);
}

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const mib = (b: number) => `${(b / 2 ** 20).toFixed(b < 2 ** 20 ? 2 : 0)} MiB`;

/** A tensor larger than WebGPU allows: the message names the shape, the limit and what to change. */
export class GpuLimitError extends Error {
  constructor(
    readonly shape: readonly number[],
    readonly bytes: number,
    readonly limit: number,
    program: string,
    /** Which limit: "binding" (an operand of an op that is not split) or "buffer" (the tensor cannot exist on the GPU). */
    readonly kind: "binding" | "buffer" = "binding",
  ) {
    super(
      kind === "buffer"
        ? `webgpu: a tensor of shape [${shape.join(", ")}] (${mib(bytes)}, in ${program}) exceeds this GPU's largest buffer ` +
            `(maxBufferSize ${mib(limit)}); reduce the patch size or the batch size, or use --backend cpu-onednn`
        : `webgpu: a tensor of shape [${shape.join(", ")}] (${mib(bytes)}, in ${program}, which is not split) exceeds this GPU's ` +
            `largest storage binding (maxStorageBufferBindingSize ${mib(limit)}); reduce the patch size or the batch size, or use --backend cpu-onednn`,
    );
    this.name = "GpuLimitError";
  }
}

/** Allocates the GPU buffer of a whole result (which may exceed the binding limit but not maxBufferSize). */
export function wholeTensor(backend: SplitBackend, shape: number[], dtype: tf.DataType, op: string): TensorInfo {
  const bytes = sizeOf(shape) * 4;
  if (bytes > backend.device.limits.maxBufferSize) throw new GpuLimitError(shape, bytes, backend.device.limits.maxBufferSize, op, "buffer");
  const t = backend.makeTensorInfo(shape, dtype);
  backend.uploadToGPU(t.dataId);
  // Its pieces are recorded into the pending command buffer: tfjs must not recycle the buffer before that is submitted.
  backend.commandQueueOwnedIds.add(t.dataId);
  return t;
}

function bufferOf(backend: SplitBackend, t: TensorInfo): GPUBuffer {
  backend.uploadToGPU(t.dataId);
  const r = backend.tensorMap.get(t.dataId)?.resource;
  if (!(r instanceof GPUBuffer)) throw new Error("webgpu split: a tensor's data is not a GPU buffer");
  return r;
}

function aligned(backend: SplitBackend, elemOffset: number): boolean {
  return (elemOffset * 4) % backend.device.limits.minStorageBufferOffsetAlignment === 0;
}

/** A view of `shape` on the elements of `parent` from `elemOffset` on: its binding is that sub-range of the buffer. */
function view(backend: SplitBackend, parent: TensorInfo, elemOffset: number, shape: number[]): TensorInfo {
  const buffer = bufferOf(backend, parent);
  const v = backend.makeTensorInfo(shape, parent.dtype);
  const data = backend.tensorMap.get(v.dataId)!;
  // tfjs binds a resource that is neither a GPUBuffer nor a texture as it is, and never releases an external one.
  data.resource = { buffer, offset: elemOffset * 4, size: sizeOf(shape) * 4 };
  data.external = true;
  backend.commandQueueOwnedIds.add(parent.dataId);
  return v;
}

function copy(backend: SplitBackend, src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.commandEncoder!.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
}

/** A piece of `parent` to read: a view when its offset is aligned, else a copy. Dispose it after use. */
export function readPiece(backend: SplitBackend, parent: TensorInfo, elemOffset: number, shape: number[]): TensorInfo {
  if (aligned(backend, elemOffset)) return view(backend, parent, elemOffset, shape);
  const t = backend.makeTensorInfo(shape, parent.dtype);
  copy(backend, bufferOf(backend, parent), elemOffset * 4, bufferOf(backend, t), 0, sizeOf(shape) * 4);
  backend.commandQueueOwnedIds.add(t.dataId);
  return t;
}

/**
 * A piece of `whole` to write: `target` is passed as a program's output, then `done()` puts it in place (a view is
 * already in place; a separate buffer is copied in) and releases it.
 */
export function writePiece(backend: SplitBackend, whole: TensorInfo, elemOffset: number, shape: number[]): { target: TensorInfo; done(): void } {
  if (aligned(backend, elemOffset)) {
    const target = view(backend, whole, elemOffset, shape);
    return { target, done: () => void backend.disposeData(target.dataId) };
  }
  const target = backend.makeTensorInfo(shape, whole.dtype);
  return {
    target,
    done: () => {
      copy(backend, bufferOf(backend, target), 0, bufferOf(backend, whole), elemOffset * 4, sizeOf(shape) * 4);
      backend.commandQueueOwnedIds.add(target.dataId);
      backend.disposeData(target.dataId);
    },
  };
}

/** Copies a result computed separately into `whole` at `elemOffset`, then releases it. */
export function placePiece(backend: SplitBackend, whole: TensorInfo, elemOffset: number, piece: TensorInfo): void {
  copy(backend, bufferOf(backend, piece), 0, bufferOf(backend, whole), elemOffset * 4, sizeOf(piece.shape) * 4);
  backend.commandQueueOwnedIds.add(piece.dataId);
  backend.disposeData(piece.dataId);
}

/**
 * The largest run of consecutive units (depth planes, voxels) whose bytes, for every operand, fit the binding limit;
 * `bytesPerUnit` lists each operand's bytes per unit and `extraUnits` units that operand reads beyond the run (a
 * convolution's halo). Throws GpuLimitError when even one unit does not fit.
 */
export function unitsPerPiece(limit: number, bytesPerUnit: number[], extraUnits: number[], shapeForError: number[], op: string): number {
  let best = Infinity;
  bytesPerUnit.forEach((b, i) => {
    best = Math.min(best, Math.floor(limit / b) - (extraUnits[i] ?? 0));
  });
  if (best < 1) throw new GpuLimitError(shapeForError, sizeOf(shapeForError) * 4, limit, `${op} (one depth plane per piece is still too large)`);
  return best;
}

type Kernel = (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: Record<string, unknown> }) => TensorInfo | TensorInfo[];

/** Unary elementwise kernels the networks, losses and optimizers use, run in pieces when their operand is too large. */
const UNARY = ["Abs", "Exp", "Log", "Neg", "Relu", "LeakyRelu", "Sigmoid", "Sqrt", "Square", "Rsqrt", "Reciprocal", "Tanh", "Elu", "Step", "Sign"];
/** Binary elementwise kernels: pieces when both operands have the result's size, or one is a per-channel vector or a scalar. */
const BINARY = ["Add", "Sub", "Multiply", "RealDiv", "Maximum", "Minimum", "SquaredDifference", "Pow", "Greater", "GreaterEqual", "Less", "LessEqual", "Equal"];

/** Elements per piece: a multiple of `unit` (the broadcast vector's length) and of 64, so views stay aligned. */
function pieceElements(limit: number, unit: number): number {
  const step = (unit * 64) / gcd(unit, 64);
  return Math.max(step, Math.floor(limit / 4 / step) * step);
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function splitElementwise(orig: Kernel, name: string): Kernel {
  return (args) => {
    const backend = args.backend as SplitBackend;
    const ins = Object.entries(args.inputs);
    const big = ins.reduce((m, [, t]) => Math.max(m, sizeOf(t.shape)), 0);
    const limit = bindingLimit(backend);
    if (big * 4 <= limit) return orig(args);
    const outShape = tf.backend_util.assertAndGetBroadcastShape(ins[0]![1].shape, (ins[1] ?? ins[0]!)[1].shape);
    const total = sizeOf(outShape);
    const last = outShape.at(-1)!;
    // Every operand is the whole result, a vector along its last axis (bias, gamma) or a single value.
    const role = ins.map(([, t]) => {
      const n = sizeOf(t.shape);
      if (n === total) return "whole";
      if (n === 1) return "scalar";
      if (n === last && t.shape.at(-1) === last) return "vector";
      return null;
    });
    if (role.includes(null)) return orig(args);
    const step = pieceElements(limit, role.includes("vector") ? last : 1);
    let whole: TensorInfo | undefined;
    for (let off = 0; off < total; off += step) {
      const len = Math.min(step, total - off);
      const pieceShape = role.includes("vector") ? [len / last, last] : [len];
      const made: TensorInfo[] = [];
      const inputs: Record<string, TensorInfo> = {};
      ins.forEach(([k, t], i) => {
        if (role[i] !== "whole") inputs[k] = t;
        else made.push((inputs[k] = readPiece(backend, t, off, pieceShape)));
      });
      let r: TensorInfo;
      try {
        r = orig({ ...args, inputs }) as TensorInfo;
      } finally {
        for (const m of made) backend.disposeData(m.dataId);
      }
      whole ??= wholeTensor(backend, outShape, r.dtype, name);
      placePiece(backend, whole, off, r);
    }
    return whole!;
  };
}

/** Wraps the elementwise kernels of `backendName` so that operands over the binding limit run in pieces (once). */
export function registerWebgpuSplitKernels(backendName: string): void {
  for (const name of [...UNARY, ...BINARY]) {
    const k = tf.getKernel(name, backendName);
    if (!k || (k as { nnsslSplit?: boolean }).nnsslSplit) continue;
    tf.unregisterKernel(name, backendName);
    tf.registerKernel({
      ...k,
      kernelFunc: splitElementwise(k.kernelFunc as unknown as Kernel, name) as unknown as tf.KernelFunc,
      nnsslSplit: true,
    } as tf.KernelConfig);
  }
}
