// Conv3D and both of its backward passes for the `webgpu` backend as tiled implicit-GEMM compute shaders.
// tfjs-backend-webgpu 4.22 runs these three kernels as naive shaders (conv3d_naive_webgpu.js, conv_backprop_webgpu.js:
// one thread per output element, every operand read from global memory), which makes them the bottleneck of training
// nnU-Net's 3-D networks on a GPU. Here each convolution is a matrix product whose operands are never materialised:
//   forward   out[m, co]  = sum_k im2col(x)[m, k]   * W[k, co]      m: output voxel, k: (kd, kh, kw, ci)
//   dx        dx[m, ci]   = sum_k col(dy)[m, k]     * W^T[k, ci]    m: input voxel of one stride phase, k: (kd, kh, kw, co)
//   dw        dW[r, co]   = sum_m im2col(x)^T[r, m] * dy[m, co]     r: (kd, kh, kw, ci), m: output voxel (split-K)
// A workgroup owns a TM x TN tile of the result; per step it stages a TM x TK tile of the left operand and a TK x TN
// tile of the right one in workgroup memory (gathered straight from the NDHWC tensors, zero outside the padding) and
// each thread accumulates a 4 x 4 register block. Loads along the channel axis are vec4 when the channel count is a
// multiple of 4, scalar otherwise. Layouts are tfjs' own: NDHWC activations, [kd, kh, kw, Cin, Cout] filters.
//
// dx for stride > 1 (the decoders' transposed convolutions, gradients of strided encoder convolutions) runs once per
// stride phase (input voxels with the same (i + pad) mod stride): within a phase the same kernel taps are valid for
// every voxel, so no multiply is spent on the zeros a strided transposed convolution would otherwise insert.
// dw's reduction runs over every output voxel of the batch (huge) into a small result, so it is split across
// workgroups (split-K) into partial sums that a second pass adds up.

import * as tf from "@tensorflow/tfjs";
import { bindingLimit, GpuLimitError, readPiece, wholeTensor, writePiece, type SplitBackend } from "./webgpu-split.js";

type TensorInfo = tf.TensorInfo;
type Triple = number | [number, number, number];
type Conv3DInfo = ReturnType<typeof tf.backend_util.computeConv3DInfo>;
type Uniform = { type: "int32"; data: number[] };

/** The part of tfjs-backend-webgpu's WebGPUProgram interface (webgpu_program.d.ts) these programs use. */
interface Program {
  variableNames: string[];
  variableComponents?: number[];
  uniforms?: string;
  size?: boolean;
  outputShape: number[];
  dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  shaderKey: string;
  getUserCode(): string;
}

/** The part of tfjs-backend-webgpu's WebGPUBackend these kernels use. */
interface WebgpuBackend extends SplitBackend {
  runWebGPUProgram(program: Program, inputs: TensorInfo[], dtype: tf.DataType, uniforms?: Uniform[], output?: TensorInfo): TensorInfo;
  makeTensorInfo(shape: number[], dtype: tf.DataType): TensorInfo;
  disposeData(dataId: object): boolean;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

const BACKEND = "webgpu";
const KERNELS = ["Conv3D", "Conv3DBackpropInputV2", "Conv3DBackpropFilterV2"] as const;

/**
 * How often each of our kernels ran (not tfjs' naive one), and how often dw took the split-K path ("... split-K"):
 * tests use it to prove these shaders did the work.
 */
export const webgpuConv3dCallCounts = new Map<string, number>();
const count = (name: string): void => void webgpuConv3dCallCounts.set(name, (webgpuConv3dCallCounts.get(name) ?? 0) + 1);

/** tfjs' own kernel configs, kept for what we do not handle (dilations > 1, non-float32) and for restoring them. */
const tfjsKernels = new Map<string, tf.KernelConfig>();

// ---- tiling ---------------------------------------------------------------------------------------------------------

type Mode = "fwd" | "dx" | "dw";

/** wn x wm threads, each an rm x 4 block: a TM = rm wm by TN = 4 wn tile of the result, stepping TK along the reduction. */
interface Tiling {
  wn: number;
  wm: number;
  tk: number;
  /** Rows per thread: 4, or 8 where the result has rows enough to keep a large GPU busy with the larger tiles. */
  rm: number;
}

/**
 * Narrow results (few output channels: the segmentation head, the first stages) get taller tiles so that a workgroup
 * still does 64 x 64-sized work; workgroup memory stays within WebGPU's guaranteed 16 KiB.
 */
export function chooseTiling(rows: number, cols: number): Tiling {
  if (cols > 32) {
    // 8 x 4 blocks (32 multiply-adds per 3 workgroup-memory reads instead of 16 per 2) once the 128 x 64 tiles still
    // number a few per SM of a large GPU (an H100 has 132).
    const bigTiles = Math.ceil(rows / 128) * Math.ceil(cols / 64);
    return bigTiles >= 512 ? { wn: 16, wm: 16, tk: 16, rm: 8 } : { wn: 16, wm: 16, tk: 16, rm: 4 }; // 128 x 64, 12 KiB; 64 x 64, 8 KiB
  }
  if (cols > 16) return { wn: 8, wm: 32, tk: 16, rm: 4 }; // 128 x 32, 10 KiB
  if (cols > 8) return { wn: 4, wm: 64, tk: 8, rm: 4 }; // 256 x 16, 8.5 KiB
  if (cols > 4) return { wn: 2, wm: 64, tk: 8, rm: 4 }; // 256 x 8, 128 threads
  return { wn: 1, wm: 64, tk: 8, rm: 4 }; // 256 x 4, 64 threads
}

// Uniforms of each mode, in the order their values are passed (all i32). M, N, K: the GEMM's rows, columns and
// reduction length; kChunk: the reduction length one workgroup layer (dispatch z) covers; numTiles: its TK steps.
const UNIFORMS: Record<Mode, string[]> = {
  fwd: ["M", "N", "K", "kChunk", "numTiles", "C", "D", "H", "W", "oD", "oH", "oW", "KH", "KW", "sd", "sh", "sw", "pd", "ph", "pw"],
  dx: [
    "M",
    "N",
    "K",
    "kChunk",
    "numTiles",
    "C",
    "oD",
    "oH",
    "oW",
    "cD",
    "cH",
    "cW",
    "nb",
    "nc",
    "bD",
    "bH",
    "bW",
    "D",
    "H",
    "W",
    "i0D",
    "i0H",
    "i0W",
    "sd",
    "sh",
    "sw",
    "rd",
    "rh",
    "rw",
    "KH",
    "KW",
  ],
  dw: ["M", "N", "K", "kChunk", "numTiles", "C", "D", "H", "W", "oD", "oH", "oW", "KH", "KW", "sd", "sh", "sw", "pd", "ph", "pw"],
};

const int = (data: number[]): Uniform => ({ type: "int32", data });

/**
 * One implicit GEMM. `aVec`: the left operand's gather reads 4 channels at once (its channel count is a multiple of 4);
 * `bVec`: the right operand's rows are read as vec4 (the result's column count is a multiple of 4).
 */
class ConvGemmProgram implements Program {
  variableNames = ["A", "B"];
  variableComponents: number[];
  uniforms: string;
  outputShape: number[];
  dispatchLayout = { x: [0], y: [1], z: [2] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  shaderKey: string;

  constructor(
    readonly mode: Mode,
    readonly tiling: Tiling,
    readonly aVec: boolean,
    readonly bVec: boolean,
    outputShape: number[],
    rows: number,
    cols: number,
    layers: number,
    maxPerDim: number,
  ) {
    this.variableComponents = [aVec ? 4 : 1, bVec ? 4 : 1];
    this.uniforms = UNIFORMS[mode].map((u) => `${u} : i32,`).join(" ");
    this.outputShape = outputShape;
    this.workgroupSize = [tiling.wn * tiling.wm, 1, 1];
    const tiles = Math.ceil(rows / (tiling.rm * tiling.wm)) * Math.ceil(cols / (4 * tiling.wn));
    // Tiles are numbered x + y * numWorkgroups.x, so a dispatch never exceeds the per-dimension workgroup limit.
    const gx = Math.min(tiles, maxPerDim);
    this.dispatch = [gx, Math.ceil(tiles / gx), layers];
    this.shaderKey = `nnsslConvGemm_${mode}_${tiling.wn}_${tiling.wm}_${tiling.tk}_${tiling.rm}_${aVec}_${bVec}`;
  }

  getUserCode(): string {
    const { mode, aVec } = this;
    const { wn, wm, tk, rm } = this.tiling;
    const TM = rm * wm;
    const QM = TM / 4; // vec4s per k-row of As
    const RQ = rm / 4; // vec4s of rows per thread
    const TN = 4 * wn;
    const T = wn * wm;
    const lines: string[] = [];
    const emit = (s: string): void => void lines.push(s);

    // The left operand's quads: 4 consecutive k of one row (fwd, dx) or 4 consecutive rows of one k (dw).
    const quadsA = (TM * tk) / 4;
    const perThreadA = Math.ceil(quadsA / T);
    const quadsB = (tk * TN) / 4;
    const perThreadB = Math.ceil(quadsB / T);

    emit(`var<workgroup> As : array<vec4<f32>, ${quadsA}>;`);
    emit(`var<workgroup> Bs : array<vec4<f32>, ${quadsB}>;`);
    emit(this.helpers());
    emit(`fn main() {`);
    emit(`  let tid = i32(localIndex);`);
    emit(`  let tx = tid % ${wn};`);
    emit(`  let ty = tid / ${wn};`);
    emit(`  let tile = i32(workgroupId.x + workgroupId.y * numWorkgroups.x);`);
    emit(`  let nTiles = (uniforms.N + ${TN - 1}) / ${TN};`);
    emit(`  let nTile = tile % nTiles;`);
    emit(`  let mTile = tile / nTiles;`);
    emit(`  let kStart = i32(workgroupId.z) * uniforms.kChunk;`);
    emit(`  let kEnd = min(uniforms.K, kStart + uniforms.kChunk);`);
    // Everything per thread is indexed by constants only: a dynamically indexed private array would live in
    // (slow, off-chip) local memory on most GPUs.
    for (let i = 0; i < rm; i++) emit(`  var acc${i} = vec4<f32>(0.0);`);

    // Per-thread row information for the left operand, fixed over the whole reduction.
    if (mode === "dw") {
      // quad q = tid + i T: rq = q % QM is the same for every i (T is a multiple of QM).
      if (T % QM !== 0) throw new Error(`conv3d backprop filter: tiling ${JSON.stringify(this.tiling)} is not supported`);
      emit(`  let rq = tid % ${QM};`);
      emit(`  let r0 = mTile * ${TM} + rq * 4;`);
      if (aVec) emit(`  let rinfo = filterRow(r0);`);
      else for (let j = 0; j < 4; j++) emit(`  let rinfo${j} = filterRow(r0 + ${j});`);
    } else {
      for (let i = 0; i < perThreadA; i++) emit(`  let rinfo${i} = rowInfo(mTile * ${TM} + (tid + ${i * T}) / ${tk / 4});`);
    }

    emit(`  for (var t = 0; t < uniforms.numTiles; t++) {`);
    emit(`    let k0 = kStart + t * ${tk};`);
    // Stage the left operand.
    for (let i = 0; i < perThreadA; i++) {
      const guard = quadsA % T !== 0 && (i + 1) * T > quadsA;
      emit(`    {`);
      emit(`      let q = tid + ${i * T};`);
      if (guard) emit(`      if (q < ${quadsA}) {`);
      if (mode === "dw") {
        emit(`      let kl = q / ${QM};`);
        emit(`      let col = colInfo(k0 + kl, kEnd);`);
        emit(
          `      As[kl * ${QM} + rq] = ${aVec ? "loadA4(rinfo, col)" : "vec4<f32>(loadA(rinfo0, col), loadA(rinfo1, col), loadA(rinfo2, col), loadA(rinfo3, col))"};`,
        );
      } else {
        emit(`      let ml = q / ${tk / 4};`);
        emit(`      let kq = q % ${tk / 4};`);
        emit(`      let k = k0 + kq * 4;`);
        emit(
          `      let v = ${aVec ? `loadA4(rinfo${i}, k, kEnd)` : `vec4<f32>(loadA(rinfo${i}, k, kEnd), loadA(rinfo${i}, k + 1, kEnd), loadA(rinfo${i}, k + 2, kEnd), loadA(rinfo${i}, k + 3, kEnd))`};`,
        );
        emit(`      let base = kq * 4 * ${QM} + ml / 4;`);
        emit(`      let comp = ml % 4;`);
        for (let j = 0; j < 4; j++) emit(`      As[base + ${j * QM}][comp] = v.${"xyzw"[j]};`);
      }
      if (guard) emit(`      }`);
      emit(`    }`);
    }
    // Stage the right operand: rows of B (k) by quads of columns.
    for (let i = 0; i < perThreadB; i++) {
      const guard = quadsB % T !== 0 && (i + 1) * T > quadsB;
      emit(`    {`);
      emit(`      let q = tid + ${i * T};`);
      if (guard) emit(`      if (q < ${quadsB}) {`);
      emit(`      let kl = q / ${wn};`);
      emit(`      let c = nTile * ${TN} + (q % ${wn}) * 4;`);
      emit(`      Bs[q] = loadB(k0 + kl, kEnd, c);`);
      if (guard) emit(`      }`);
      emit(`    }`);
    }
    emit(`    workgroupBarrier();`);
    emit(`    for (var kk = 0; kk < ${tk}; kk++) {`);
    emit(`      let b = Bs[kk * ${wn} + tx];`);
    for (let q = 0; q < RQ; q++) {
      emit(`      let a${q} = As[kk * ${QM} + ty * ${RQ} + ${q}];`);
      for (let i = 0; i < 4; i++) emit(`      acc${4 * q + i} = fma(vec4<f32>(a${q}.${"xyzw"[i]}), b, acc${4 * q + i});`);
    }
    emit(`    }`);
    emit(`    workgroupBarrier();`);
    emit(`  }`);

    // Write the 4 x 4 block.
    emit(`  let col0 = nTile * ${TN} + tx * 4;`);
    for (let i = 0; i < rm; i++) {
      emit(`  {`);
      emit(`    let row = mTile * ${TM} + ty * ${rm} + ${i};`);
      emit(`    if (row < uniforms.M) {`);
      emit(`      let base = outIndex(row) * uniforms.N + col0;`);
      for (let j = 0; j < 4; j++) emit(`      if (col0 + ${j} < uniforms.N) { result[base + ${j}] = acc${i}.${"xyzw"[j]}; }`);
      emit(`    }`);
      emit(`  }`);
    }
    emit(`}`);
    return lines.join("\n");
  }

  /** The mode's gathers: row information, left-operand element loads, right-operand rows and the output row. */
  private helpers(): string {
    const { mode, aVec, bVec } = this;
    const u = "uniforms";
    // B is a row-major [K, N] matrix in every mode (dx passes the filter transposed to [kd, kh, kw, Cout, Cin]).
    const bRow =
      mode === "dx"
        ? `fn bRow(k : i32) -> i32 {
             let kv = k / ${u}.C;
             let co = k - kv * ${u}.C;
             let c = kv % ${u}.nc;
             let t = kv / ${u}.nc;
             let b = t % ${u}.nb;
             let a = t / ${u}.nb;
             return (((${u}.rd + ${u}.sd * a) * ${u}.KH + ${u}.rh + ${u}.sh * b) * ${u}.KW + ${u}.rw + ${u}.sw * c) * ${u}.C + co;
           }`
        : `fn bRow(k : i32) -> i32 { return k; }`;
    const loadB = bVec
      ? `fn loadB(k : i32, kEnd : i32, c : i32) -> vec4<f32> {
           let i = select((bRow(k) * ${u}.N + c) / 4, -1, (k >= kEnd) | (c >= ${u}.N));
           return select(B[max(i, 0)], vec4<f32>(0.0), i < 0);
         }`
      : `fn loadB(k : i32, kEnd : i32, c : i32) -> vec4<f32> {
           let base = select(bRow(k) * ${u}.N + c, 0, k >= kEnd);
           let ok = vec4<bool>(k < kEnd) & (vec4<i32>(c) + vec4<i32>(0, 1, 2, 3) < vec4<i32>(${u}.N));
           let i = select(vec4<i32>(0), vec4<i32>(base) + vec4<i32>(0, 1, 2, 3), ok);
           return select(vec4<f32>(0.0), vec4<f32>(B[i.x], B[i.y], B[i.z], B[i.w]), ok);
         }`;

    if (mode === "fwd") {
      // rowInfo: (n * D or -1 past the last row, first input voxel of the window along d, h, w).
      return `
        fn rowInfo(m : i32) -> vec4<i32> {
          let ow = m % ${u}.oW;
          let t1 = m / ${u}.oW;
          let oh = t1 % ${u}.oH;
          let t2 = t1 / ${u}.oH;
          let od = t2 % ${u}.oD;
          let n = t2 / ${u}.oD;
          return vec4<i32>(select(-1, n * ${u}.D, m < ${u}.M), od * ${u}.sd - ${u}.pd, oh * ${u}.sh - ${u}.ph, ow * ${u}.sw - ${u}.pw);
        }
        fn xIndex(r : vec4<i32>, k : i32, kEnd : i32) -> i32 {
          let kp = k / ${u}.C;
          let c = k - kp * ${u}.C;
          let kw = kp % ${u}.KW;
          let t = kp / ${u}.KW;
          let kh = t % ${u}.KH;
          let kd = t / ${u}.KH;
          let d = r.y + kd;
          let h = r.z + kh;
          let w = r.w + kw;
          let outside = (r.x < 0) | (k >= kEnd) | (d < 0) | (d >= ${u}.D) | (h < 0) | (h >= ${u}.H) | (w < 0) | (w >= ${u}.W);
          return select((((r.x + d) * ${u}.H + h) * ${u}.W + w) * ${u}.C + c, -1, outside);
        }
        ${this.loadAFns()}
        ${bRow}
        ${loadB}
        fn outIndex(m : i32) -> i32 { return m; }`;
    }
    if (mode === "dx") {
      // rowInfo: (n * oD or -1, the dy voxel the phase's first valid tap (a, b, c) = 0 reads along d, h, w).
      return `
        fn rowInfo(m : i32) -> vec4<i32> {
          let jw = m % ${u}.cW;
          let t1 = m / ${u}.cW;
          let jh = t1 % ${u}.cH;
          let t2 = t1 / ${u}.cH;
          let jd = t2 % ${u}.cD;
          let n = t2 / ${u}.cD;
          return vec4<i32>(select(-1, n * ${u}.oD, m < ${u}.M), ${u}.bD + jd, ${u}.bH + jh, ${u}.bW + jw);
        }
        fn xIndex(r : vec4<i32>, k : i32, kEnd : i32) -> i32 {
          let kv = k / ${u}.C;
          let co = k - kv * ${u}.C;
          let c = kv % ${u}.nc;
          let t = kv / ${u}.nc;
          let b = t % ${u}.nb;
          let a = t / ${u}.nb;
          let d = r.y - a;
          let h = r.z - b;
          let w = r.w - c;
          let outside = (r.x < 0) | (k >= kEnd) | (d < 0) | (d >= ${u}.oD) | (h < 0) | (h >= ${u}.oH) | (w < 0) | (w >= ${u}.oW);
          return select((((r.x + d) * ${u}.oH + h) * ${u}.oW + w) * ${u}.C + co, -1, outside);
        }
        ${this.loadAFns()}
        ${bRow}
        ${loadB}
        fn outIndex(m : i32) -> i32 {
          let jw = m % ${u}.cW;
          let t1 = m / ${u}.cW;
          let jh = t1 % ${u}.cH;
          let t2 = t1 / ${u}.cH;
          let jd = t2 % ${u}.cD;
          let n = t2 / ${u}.cD;
          return ((n * ${u}.D + ${u}.i0D + ${u}.sd * jd) * ${u}.H + ${u}.i0H + ${u}.sh * jh) * ${u}.W + ${u}.i0W + ${u}.sw * jw;
        }`;
    }
    // dw: rows r = (kd, kh, kw, ci) of the filter, reduction over output voxels m.
    // filterRow: (ci or -1 past the last row, kd - pd, kh - ph, kw - pw); colInfo: (n * D or -1, od sd, oh sh, ow sw).
    const loadA = aVec
      ? `fn loadA4(r : vec4<i32>, m : vec4<i32>) -> vec4<f32> {
           let i = xIndex(r, m);
           return select(A[max(i, 0) / 4], vec4<f32>(0.0), i < 0);
         }`
      : `fn loadA(r : vec4<i32>, m : vec4<i32>) -> f32 {
           let i = xIndex(r, m);
           return select(A[max(i, 0)], 0.0, i < 0);
         }`;
    return `
      fn filterRow(r : i32) -> vec4<i32> {
        let c = r % ${u}.C;
        let kp = r / ${u}.C;
        let kw = kp % ${u}.KW;
        let t = kp / ${u}.KW;
        let kh = t % ${u}.KH;
        let kd = t / ${u}.KH;
        return vec4<i32>(select(-1, c, r < ${u}.M), kd - ${u}.pd, kh - ${u}.ph, kw - ${u}.pw);
      }
      fn colInfo(m : i32, kEnd : i32) -> vec4<i32> {
        let ow = m % ${u}.oW;
        let t1 = m / ${u}.oW;
        let oh = t1 % ${u}.oH;
        let t2 = t1 / ${u}.oH;
        let od = t2 % ${u}.oD;
        let n = t2 / ${u}.oD;
        return vec4<i32>(select(-1, n * ${u}.D, m < kEnd), od * ${u}.sd, oh * ${u}.sh, ow * ${u}.sw);
      }
      fn xIndex(r : vec4<i32>, m : vec4<i32>) -> i32 {
        let d = m.y + r.y;
        let h = m.z + r.z;
        let w = m.w + r.w;
        let outside = (r.x < 0) | (m.x < 0) | (d < 0) | (d >= ${u}.D) | (h < 0) | (h >= ${u}.H) | (w < 0) | (w >= ${u}.W);
          return select((((m.x + d) * ${u}.H + h) * ${u}.W + w) * ${u}.C + r.x, -1, outside);
      }
      ${loadA}
      ${bRow}
      ${loadB}
      fn outIndex(r : i32) -> i32 { return i32(workgroupId.z) * ${u}.M + r; }`;
  }

  private loadAFns(): string {
    return this.aVec
      ? `fn loadA4(r : vec4<i32>, k : i32, kEnd : i32) -> vec4<f32> {
           let i = xIndex(r, k, kEnd);
           return select(A[max(i, 0) / 4], vec4<f32>(0.0), i < 0);
         }`
      : `fn loadA(r : vec4<i32>, k : i32, kEnd : i32) -> f32 {
           let i = xIndex(r, k, kEnd);
           return select(A[max(i, 0)], 0.0, i < 0);
         }`;
  }
}

/** Adds up dw's split-K partial sums: result[i] = sum_s P[s, i]. */
class SumSplitsProgram implements Program {
  variableNames = ["P"];
  uniforms = "splits : i32,";
  size = true;
  outputShape: number[];
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [256, 1, 1];
  shaderKey = "nnsslConvSumSplits";

  constructor(outputShape: number[]) {
    this.outputShape = outputShape;
    this.dispatchLayout = { x: outputShape.map((_, i) => i) };
    const size = outputShape.reduce((a, b) => a * b, 1);
    this.dispatch = [Math.ceil(size / 256), 1, 1];
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          var s = 0.0;
          for (var i = 0; i < uniforms.splits; i++) { s += P[i * uniforms.size + index]; }
          result[index] = s;
        }
      }`;
  }
}

// ---- kernels --------------------------------------------------------------------------------------------------------

const sizeOf = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** A filter is bound whole (its pieces would be taps or channels, which no network here needs). */
function checkFilter(backend: WebgpuBackend, op: string, shape: number[]): void {
  const limit = bindingLimit(backend);
  if (sizeOf(shape) * 4 > limit) throw new GpuLimitError(shape, sizeOf(shape) * 4, limit, `${op}, filter`);
}

const fits = (backend: WebgpuBackend, ...shapes: number[][]): boolean => shapes.every((s) => sizeOf(s) * 4 <= bindingLimit(backend));

/**
 * Depth planes per piece when a whole operand exceeds the binding limit: `t` planes of the sliding side (`plane` elements
 * each) and the (t - 1) * stride + taps planes of the other side they touch (`otherPlane` elements each) must fit.
 */
function planesPerPiece(backend: WebgpuBackend, op: string, plane: number, otherPlane: number, stride: number, taps: number, shape: number[]): number {
  const limit = bindingLimit(backend);
  const t = Math.min(Math.floor(limit / (plane * 4)), Math.floor((Math.floor(limit / (otherPlane * 4)) - taps) / stride) + 1);
  if (t < 1) throw new GpuLimitError(shape, sizeOf(shape) * 4, limit, `${op} (even one depth plane per piece is too large)`);
  return t;
}

/** The input planes [a, b) that output planes [o0, o1) read: clipped to the volume, never empty. */
function inputRange(o0: number, o1: number, c: Conv3DInfo): [number, number] {
  const D = c.inDepth;
  let a = Math.min(D, Math.max(0, o0 * c.strideDepth - c.padInfo.front));
  let b = Math.min(D, Math.max(0, (o1 - 1) * c.strideDepth - c.padInfo.front + c.filterDepth));
  if (b <= a) [a, b] = a >= D ? [D - 1, D] : [a, a + 1]; // all taps in the padding: any plane reads as zeros
  return [a, b];
}

/** The geometry of one piece: sample n's output planes [o0, o1) over its input planes [a, b) (padding shifted to match). */
function pieceInfo(c: Conv3DInfo, o0: number, o1: number, a: number, b: number): Conv3DInfo {
  const outShape: Shape5 = [1, o1 - o0, c.outHeight, c.outWidth, c.outChannels];
  return {
    ...c,
    batchSize: 1,
    inDepth: b - a,
    outDepth: o1 - o0,
    outShape,
    inShape: [1, b - a, c.inHeight, c.inWidth, c.inChannels],
    padInfo: { ...c.padInfo, front: c.padInfo.front + a - o0 * c.strideDepth },
  } as Conv3DInfo;
}

/** Whether our shaders take this call; otherwise tfjs' own kernel runs it (dilated convolutions, other dtypes). */
function handled(info: Conv3DInfo, ...dtypes: tf.DataType[]): boolean {
  return info.dilationDepth === 1 && info.dilationHeight === 1 && info.dilationWidth === 1 && dtypes.every((d) => d === "float32");
}

function fallback(name: string, args: KernelArgs): TensorInfo | TensorInfo[] {
  const config = tfjsKernels.get(name);
  if (!config) throw new Error(`${name} on webgpu: this call needs tfjs' own kernel (dilations > 1 or a non-float32 input), which is not registered`);
  return config.kernelFunc(args as Parameters<tf.KernelFunc>[0]);
}

const maxPerDim = (backend: WebgpuBackend): number => backend.device.limits.maxComputeWorkgroupsPerDimension || 65535;

function geometry(c: Conv3DInfo): number[] {
  return [c.filterHeight, c.filterWidth, c.strideDepth, c.strideHeight, c.strideWidth, c.padInfo.front, c.padInfo.top, c.padInfo.left];
}

function conv3dForward(args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as WebgpuBackend;
  const x = args.inputs.x as TensorInfo;
  const filter = args.inputs.filter as TensorInfo;
  const { strides, pad, dilations } = args.attrs as unknown as { strides: Triple; pad: "valid" | "same" | number; dilations: Triple };
  const c = tf.backend_util.computeConv3DInfo(x.shape as Shape5, filter.shape as Shape5, strides, dilations, pad as "valid");
  if (!handled(c, x.dtype, filter.dtype)) return fallback("Conv3D", args);
  count("Conv3D");
  checkFilter(backend, "conv3d", filter.shape);
  if (fits(backend, x.shape, c.outShape)) return forwardRun(backend, x, filter, c);
  // Pieces of sample n, output planes [o0, o1): each reads its input planes (halo included) as a view of x.
  count("Conv3D pieces");
  const inPlane = c.inHeight * c.inWidth * c.inChannels;
  const outPlane = c.outHeight * c.outWidth * c.outChannels;
  const t = planesPerPiece(backend, "conv3d", outPlane, inPlane, c.strideDepth, c.filterDepth, x.shape);
  const out = wholeTensor(backend, c.outShape, "float32", "conv3d");
  for (let n = 0; n < c.batchSize; n++) {
    for (let o0 = 0; o0 < c.outDepth; o0 += t) {
      const o1 = Math.min(c.outDepth, o0 + t);
      const [a, b] = inputRange(o0, o1, c);
      const sub = pieceInfo(c, o0, o1, a, b);
      const xs = readPiece(backend, x, (n * c.inDepth + a) * inPlane, sub.inShape);
      const w = writePiece(backend, out, (n * c.outDepth + o0) * outPlane, sub.outShape);
      try {
        forwardRun(backend, xs, filter, sub, w.target);
        w.done();
      } finally {
        backend.disposeData(xs.dataId);
      }
    }
  }
  return out;
}

function forwardRun(backend: WebgpuBackend, x: TensorInfo, filter: TensorInfo, c: Conv3DInfo, output?: TensorInfo): TensorInfo {
  const rows = c.batchSize * c.outDepth * c.outHeight * c.outWidth;
  const cols = c.outChannels;
  const K = c.filterDepth * c.filterHeight * c.filterWidth * c.inChannels;
  const tiling = chooseTiling(rows, cols);
  const program = new ConvGemmProgram("fwd", tiling, c.inChannels % 4 === 0, cols % 4 === 0, c.outShape, rows, cols, 1, maxPerDim(backend));
  const uniforms = [
    rows,
    cols,
    K,
    K,
    Math.ceil(K / tiling.tk),
    c.inChannels,
    c.inDepth,
    c.inHeight,
    c.inWidth,
    c.outDepth,
    c.outHeight,
    c.outWidth,
    ...geometry(c),
  ];
  return backend.runWebGPUProgram(
    program,
    [x, filter],
    "float32",
    uniforms.map((v) => int([v])),
    output,
  );
}

type Shape5 = [number, number, number, number, number];

function conv3dBackpropInput(args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as WebgpuBackend;
  const dy = args.inputs.dy as TensorInfo;
  const filter = args.inputs.filter as TensorInfo;
  const { strides, pad, inputShape } = args.attrs as unknown as { strides: Triple; pad: "valid" | "same" | number; inputShape: Shape5 };
  const c = tf.backend_util.computeConv3DInfo(inputShape, filter.shape as Shape5, strides, 1, pad as "valid");
  if (!handled(c, dy.dtype, filter.dtype)) return fallback("Conv3DBackpropInputV2", args);
  count("Conv3DBackpropInputV2");
  checkFilter(backend, "conv3d backprop input", filter.shape);
  // W^T: [kd, kh, kw, Cout, Cin], so that B is a row-major [taps * Cout, Cin] matrix as in the forward pass.
  const transpose = tf.getKernel("Transpose", BACKEND);
  if (!transpose) throw new Error("conv3d backprop input on webgpu: tfjs' Transpose kernel is not registered");
  const wT = transpose.kernelFunc({ inputs: { x: filter }, backend: backend as never, attrs: { perm: [0, 1, 2, 4, 3] } }) as TensorInfo;
  try {
    if (fits(backend, dy.shape, inputShape)) return dxRun(backend, dy, wT, c, inputShape);
    // Pieces of sample n, input planes [i0, i1): each reads the dy planes that reach them, as a view of dy.
    count("Conv3DBackpropInputV2 pieces");
    const inPlane = c.inHeight * c.inWidth * c.inChannels;
    const outPlane = c.outHeight * c.outWidth * c.outChannels;
    const { strideDepth: sd, filterDepth: KD } = c;
    const pd = c.padInfo.front;
    // t input planes are reached from at most floor((t + KD - 2) / sd) + 1 dy planes.
    const limit = bindingLimit(backend);
    const tt = Math.min(c.inDepth, Math.floor(limit / (inPlane * 4)), (Math.floor(limit / (outPlane * 4)) - 1) * sd - KD + 2);
    if (tt < 1) throw new GpuLimitError(dy.shape, sizeOf(dy.shape) * 4, limit, "conv3d backprop input (even one depth plane per piece is too large)");
    const out = wholeTensor(backend, inputShape, "float32", "conv3d backprop input");
    for (let n = 0; n < c.batchSize; n++) {
      for (let i0 = 0; i0 < c.inDepth; i0 += tt) {
        const i1 = Math.min(c.inDepth, i0 + tt);
        let a = Math.max(0, Math.ceil((i0 + pd - KD + 1) / sd));
        let b = Math.min(c.outDepth, Math.floor((i1 - 1 + pd) / sd) + 1);
        if (b <= a) [a, b] = a >= c.outDepth ? [c.outDepth - 1, c.outDepth] : [a, a + 1]; // no tap reaches: any plane adds nothing
        const sub = { ...c, batchSize: 1, inDepth: i1 - i0, outDepth: b - a, padInfo: { ...c.padInfo, front: pd + i0 - a * sd } } as Conv3DInfo;
        const subInput: Shape5 = [1, i1 - i0, c.inHeight, c.inWidth, c.inChannels];
        const dys = readPiece(backend, dy, (n * c.outDepth + a) * outPlane, [1, b - a, c.outHeight, c.outWidth, c.outChannels]);
        const w = writePiece(backend, out, (n * c.inDepth + i0) * inPlane, subInput);
        try {
          dxRun(backend, dys, wT, sub, subInput, w.target);
          w.done();
        } finally {
          backend.disposeData(dys.dataId);
        }
      }
    }
    return out;
  } finally {
    backend.disposeData(wT.dataId);
  }
}

function dxRun(backend: WebgpuBackend, dy: TensorInfo, wT: TensorInfo, c: Conv3DInfo, inputShape: Shape5, output?: TensorInfo): TensorInfo {
  const { strideDepth: sd, strideHeight: sh, strideWidth: sw, filterDepth: KD, filterHeight: KH, filterWidth: KW } = c;
  const { front: pd, top: ph, left: pw } = c.padInfo;
  const Cin = c.inChannels;
  const Co = c.outChannels;
  const [N, D, H, W] = inputShape;
  const tiling = chooseTiling((N * D * H * W) / (sd * sh * sw), Cin);
  let out: TensorInfo | undefined = output;
  {
    for (let rd = 0; rd < sd; rd++) {
      for (let rh = 0; rh < sh; rh++) {
        for (let rw = 0; rw < sw; rw++) {
          // Input voxels i with (i + pad) mod stride == r read the kernel taps r, r + stride, ... of dy voxel
          // (i + pad - tap) / stride: i = i0 + stride j, tap = r + stride a, dy voxel = base + j - a.
          const phase = (r: number, s: number, p: number, k: number, size: number) => {
            const i0 = (((r - p) % s) + s) % s;
            const count = i0 < size ? Math.ceil((size - i0) / s) : 0;
            const taps = r < k ? Math.ceil((k - r) / s) : 0;
            return { i0, count, taps, base: (i0 + p - r) / s };
          };
          const pD = phase(rd, sd, pd, KD, D);
          const pH = phase(rh, sh, ph, KH, H);
          const pW = phase(rw, sw, pw, KW, W);
          const rows = N * pD.count * pH.count * pW.count;
          if (rows === 0) continue;
          const K = pD.taps * pH.taps * pW.taps * Co;
          const program = new ConvGemmProgram("dx", tiling, Co % 4 === 0, Cin % 4 === 0, inputShape, rows, Cin, 1, maxPerDim(backend));
          const uniforms = [
            rows,
            Cin,
            K,
            K,
            Math.ceil(K / tiling.tk),
            Co,
            c.outDepth,
            c.outHeight,
            c.outWidth,
            pD.count,
            pH.count,
            pW.count,
            pH.taps,
            pW.taps,
            pD.base,
            pH.base,
            pW.base,
            D,
            H,
            W,
            pD.i0,
            pH.i0,
            pW.i0,
            sd,
            sh,
            sw,
            rd,
            rh,
            rw,
            KH,
            KW,
          ];
          out = backend.runWebGPUProgram(
            program,
            [dy, wT],
            "float32",
            uniforms.map((v) => int([v])),
            out,
          );
        }
      }
    }
  }
  // Every input voxel lies in exactly one phase, so some phase ran unless the gradient is empty.
  return out ?? backend.makeTensorInfo(inputShape, "float32");
}

/** Workgroups a dw dispatch aims for: enough to fill a large GPU (an H100 has 132 SMs) several times over. */
const DW_TARGET_WORKGROUPS = 1024;
/** The fewest TK steps one split-K slice does, so the partial sums stay few next to the work. */
const DW_MIN_STEPS = 16;

function conv3dBackpropFilter(args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as WebgpuBackend;
  const x = args.inputs.x as TensorInfo;
  const dy = args.inputs.dy as TensorInfo;
  const { strides, pad, filterShape } = args.attrs as unknown as { strides: Triple; pad: "valid" | "same" | number; filterShape: Shape5 };
  const c = tf.backend_util.computeConv3DInfo(x.shape as Shape5, filterShape, strides, 1, pad as "valid");
  if (!handled(c, x.dtype, dy.dtype)) return fallback("Conv3DBackpropFilterV2", args);
  count("Conv3DBackpropFilterV2");
  checkFilter(backend, "conv3d backprop filter", filterShape);
  if (fits(backend, x.shape, dy.shape)) return dwRun(backend, x, dy, c, filterShape);
  // Pieces of sample n, output planes [o0, o1) with the input planes they read: partial filter gradients, added up.
  count("Conv3DBackpropFilterV2 pieces");
  const inPlane = c.inHeight * c.inWidth * c.inChannels;
  const outPlane = c.outHeight * c.outWidth * c.outChannels;
  const t = planesPerPiece(backend, "conv3d backprop filter", outPlane, inPlane, c.strideDepth, c.filterDepth, x.shape);
  const add = tf.getKernel("Add", BACKEND)!.kernelFunc as unknown as (a: { inputs: object; backend: never }) => TensorInfo;
  let sum: TensorInfo | undefined;
  for (let n = 0; n < c.batchSize; n++) {
    for (let o0 = 0; o0 < c.outDepth; o0 += t) {
      const o1 = Math.min(c.outDepth, o0 + t);
      const [a, b] = inputRange(o0, o1, c);
      const sub = pieceInfo(c, o0, o1, a, b);
      const xs = readPiece(backend, x, (n * c.inDepth + a) * inPlane, sub.inShape);
      const dys = readPiece(backend, dy, (n * c.outDepth + o0) * outPlane, sub.outShape);
      try {
        const part = dwRun(backend, xs, dys, sub, filterShape);
        if (!sum) sum = part;
        else {
          const next = add({ inputs: { a: sum, b: part }, backend: backend as never });
          backend.disposeData(sum.dataId);
          backend.disposeData(part.dataId);
          sum = next;
        }
      } finally {
        backend.disposeData(xs.dataId);
        backend.disposeData(dys.dataId);
      }
    }
  }
  return sum!;
}

function dwRun(backend: WebgpuBackend, x: TensorInfo, dy: TensorInfo, c: Conv3DInfo, filterShape: Shape5): TensorInfo {
  const rows = c.filterDepth * c.filterHeight * c.filterWidth * c.inChannels;
  const cols = c.outChannels;
  const K = c.batchSize * c.outDepth * c.outHeight * c.outWidth;
  const tiling = chooseTiling(rows, cols);
  const tiles = Math.ceil(rows / (tiling.rm * tiling.wm)) * Math.ceil(cols / (4 * tiling.wn));
  const steps = Math.ceil(K / tiling.tk);
  const limit = bindingLimit(backend);
  let splits = Math.max(1, Math.min(Math.ceil(DW_TARGET_WORKGROUPS / tiles), Math.floor(steps / DW_MIN_STEPS), Math.floor(limit / (rows * cols * 4))));
  splits = Math.min(splits, maxPerDim(backend));
  const chunkSteps = Math.ceil(steps / splits);
  splits = Math.ceil(steps / chunkSteps);
  const kChunk = chunkSteps * tiling.tk;
  const outShape = splits === 1 ? filterShape : [splits, rows * cols];
  const program = new ConvGemmProgram("dw", tiling, c.inChannels % 4 === 0, cols % 4 === 0, outShape, rows, cols, splits, maxPerDim(backend));
  const uniforms = [rows, cols, K, kChunk, chunkSteps, c.inChannels, c.inDepth, c.inHeight, c.inWidth, c.outDepth, c.outHeight, c.outWidth, ...geometry(c)];
  const partial = backend.runWebGPUProgram(
    program,
    [x, dy],
    "float32",
    uniforms.map((v) => int([v])),
  );
  if (splits === 1) return partial;
  count("Conv3DBackpropFilterV2 split-K");
  // The sum runs on the flat [taps * Cin * Cout] view (tfjs' shader prelude cannot index 5-D outputs this way) and is
  // handed back as the filter-shaped view of the same buffer.
  const reshape = tf.getKernel("Reshape", BACKEND);
  if (!reshape) throw new Error("conv3d backprop filter on webgpu: tfjs' Reshape kernel is not registered");
  let flat: TensorInfo | undefined;
  try {
    flat = backend.runWebGPUProgram(new SumSplitsProgram([rows * cols]), [partial], "float32", [int([splits])]);
    return reshape.kernelFunc({ inputs: { x: flat }, backend: backend as never, attrs: { shape: filterShape } }) as TensorInfo;
  } finally {
    backend.disposeData(partial.dataId);
    if (flat) backend.disposeData(flat.dataId);
  }
}

const OURS: Record<(typeof KERNELS)[number], (args: KernelArgs) => TensorInfo | TensorInfo[]> = {
  Conv3D: conv3dForward,
  Conv3DBackpropInputV2: conv3dBackpropInput,
  Conv3DBackpropFilterV2: conv3dBackpropFilter,
};

/**
 * Registers our Conv3D, Conv3DBackpropInputV2 and Conv3DBackpropFilterV2 for the `webgpu` backend in place of
 * tfjs-backend-webgpu's naive ones (kept for dilated convolutions and for unregisterWebgpuConv3dKernels).
 * Import @tensorflow/tfjs-backend-webgpu first; calling this again is harmless.
 */
export function registerWebgpuConv3dKernels(): void {
  // tfjs' registration of its own kernels would silently replace ours (with a warning) if it came later.
  if (!tf.getKernel("Transpose", BACKEND)) {
    throw new Error("registerWebgpuConv3dKernels: import @tensorflow/tfjs-backend-webgpu first (its kernels are not registered yet)");
  }
  for (const name of KERNELS) {
    const existing = tf.getKernel(name, BACKEND);
    if (existing && existing.kernelFunc === (OURS[name] as unknown)) continue;
    if (existing) {
      tfjsKernels.set(name, existing);
      tf.unregisterKernel(name, BACKEND);
    }
    tf.registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc: OURS[name] as unknown as tf.KernelFunc });
  }
}

/** Puts tfjs-backend-webgpu's own kernels back (benchmarks compare the two). */
export function unregisterWebgpuConv3dKernels(): void {
  for (const name of KERNELS) {
    const existing = tf.getKernel(name, BACKEND);
    if (!existing || existing.kernelFunc !== (OURS[name] as unknown)) continue;
    tf.unregisterKernel(name, BACKEND);
    const original = tfjsKernels.get(name);
    if (original) tf.registerKernel(original);
  }
}
