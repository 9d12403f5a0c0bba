// `npm run bench webgpu-conv [-- --small] [--iters N]`: conv3d GFLOP/s on the `webgpu` backend, forward and
// forward+backward, for tfjs-backend-webgpu's own (naive) kernels and ours (sdk/backend/webgpu-conv3d.ts), on
// nnU-Net-typical shapes (batch 2, 3x3x3 convs per stage, a strided conv, a transposed conv with kernel == stride, the
// first conv and the 1x1x1 head), both in the same run. --small scales the shapes down for software adapters
// (SwiftShader: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json). Other benches import benchConv3dWebgpu.
// Each figure is the fastest of --iters runs (default 5) after a warm-up that compiles the shaders; a run ends when the
// GPU queue has finished it.
import { fileURLToPath } from "node:url";
import { registerWebgpuConv3dKernels, unregisterWebgpuConv3dKernels } from "../../dist/sdk/backend/webgpu-conv3d.js";

/** { name, x: NDHWC shape, w: [kd, kh, kw, Cin, Cout], strides, pad } or, with transposed, tf.conv3dTranspose of x. */
export const NNUNET_CONV_SHAPES = [
  { name: "stage 0 3x3x3 32->32", x: [2, 64, 64, 64, 32], w: [3, 3, 3, 32, 32], strides: 1, pad: 1 },
  { name: "stage 1 3x3x3 64->64", x: [2, 32, 32, 32, 64], w: [3, 3, 3, 64, 64], strides: 1, pad: 1 },
  { name: "stage 2 3x3x3 128->128", x: [2, 16, 16, 16, 128], w: [3, 3, 3, 128, 128], strides: 1, pad: 1 },
  { name: "stage 3 3x3x3 256->256", x: [2, 8, 8, 8, 256], w: [3, 3, 3, 256, 256], strides: 1, pad: 1 },
  { name: "3x3x3 stride 2 32->64", x: [2, 64, 64, 64, 32], w: [3, 3, 3, 32, 64], strides: 2, pad: 1 },
  { name: "transposed 2x2x2 64->32", x: [2, 32, 32, 32, 64], w: [2, 2, 2, 32, 64], strides: 2, transposed: true },
  { name: "first 3x3x3 1->32", x: [2, 64, 64, 64, 1], w: [3, 3, 3, 1, 32], strides: 1, pad: 1 },
  { name: "head 1x1x1 32->3", x: [2, 64, 64, 64, 32], w: [1, 1, 1, 32, 3], strides: 1, pad: "valid" },
];

/** The same kinds of shapes at a size SwiftShader gets through in seconds. */
export const SMALL_CONV_SHAPES = [
  { name: "3x3x3 16->16", x: [2, 12, 12, 12, 16], w: [3, 3, 3, 16, 16], strides: 1, pad: 1 },
  { name: "3x3x3 32->32", x: [1, 8, 8, 8, 32], w: [3, 3, 3, 32, 32], strides: 1, pad: 1 },
  { name: "3x3x3 stride 2 16->32", x: [2, 12, 12, 12, 16], w: [3, 3, 3, 16, 32], strides: 2, pad: 1 },
  { name: "transposed 2x2x2 32->16", x: [2, 6, 6, 6, 32], w: [2, 2, 2, 16, 32], strides: 2, transposed: true },
  { name: "first 3x3x3 1->16", x: [2, 12, 12, 12, 1], w: [3, 3, 3, 1, 16], strides: 1, pad: 1 },
];

const prod = (a) => a.reduce((x, y) => x * y, 1);

/**
 * Multiply-adds of the forward op, times 2: every output voxel of a conv reads taps x Cin inputs; a transposed conv
 * (w is [k, Cout, Cin]) spreads every voxel of its (smaller) input over its taps x Cout outputs.
 */
function forwardFlops(s, outShape) {
  const taps = prod(s.w.slice(0, 3));
  return s.transposed ? 2 * prod(s.x) * taps * s.w[3] : 2 * prod(outShape) * taps * s.w[3];
}

/** Waits until the GPU has run everything queued so far. */
async function sync(tf, probe) {
  const backend = tf.backend();
  if (typeof backend.submitQueue === "function" && backend.device?.queue) {
    // tfjs' webgpu backend batches dispatches into an open compute pass; close and submit it, as its reads do.
    if (backend.commandEncoder) {
      backend.endComputePassEncoder();
      backend.submitQueue();
    }
    await backend.device.queue.onSubmittedWorkDone();
  } else {
    await probe.data();
  }
}

async function fastest(tf, fn, iters) {
  let best = Infinity;
  for (let i = 0; i <= iters; i++) {
    const t0 = performance.now();
    const out = fn();
    await sync(tf, out[0]);
    const ms = performance.now() - t0;
    tf.dispose(out);
    if (i > 0) best = Math.min(best, ms); // run 0 compiles the shaders
  }
  return best;
}

function op(tf, s) {
  if (!s.transposed) return (x, w) => tf.conv3d(x, w, s.strides, s.pad);
  const k = s.w.slice(0, 3);
  const out = [s.x[0], s.x[1] * k[0], s.x[2] * k[1], s.x[3] * k[2], s.w[3]];
  return (x, w) => tf.conv3dTranspose(x, w, out, k, "valid");
}

/**
 * Times every shape on the current backend (tf.setBackend("webgpu") first) with tfjs' kernels and with ours; prints
 * one line per shape and kernel set, and returns the figures. Leaves our kernels registered.
 */
export async function benchConv3dWebgpu(tf, shapes = NNUNET_CONV_SHAPES, { iters = 5, log = console.log } = {}) {
  if (tf.getBackend() !== "webgpu") throw new Error(`benchConv3dWebgpu: the current tfjs backend is ${tf.getBackend()}, not webgpu`);
  const results = [];
  for (const s of shapes) {
    const x = tf.randomNormal(s.x);
    const w = tf.randomNormal(s.w, 0, 0.05);
    const f = op(tf, s);
    const outShape = tf.tidy(() => f(x, w).shape);
    const dy = tf.randomNormal(outShape);
    const flops = forwardFlops(s, outShape);
    for (const impl of ["tfjs", "ours"]) {
      if (impl === "ours") registerWebgpuConv3dKernels();
      else unregisterWebgpuConv3dKernels();
      const fwdMs = await fastest(tf, () => [f(x, w)], iters);
      const bwdMs = await fastest(
        tf,
        () => {
          const { value, grads } = tf.valueAndGrads((a, b) => f(a, b))([x, w], dy);
          return [value, ...grads];
        },
        iters,
      );
      const r = { shape: s.name, impl, fwdMs, fwdBwdMs: bwdMs, fwdGflops: flops / fwdMs / 1e6, fwdBwdGflops: (3 * flops) / bwdMs / 1e6 };
      results.push(r);
      log(
        `${s.name.padEnd(26)} ${impl.padEnd(5)} forward ${fwdMs.toFixed(2).padStart(9)} ms ${r.fwdGflops.toPrecision(3).padStart(8)} GFLOP/s` +
          `   forward+backward ${bwdMs.toFixed(2).padStart(9)} ms ${r.fwdBwdGflops.toPrecision(3).padStart(8)} GFLOP/s`,
      );
    }
    tf.dispose([x, w, dy]);
  }
  registerWebgpuConv3dKernels();
  return results;
}

async function main() {
  const argv = process.argv.slice(2);
  const itersIdx = argv.indexOf("--iters");
  const iters = itersIdx >= 0 ? Number(argv[itersIdx + 1]) : argv.includes("--small") ? 2 : 5;
  // The SDK's own webgpu backend: the adapter's largest limits, our kernels registered (SwiftShader where no GPU driver is).
  const { backendInfo, tf } = await import("../../dist/sdk/backend/index.js");
  const info = await backendInfo({ backend: "webgpu", origin: "--backend" });
  console.log(`${info.provider}; fp32; batch 2 unless the shape says otherwise`);
  await benchConv3dWebgpu(tf, argv.includes("--small") ? SMALL_CONV_SHAPES : NNUNET_CONV_SHAPES, { iters });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
