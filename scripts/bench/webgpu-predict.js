// `npm run bench predict -- --backend webgpu [--full] [--size S] [--patch P] [--div D] [--stages S] [--tiles-per-batch T] [--runs N]
// [--torch-cpu]`: sliding-window inference of one S^3 case (tile step 0.5, Gaussian weighting, no mirroring) with a
// ResidualEncoderUNet on the WebGPU adapter through the SDK's predictSlidingWindowReturnLogits: seconds, effective
// GFLOP/s (convolution FLOPs of all tiles) and the time ratio to PyTorch doing the same on the same device in the same
// run (fp32, and fp16 autocast as nnU-Net predicts on CUDA). PyTorch runs only where it has a CUDA device unless
// --torch-cpu asks for its CPU. Defaults: on a hardware adapter nnssl's ResEncL with 160^3 tiles on a 256^3 case; on a
// software adapter (SwiftShader) the first 5 of those stages with 1/8 of the features, 32^3 tiles on a 48^3 case. --full forces
// the ResEncL case anywhere.
import { tf } from "../../dist/sdk/backend/index.js";
import { buildNetwork } from "../../dist/sdk/networks/index.js";
import { predictSlidingWindowReturnLogits, slidingWindowOrigins } from "../../dist/sdk/inference/sliding-window.js";
import { adapter, describeArch, describeTorch, gflops, has, opt, ratio, resEncArch, runTorch } from "./webgpu-common.js";
import { convFlops } from "./lib/machine.js";

const { report, line } = await adapter();
const small = report.software && !has("--full");
const DIV = opt("--div", small ? 8 : 1),
  PATCH = opt("--patch", small ? 32 : 160),
  SIZE = opt("--size", small ? 48 : 256),
  TPB = opt("--tiles-per-batch", 2),
  RUNS = opt("--runs", small ? 1 : 2);
const CLASSES = 3;
console.log(`WebGPU adapter: ${line}`);

const STAGES = opt("--stages", small ? 5 : 6);
const arch = resEncArch(DIV, STAGES);
const patch = [PATCH, PATCH, PATCH];
const net = buildNetwork(arch, { inputChannels: 1, numClasses: CLASSES, deepSupervision: false, patchSize: patch, seed: 1 });
const tiles = slidingWindowOrigins([SIZE, SIZE, SIZE], patch, 0.5).length;
const what = describeArch(arch, DIV, net);
console.log(
  `network: ${what}; one ${SIZE}^3 case in ${tiles} tiles of ${PATCH}^3, ${TPB} per batch${small ? " (software adapter: small default; --full for ResEncL, 160^3 tiles, 256^3 case)" : ""}`,
);

const data = new Float32Array(SIZE ** 3);
for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) + Math.cos(i * 0.011);
const predict = () =>
  predictSlidingWindowReturnLogits((t) => /** @type {tf.Tensor} */ (net.forward(t)), data, [1, SIZE, SIZE, SIZE], {
    patchSize: patch,
    numHeads: CLASSES,
    tilesPerBatch: TPB,
  });

let t0 = performance.now();
await predict();
const firstMs = performance.now() - t0;
let bestMs = firstMs;
for (let i = 0; i < RUNS; i++) {
  t0 = performance.now();
  await predict();
  bestMs = Math.min(bestMs, performance.now() - t0);
}
const P = Math.min(32, PATCH);
const xs = tf.randomNormal([1, 1, P, P, P]);
const flops = await convFlops(() => /** @type {tf.Tensor} */ (net.forward(xs)), (PATCH / P) ** 3 * tiles);
xs.dispose();
console.log(`ours (webgpu): first case ${(firstMs / 1000).toFixed(1)} s (shader compilation included); best of ${RUNS + 1}: ${(bestMs / 1000).toFixed(2)} s`);
console.log(`  ${(flops / 1e9).toFixed(1)} GFLOP of convolutions per case: ${gflops(flops, bestMs)} GFLOP/s effective`);

const torch = runTorch({ section: "predict", arch, classes: CLASSES, patch: PATCH, size: SIZE, tilesPerBatch: TPB, steps: RUNS, allowCpu: has("--torch-cpu") });
console.log(describeTorch(torch));
if (torch.predictMs !== undefined) {
  if (torch.tiles !== tiles) console.log(`  (PyTorch's tiling has ${torch.tiles} tiles, ours ${tiles})`);
  console.log(
    `  PyTorch fp32 ${(torch.predictMs / 1000).toFixed(2)} s (${gflops(flops, torch.predictMs)} GFLOP/s); time ratio ours / PyTorch fp32: ${ratio(bestMs, torch.predictMs)}`,
  );
}
if (torch.ampPredictMs !== undefined) {
  console.log(
    `  PyTorch fp16 autocast ${(torch.ampPredictMs / 1000).toFixed(2)} s; time ratio ours / PyTorch fp16: ${ratio(bestMs, torch.ampPredictMs)} (target: at most 2x)`,
  );
}
