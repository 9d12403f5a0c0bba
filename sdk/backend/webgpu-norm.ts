// `webgpu` kernels of the fused instance norm (+ activation) op declared in sdk/backend/fused-norm.ts, as WGSL compute
// shaders run through tfjs' WebGPU backend. The layout is channels-last [N, S, C] (S = all spatial voxels), so threads
// that neighbour in C read neighbouring addresses.
//
// Statistics take two passes so that the GPU stays busy however few (sample, channel) pairs there are (a 3D U-Net has
// 2 x 32 of them at full resolution, over 2 M voxels each): first every thread reduces a chunk of L voxels of one
// channel, then one workgroup per (sample, channel) combines the chunks. Chunks keep a shifted sum and sum of squares
// (shifted by the chunk's first value) and are combined with Chan et al.'s parallel update, so a mean that is large
// against the spread (CT intensities) does not cancel in float32, which the CPU kernel avoids by summing in double.
// Forward: 2 statistics programs + 1 normalisation; backward: 2 reduction programs + 1 for dx + 1 for dgamma/dbeta.

import * as tf from "@tensorflow/tfjs";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { INSTANCE_NORM, INSTANCE_NORM_GRAD } from "./fused-norm.js";
import { bindingLimit, GpuLimitError, placePiece, readPiece, wholeTensor, writePiece, type SplitBackend } from "./webgpu-split.js";

type TensorInfo = tf.TensorInfo;
type Uniform = { type: "int32" | "float32"; data: number[] };

/** Voxels per thread in the first statistics pass: long enough to amortise the combine, short enough to fill the GPU. */
const TARGET_THREADS = 1 << 18;
const MIN_CHUNK = 32;
const COMBINE_THREADS = 64;

/** The minimum a tfjs WebGPU program needs (webgpu_program.ts in tfjs-backend-webgpu). */
abstract class Program {
  abstract variableNames: string[];
  abstract shaderKey: string;
  abstract uniforms: string;
  outputShape: number[];
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  constructor(outputShape: number[], threads: number, workgroup: number, workgroupsOverride?: number) {
    this.outputShape = outputShape;
    this.dispatchLayout = { x: outputShape.map((_, i) => i) };
    this.workgroupSize = [workgroup, 1, 1];
    this.dispatch = [workgroupsOverride ?? Math.ceil(threads / workgroup), 1, 1];
  }
  abstract getUserCode(): string;
}

/** act'(pre-activation) from the output's sign (y = 0 takes the slope, as torch's `x > 0` test). */
const actGrad = (act: boolean) => (act ? "select(dyv * uniforms.slope, dyv, yv > 0.0)" : "dyv");

/** Pass 1 of the statistics: per (n, chunk, c), the chunk's mean and M2 (forward) or sum(dz), sum(dz * xhat) (backward). */
class ChunkProgram extends Program {
  variableNames: string[];
  uniforms = "S : i32, C : i32, K : i32, L : i32, threads : i32, slope : f32,";
  shaderKey: string;
  constructor(
    readonly n: number,
    readonly s: number,
    readonly c: number,
    readonly k: number,
    readonly grad: boolean,
    readonly act: boolean,
  ) {
    super([n * k * c * 2], n * k * c, 64);
    this.variableNames = grad ? ["dy", "x", "y", "mean", "rstd"] : ["x"];
    this.shaderKey = `nnsslNormChunk_${grad ? "grad" : "stats"}_${act ? "act" : "noact"}`;
  }
  getUserCode(): string {
    const head = `
      fn main(index : i32) {
        if (index >= uniforms.threads) { return; }
        let C = uniforms.C;
        let c = index % C;
        let k = (index / C) % uniforms.K;
        let n = index / (C * uniforms.K);
        let s0 = k * uniforms.L;
        let s1 = min(s0 + uniforms.L, uniforms.S);
        var off = (n * uniforms.S + s0) * C + c;`;
    if (!this.grad) {
      return `${head}
        let x0 = x[off];
        var a = 0.0;
        var b = 0.0;
        for (var s = s0; s < s1; s++) {
          let d = x[off] - x0;
          a += d;
          b += d * d;
          off += C;
        }
        let cnt = f32(s1 - s0);
        result[index * 2] = x0 + a / cnt;
        result[index * 2 + 1] = max(b - a * a / cnt, 0.0);
      }`;
    }
    return `${head}
        let m = mean[n * C + c];
        let r = rstd[n * C + c];
        var a = 0.0;
        var b = 0.0;
        for (var s = s0; s < s1; s++) {
          let dyv = dy[off];
          let yv = y[off];
          let dz = ${actGrad(this.act)};
          a += dz;
          b += dz * (x[off] - m) * r;
          off += C;
        }
        result[index * 2] = a;
        result[index * 2 + 1] = b;
      }`;
  }
}

/**
 * Pass 2: one workgroup per (n, c) combines its K chunks. `which` picks the output: forward 0 = mean, 1 = rstd;
 * backward 0 = sum(dz), 1 = sum(dz * xhat).
 */
class CombineProgram extends Program {
  variableNames = ["part"];
  uniforms = "S : i32, C : i32, K : i32, L : i32, groups : i32, which : i32, eps : f32,";
  shaderKey: string;
  constructor(
    outputShape: number[],
    readonly groups: number,
    readonly grad: boolean,
  ) {
    super(outputShape, groups * COMBINE_THREADS, COMBINE_THREADS, groups);
    this.shaderKey = `nnsslNormCombine_${grad ? "grad" : "stats"}`;
  }
  getUserCode(): string {
    const T = COMBINE_THREADS;
    const stats = `
        // Chan et al.: merge (count, mean, M2) of this thread's chunks.
        var cnt = 0.0;
        var mu = 0.0;
        var m2 = 0.0;
        for (var k = i32(localId.x); k < uniforms.K; k += ${T}) {
          let nb = f32(min(uniforms.L, uniforms.S - k * uniforms.L));
          let p = ((n * uniforms.K + k) * uniforms.C + c) * 2;
          let delta = part[p] - mu;
          let tot = cnt + nb;
          mu += delta * nb / tot;
          m2 += part[p + 1] + delta * delta * cnt * nb / tot;
          cnt = tot;
        }
        sCnt[localId.x] = cnt;
        sA[localId.x] = mu;
        sB[localId.x] = m2;
        workgroupBarrier();
        for (var w = ${T / 2}u; w > 0u; w = w / 2u) {
          if (localId.x < w) {
            let na = sCnt[localId.x];
            let nb = sCnt[localId.x + w];
            let tot = na + nb;
            if (nb > 0.0) {
              let delta = sA[localId.x + w] - sA[localId.x];
              sA[localId.x] += delta * nb / tot;
              sB[localId.x] += sB[localId.x + w] + delta * delta * na * nb / tot;
              sCnt[localId.x] = tot;
            }
          }
          workgroupBarrier();
        }
        if (localId.x == 0u && g < uniforms.groups) {
          result[g] = select(inverseSqrt(sB[0] / f32(uniforms.S) + uniforms.eps), sA[0], uniforms.which == 0);
        }`;
    const sums = `
        var a = 0.0;
        for (var k = i32(localId.x); k < uniforms.K; k += ${T}) {
          a += part[((n * uniforms.K + k) * uniforms.C + c) * 2 + uniforms.which];
        }
        sA[localId.x] = a;
        workgroupBarrier();
        for (var w = ${T / 2}u; w > 0u; w = w / 2u) {
          if (localId.x < w) { sA[localId.x] += sA[localId.x + w]; }
          workgroupBarrier();
        }
        if (localId.x == 0u && g < uniforms.groups) { result[g] = sA[0]; }`;
    return `
      var<workgroup> sCnt : array<f32, ${T}>;
      var<workgroup> sA : array<f32, ${T}>;
      var<workgroup> sB : array<f32, ${T}>;
      fn main(index : i32) {
        let g = i32(workgroupId.y * numWorkgroups.x + workgroupId.x);
        let n = g / uniforms.C;
        let c = g % uniforms.C;
        ${this.grad ? sums : stats}
      }`;
  }
}

/** y = act((x - mean) * rstd * gamma + beta), elementwise. */
class NormalizeProgram extends Program {
  variableNames = ["x", "mean", "rstd", "gamma", "beta"];
  uniforms = "S : i32, C : i32, total : i32, slope : f32,";
  shaderKey: string;
  constructor(
    shape: number[],
    total: number,
    readonly act: boolean,
  ) {
    super(shape, total, 128);
    this.shaderKey = `nnsslNormApply_${act ? "act" : "noact"}`;
  }
  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index >= uniforms.total) { return; }
        let c = index % uniforms.C;
        let nc = (index / (uniforms.S * uniforms.C)) * uniforms.C + c;
        let v = (x[index] - mean[nc]) * rstd[nc] * gamma[c] + beta[c];
        result[index] = ${this.act ? "max(v, 0.0) + uniforms.slope * min(v, 0.0)" : "v"};
      }`;
  }
}

/** dx = rstd * gamma * (dz - sum(dz) / S - xhat * sum(dz * xhat) / S), elementwise. */
class DxProgram extends Program {
  variableNames = ["dy", "x", "y", "mean", "rstd", "gamma", "sumA", "sumB"];
  uniforms = "S : i32, C : i32, total : i32, slope : f32,";
  shaderKey: string;
  constructor(
    shape: number[],
    total: number,
    readonly act: boolean,
  ) {
    super(shape, total, 128);
    this.shaderKey = `nnsslNormDx_${act ? "act" : "noact"}`;
  }
  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index >= uniforms.total) { return; }
        let c = index % uniforms.C;
        let nc = (index / (uniforms.S * uniforms.C)) * uniforms.C + c;
        let dyv = dy[index];
        let yv = y[index];
        let dz = ${actGrad(this.act)};
        let r = rstd[nc];
        let xhat = (x[index] - mean[nc]) * r;
        let invS = 1.0 / f32(uniforms.S);
        result[index] = r * gamma[c] * (dz - sumA[nc] * invS - xhat * sumB[nc] * invS);
      }`;
  }
}

/** out[c] = sum over n of v[n, c] (dgamma from sum(dz * xhat), dbeta from sum(dz)). */
class SumOverSamplesProgram extends Program {
  variableNames = ["v"];
  uniforms = "N : i32, C : i32,";
  shaderKey = "nnsslNormSumN";
  constructor(outputShape: number[], c: number) {
    super(outputShape, c, 64);
  }
  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index >= uniforms.C) { return; }
        var a = 0.0;
        for (var n = 0; n < uniforms.N; n++) { a += v[n * uniforms.C + index]; }
        result[index] = a;
      }`;
  }
}

/** [N, S, C] of a channels-last tensor [N, ...spatial, C]. */
function dims(x: TensorInfo): [number, number, number] {
  if (x.shape.length < 3) throw new Error(`${INSTANCE_NORM}: x must be [N, ...spatial, C], got shape [${x.shape}]`);
  return [x.shape[0]!, x.shape.slice(1, -1).reduce((a, b) => a * b, 1), x.shape.at(-1)!];
}

function requireFloat32(ts: Record<string, TensorInfo | undefined>): void {
  for (const [name, t] of Object.entries(ts)) {
    if (t && t.dtype !== "float32") throw new Error(`${INSTANCE_NORM}: ${name} must be a float32 tensor (got ${t.dtype})`);
  }
}

/** Chunks per (n, c) and voxels per chunk for the first statistics pass. */
function chunking(n: number, s: number, c: number): { k: number; l: number } {
  const l = Math.max(MIN_CHUNK, Math.ceil((n * s * c) / TARGET_THREADS));
  return { k: Math.ceil(s / l), l };
}

function run(b: WebGPUBackend, p: Program, inputs: TensorInfo[], uniforms: Uniform[], output?: TensorInfo): TensorInfo {
  return b.runWebGPUProgram(p as never, inputs, "float32", uniforms, output);
}

/** One piece of a tensor over the binding limit: voxels [s0, s0 + len) of sample n. */
interface Piece {
  n: number;
  s0: number;
  len: number;
}

/**
 * Pieces of whole samples' voxel runs that fit one binding, or null when the tensor fits whole. Piece boundaries fall
 * on the statistics' chunk boundaries (multiples of l), so the chunks, and thus every sum, are those of the unsplit run;
 * l shrinks when one chunk of all channels would not fit.
 */
function piecesOf(b: WebGPUBackend, x: TensorInfo, n: number, s: number, c: number, l: number): { pieces: Piece[]; l: number } | null {
  const limit = bindingLimit(b as unknown as SplitBackend);
  if (n * s * c * 4 <= limit) return null;
  const perPiece = Math.floor(limit / (c * 4));
  if (perPiece < 1) throw new GpuLimitError(x.shape, n * s * c * 4, limit, `${INSTANCE_NORM} (one voxel of all channels per piece is too large)`);
  const chunk = Math.min(l, perPiece);
  const len = Math.floor(perPiece / chunk) * chunk;
  const pieces: Piece[] = [];
  for (let i = 0; i < n; i++) for (let s0 = 0; s0 < s; s0 += len) pieces.push({ n: i, s0, len: Math.min(len, s - s0) });
  return { pieces, l: chunk };
}

/** Pass 1 of the statistics over pieces, assembled into the [n, k, c, 2] buffer the combine pass reads. */
function chunksInPieces(
  b: WebGPUBackend,
  pieces: Piece[],
  s: number,
  c: number,
  l: number,
  k: number,
  grad: boolean,
  act: boolean,
  slope: number,
  inputs: TensorInfo[],
): TensorInfo {
  const sb = b as unknown as SplitBackend;
  const part = wholeTensor(sb, [inputs[0]!.shape[0]! * k * c * 2], "float32", INSTANCE_NORM);
  for (const p of pieces) {
    const kp = Math.ceil(p.len / l);
    const roles: [TensorInfo, Role][] = inputs.map((t, i) => [t, i < (grad ? 3 : 1) ? "voxels" : "sample"]);
    const made = pieceInputs(sb, p, s, c, roles);
    try {
      const out = run(b, new ChunkProgram(1, p.len, c, kp, grad, act), made, [
        { type: "int32", data: [p.len] },
        { type: "int32", data: [c] },
        { type: "int32", data: [kp] },
        { type: "int32", data: [l] },
        { type: "int32", data: [kp * c] },
        { type: "float32", data: [act ? slope : 0] },
      ]);
      placePiece(sb, part, (p.n * k + p.s0 / l) * c * 2, out);
    } finally {
      disposeMade(b, made, roles);
    }
  }
  return part;
}

/** How a pass reads an input: its piece of voxels ([N, S, C]), sample n's row ([N, C] statistics), or all of it (gamma, beta). */
type Role = "voxels" | "sample" | "whole";

function pieceInputs(b: SplitBackend, p: Piece, s: number, c: number, inputs: [TensorInfo, Role][]): TensorInfo[] {
  return inputs.map(([t, role]) =>
    role === "voxels" ? readPiece(b, t, (p.n * s + p.s0) * c, [1, p.len, c]) : role === "sample" ? readPiece(b, t, p.n * c, [1, c]) : t,
  );
}

function disposeMade(b: WebGPUBackend, made: TensorInfo[], inputs: [TensorInfo, Role][]): void {
  made.forEach((t, i) => inputs[i]![1] !== "whole" && b.disposeData(t.dataId));
}

/**
 * An elementwise pass (normalise, dx) over pieces into a whole output. S stays the whole sample's voxel count (the
 * programs divide by it; with one sample per piece their sample index is 0).
 */
function elementwiseInPieces(
  b: WebGPUBackend,
  pieces: Piece[],
  shape: number[],
  s: number,
  c: number,
  make: (len: number) => Program,
  inputs: [TensorInfo, Role][],
  slope: number,
): TensorInfo {
  const sb = b as unknown as SplitBackend;
  const out = wholeTensor(sb, shape, "float32", INSTANCE_NORM);
  for (const p of pieces) {
    const made = pieceInputs(sb, p, s, c, inputs);
    const w = writePiece(sb, out, (p.n * s + p.s0) * c, [1, p.len, c]);
    try {
      run(
        b,
        make(p.len * c),
        made,
        [
          { type: "int32", data: [s] },
          { type: "int32", data: [c] },
          { type: "int32", data: [p.len * c] },
          { type: "float32", data: [slope] },
        ],
        w.target,
      );
      w.done();
    } finally {
      disposeMade(b, made, inputs);
    }
  }
  return out;
}

const forward: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, gamma, beta } = inputs as Record<string, TensorInfo>;
  const b = backend as unknown as WebGPUBackend;
  requireFloat32({ x, gamma, beta });
  const [n, s, c] = dims(x!);
  for (const [name, t] of [
    ["gamma", gamma!],
    ["beta", beta!],
  ] as const) {
    if (t.shape.reduce((p, q) => p * q, 1) !== c)
      throw new Error(`${INSTANCE_NORM}: ${name} must have ${c} elements (one per channel), got shape [${t.shape}]`);
  }
  const { eps, slope } = attrs as unknown as { eps: number; slope: number };
  const act = !Number.isNaN(slope);
  let { k, l } = chunking(n, s, c);
  const split = piecesOf(b, x!, n, s, c, l);
  if (split) {
    l = split.l;
    k = Math.ceil(s / l);
  }
  const part = split
    ? chunksInPieces(b, split.pieces, s, c, l, k, false, act, slope, [x!])
    : run(
        b,
        new ChunkProgram(n, s, c, k, false, act),
        [x!],
        [
          { type: "int32", data: [s] },
          { type: "int32", data: [c] },
          { type: "int32", data: [k] },
          { type: "int32", data: [l] },
          { type: "int32", data: [n * k * c] },
          { type: "float32", data: [act ? slope : 0] },
        ],
      );
  const combine = (which: number) =>
    run(
      b,
      new CombineProgram([n, c], n * c, false),
      [part],
      [
        { type: "int32", data: [s] },
        { type: "int32", data: [c] },
        { type: "int32", data: [k] },
        { type: "int32", data: [l] },
        { type: "int32", data: [n * c] },
        { type: "int32", data: [which] },
        { type: "float32", data: [eps] },
      ],
    );
  const mean = combine(0);
  const rstd = combine(1);
  b.disposeData(part.dataId);
  if (split) {
    const shape = x!.shape.slice();
    const y = elementwiseInPieces(
      b,
      split.pieces,
      shape,
      s,
      c,
      (t) => new NormalizeProgram([1, t / c, c], t, act),
      [
        [x!, "voxels"],
        [mean, "sample"],
        [rstd, "sample"],
        [gamma!, "whole"],
        [beta!, "whole"],
      ],
      act ? slope : 0,
    );
    return [y, mean, rstd];
  }
  const y = run(
    b,
    new NormalizeProgram(x!.shape.slice(), n * s * c, act),
    [x!, mean, rstd, gamma!, beta!],
    [
      { type: "int32", data: [s] },
      { type: "int32", data: [c] },
      { type: "int32", data: [n * s * c] },
      { type: "float32", data: [act ? slope : 0] },
    ],
  );
  return [y, mean, rstd];
};

const backward: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, x, y, mean, rstd, gamma } = inputs as Record<string, TensorInfo>;
  const b = backend as unknown as WebGPUBackend;
  requireFloat32({ dy, x, y, mean, rstd, gamma });
  const [n, s, c] = dims(x!);
  const { slope } = attrs as unknown as { slope: number };
  const act = !Number.isNaN(slope);
  let { k, l } = chunking(n, s, c);
  const split = piecesOf(b, x!, n, s, c, l);
  if (split) {
    l = split.l;
    k = Math.ceil(s / l);
  }
  const sl: Uniform = { type: "float32", data: [act ? slope : 0] };
  const part = split
    ? chunksInPieces(b, split.pieces, s, c, l, k, true, act, slope, [dy!, x!, y!, mean!, rstd!])
    : run(
        b,
        new ChunkProgram(n, s, c, k, true, act),
        [dy!, x!, y!, mean!, rstd!],
        [
          { type: "int32", data: [s] },
          { type: "int32", data: [c] },
          { type: "int32", data: [k] },
          { type: "int32", data: [l] },
          { type: "int32", data: [n * k * c] },
          sl,
        ],
      );
  const sums = [0, 1].map((which) =>
    run(
      b,
      new CombineProgram([n, c], n * c, true),
      [part],
      [
        { type: "int32", data: [s] },
        { type: "int32", data: [c] },
        { type: "int32", data: [k] },
        { type: "int32", data: [l] },
        { type: "int32", data: [n * c] },
        { type: "int32", data: [which] },
        { type: "float32", data: [0] },
      ],
    ),
  );
  b.disposeData(part.dataId);
  const dx = split
    ? elementwiseInPieces(
        b,
        split.pieces,
        x!.shape.slice(),
        s,
        c,
        (t) => new DxProgram([1, t / c, c], t, act),
        [
          [dy!, "voxels"],
          [x!, "voxels"],
          [y!, "voxels"],
          [mean!, "sample"],
          [rstd!, "sample"],
          [gamma!, "whole"],
          [sums[0]!, "sample"],
          [sums[1]!, "sample"],
        ],
        act ? slope : 0,
      )
    : run(
        b,
        new DxProgram(x!.shape.slice(), n * s * c, act),
        [dy!, x!, y!, mean!, rstd!, gamma!, sums[0]!, sums[1]!],
        [{ type: "int32", data: [s] }, { type: "int32", data: [c] }, { type: "int32", data: [n * s * c] }, sl],
      );
  const perChannel = (v: TensorInfo) =>
    run(
      b,
      new SumOverSamplesProgram(gamma!.shape.slice(), c),
      [v],
      [
        { type: "int32", data: [n] },
        { type: "int32", data: [c] },
      ],
    );
  const dgamma = perChannel(sums[1]!);
  const dbeta = perChannel(sums[0]!);
  for (const t of sums) b.disposeData(t.dataId);
  return [dx, dgamma, dbeta];
};

/** Registers both fused kernels for `backendName` (a tfjs WebGPU backend). */
export function registerWebgpuNormKernels(backendName: string): void {
  if (tf.getKernel(INSTANCE_NORM, backendName)) return;
  tf.registerKernel({ kernelName: INSTANCE_NORM, backendName, kernelFunc: forward });
  tf.registerKernel({ kernelName: INSTANCE_NORM_GRAD, backendName, kernelFunc: backward });
}
