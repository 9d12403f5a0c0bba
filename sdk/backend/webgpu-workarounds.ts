// tfjs-backend-webgpu 4.22 generates invalid WGSL for some kernels on rank-5 tensors, which is every tensor of a 3D
// U-Net: its shaders index the rank-5 coordinate type (a struct, `vec5`) like a vector. Found by the webgpu kernel tests:
// PadV2 (anisotropic conv padding), Reverse (mirroring at inference), Select (tf.where, in LeakyReLU's gradient; it
// refuses rank 5 outright) and the binary ops whose other operand is a short vector (bias and gamma/beta broadcasts:
// the "shared" program). The wrappers below run the package's own kernels on
// reshaped views of rank 4 or less that compute the same thing; reshapes are free (they share the GPU buffer).
// Also: its AddN binds every input at once, so summing more tensors than the adapter's maxStorageBuffersPerShaderStage
// (tf.addN over a network's gradients) is an invalid pipeline; the wrapper sums in groups. And its Softmax runs one
// workgroup per row without a bounds check: past maxComputeWorkgroupsPerDimension rows (attention over a Primus
// patch: batch x heads x tokens) the rounded-up 2-D dispatch writes extra rows onto the last ones (seen on SwiftShader
// as a wrong last element); the wrapper runs it on slices of at most that many rows.

import * as tf from "@tensorflow/tfjs";

type TensorInfo = tf.TensorInfo;
type KernelArgs = { inputs: Record<string, TensorInfo>; backend: tf.KernelBackend; attrs?: Record<string, unknown> };
type Kernel = (args: KernelArgs) => TensorInfo | TensorInfo[];

const BINARY_KERNELS = [
  "Add",
  "Sub",
  "Multiply",
  "RealDiv",
  "Maximum",
  "Minimum",
  "SquaredDifference",
  "Pow",
  "FloorDiv",
  "Mod",
  "Equal",
  "NotEqual",
  "Greater",
  "GreaterEqual",
  "Less",
  "LessEqual",
  "LogicalAnd",
  "LogicalOr",
] as const;

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The backend's Reshape kernel (a view: it shares the buffer and counts a reference). */
let reshape: Kernel;

/** Runs `fn` on `backend` with reshape views made by the backend's own Reshape kernel, disposing the views afterwards. */
function withViews(backend: tf.KernelBackend, fn: (view: (t: TensorInfo, shape: number[]) => TensorInfo) => TensorInfo): TensorInfo {
  const made: TensorInfo[] = [];
  const view = (t: TensorInfo, shape: number[]) => {
    const v = reshape({ inputs: { x: t }, backend, attrs: { shape } }) as TensorInfo;
    made.push(v);
    return v;
  };
  try {
    return fn(view);
  } finally {
    for (const v of made) (backend as unknown as { disposeData(id: object): void }).disposeData(v.dataId);
  }
}

/** The final reshape of a result: the output keeps its own buffer reference, the intermediate is released. */
function reshapeResult(backend: tf.KernelBackend, t: TensorInfo, shape: number[]): TensorInfo {
  const out = reshape({ inputs: { x: t }, backend, attrs: { shape } }) as TensorInfo;
  (backend as unknown as { disposeData(id: object): void }).disposeData(t.dataId);
  return out;
}

function wrapBinary(orig: Kernel): Kernel {
  return (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const big = a.shape.length >= 5 ? a : b.shape.length >= 5 ? b : null;
    const small = big === a ? b : a;
    if (!big || small.shape.length > 1) return orig(args);
    // A vector (or scalar) broadcast along the last axis of a rank-5 tensor: the same on [rest, last].
    const last = big.shape.at(-1)!;
    const out = withViews(args.backend, (view) => {
      const flat = view(big, [size(big.shape) / last, last]);
      return orig({ ...args, inputs: big === a ? { a: flat, b: small } : { a: small, b: flat } }) as TensorInfo;
    });
    return reshapeResult(args.backend, out, big.shape.slice());
  };
}

function wrapPad(orig: Kernel): Kernel {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const paddings = (args.attrs as { paddings: [number, number][] }).paddings;
    if (x.shape.length !== 5) return orig(args);
    // Padding the first three axes is a rank-4 pad of [a0, a1, a2, a3*a4]; the last two a rank-3 pad of [a0*a1*a2, a3, a4].
    let cur = x;
    let owned = false;
    const step = (axes: number[]) => {
      if (axes.every((i) => paddings[i]![0] === 0 && paddings[i]![1] === 0)) return;
      const s = cur.shape;
      const viewShape = axes[0] === 0 ? [s[0]!, s[1]!, s[2]!, s[3]! * s[4]!] : [s[0]! * s[1]! * s[2]!, s[3]!, s[4]!];
      const pads = axes[0] === 0 ? [paddings[0]!, paddings[1]!, paddings[2]!, [0, 0]] : [[0, 0], paddings[3]!, paddings[4]!];
      const outShape = s.map((d, i) => (axes.includes(i) ? d + paddings[i]![0] + paddings[i]![1] : d));
      const padded = withViews(
        args.backend,
        (view) => orig({ ...args, inputs: { x: view(cur, viewShape) }, attrs: { ...args.attrs, paddings: pads } }) as TensorInfo,
      );
      const next = reshapeResult(args.backend, padded, outShape);
      if (owned) (args.backend as unknown as { disposeData(id: object): void }).disposeData(cur.dataId);
      cur = next;
      owned = true;
    };
    step([0, 1, 2]);
    step([3, 4]);
    if (!owned) return orig(args);
    return cur;
  };
}

function wrapReverse(orig: Kernel): Kernel {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.shape.length !== 5) return orig(args);
    const rank = x.shape.length;
    const raw = (args.attrs as { dims: number | number[] }).dims;
    const dims = [...new Set((Array.isArray(raw) ? raw : [raw]).map((d) => (d < 0 ? d + rank : d)))].sort();
    if (dims.length === 0) return orig(args);
    // One axis at a time, each as the middle axis of [before, n, after].
    let cur = x;
    let owned = false;
    for (const d of dims) {
      const s = cur.shape;
      const viewShape = [size(s.slice(0, d)), s[d]!, size(s.slice(d + 1))];
      const flipped = withViews(args.backend, (view) => orig({ ...args, inputs: { x: view(cur, viewShape) }, attrs: { dims: [1] } }) as TensorInfo);
      const next = reshapeResult(args.backend, flipped, s.slice());
      if (owned) (args.backend as unknown as { disposeData(id: object): void }).disposeData(cur.dataId);
      cur = next;
      owned = true;
    }
    return cur;
  };
}

function wrapSelect(orig: Kernel): Kernel {
  return (args) => {
    const { condition, t, e } = args.inputs as { condition: TensorInfo; t: TensorInfo; e: TensorInfo };
    if (t.shape.length < 5) return orig(args);
    // tf.where broadcasts all three to one shape before the kernel, so it is elementwise: flat views.
    if (size(condition.shape) !== size(t.shape)) return orig(args);
    const shape = [size(t.shape)];
    const out = withViews(
      args.backend,
      (view) => orig({ ...args, inputs: { condition: view(condition, shape), t: view(t, shape), e: view(e, shape) } }) as TensorInfo,
    );
    return reshapeResult(args.backend, out, t.shape.slice());
  };
}

function wrapAddN(orig: Kernel, maxInputs: number): Kernel {
  return (args) => {
    // AddN's inputs are an array (tf.addN passes its tensor list as the inputs map).
    let ts = args.inputs as unknown as TensorInfo[];
    if (ts.length <= maxInputs) return orig(args);
    const partials: TensorInfo[] = [];
    while (ts.length > maxInputs) {
      const next: TensorInfo[] = [];
      for (let i = 0; i < ts.length; i += maxInputs) {
        const group = ts.slice(i, i + maxInputs);
        if (group.length === 1) next.push(group[0]!);
        else {
          const s = orig({ ...args, inputs: group as unknown as Record<string, TensorInfo> }) as TensorInfo;
          partials.push(s);
          next.push(s);
        }
      }
      ts = next;
    }
    const out = orig({ ...args, inputs: ts as unknown as Record<string, TensorInfo> }) as TensorInfo;
    for (const p of partials) (args.backend as unknown as { disposeData(id: object): void }).disposeData(p.dataId);
    return out;
  };
}

function wrapSoftmax(orig: Kernel, backendName: string, maxRows: number): Kernel {
  return (args) => {
    const { logits } = args.inputs as { logits: TensorInfo };
    const cols = logits.shape.at(-1)!;
    const rows = size(logits.shape) / cols;
    if (rows <= maxRows) return orig(args);
    const slice = tf.getKernel("Slice", backendName)!.kernelFunc as unknown as Kernel;
    const concat = tf.getKernel("Concat", backendName)!.kernelFunc as unknown as Kernel;
    const dispose = (t: TensorInfo) => (args.backend as unknown as { disposeData(id: object): void }).disposeData(t.dataId);
    const parts: TensorInfo[] = [];
    const out = withViews(args.backend, (view) => {
      const flat = view(logits, [rows, cols]);
      for (let r = 0; r < rows; r += maxRows) {
        const piece = slice({ inputs: { x: flat }, backend: args.backend, attrs: { begin: [r, 0], size: [Math.min(maxRows, rows - r), cols] } }) as TensorInfo;
        parts.push(orig({ ...args, inputs: { logits: piece }, attrs: { ...args.attrs, dim: 1 } }) as TensorInfo);
        dispose(piece);
      }
      return concat({ inputs: parts as unknown as Record<string, TensorInfo>, backend: args.backend, attrs: { axis: 0 } }) as TensorInfo;
    });
    for (const p of parts) dispose(p);
    return reshapeResult(args.backend, out, logits.shape.slice());
  };
}

/** Replaces the affected webgpu kernels of `backendName` by the wrappers (once). */
export function patchTfjsWebgpuKernels(
  backendName: string,
  limits: { maxStorageBuffersPerShaderStage: number; maxComputeWorkgroupsPerDimension: number },
): void {
  reshape = tf.getKernel("Reshape", backendName)!.kernelFunc as unknown as Kernel;
  const replace = (name: string, wrap: (k: Kernel) => Kernel) => {
    const k = tf.getKernel(name, backendName);
    if (!k || (k as { nnsslRank5?: boolean }).nnsslRank5) return;
    tf.unregisterKernel(name, backendName);
    const config = { ...k, kernelFunc: wrap(k.kernelFunc as unknown as Kernel) as unknown as tf.KernelFunc, nnsslRank5: true };
    tf.registerKernel(config);
  };
  for (const name of BINARY_KERNELS) replace(name, wrapBinary);
  replace("PadV2", wrapPad);
  replace("Reverse", wrapReverse);
  replace("Select", wrapSelect);
  // One binding is the output.
  replace("AddN", (k) => wrapAddN(k, Math.max(2, limits.maxStorageBuffersPerShaderStage - 1)));
  replace("Softmax", (k) => wrapSoftmax(k, backendName, limits.maxComputeWorkgroupsPerDimension));
}
