// `npm run bench train -- --backend webgpu [--full] [--patch P] [--batch B] [--div D] [--stages S] [--steps N] [--torch-cpu]`: one
// nnU-Net training step (ResidualEncoderUNet forward with deep supervision, Dice+CE loss, backward, SGD with Nesterov
// momentum 0.99) on the WebGPU adapter: milliseconds, effective GFLOP/s (convolution FLOPs, counted from a profiled
// pass) and the time ratio to PyTorch training the same network on the same device in the same run (fp32, and mixed
// precision as nnU-Net trains on CUDA). PyTorch runs only where it has a CUDA device unless --torch-cpu asks for its CPU.
// Defaults: on a hardware adapter nnssl's ResEncL at 160^3, batch 2 (the recommended fine-tuning patch); on a software
// adapter (SwiftShader) the first 5 of those stages with 1/8 of the features at 32^3, batch 1, which it finishes in minutes.
// --full forces the ResEncL case anywhere.
import { tf } from "../../dist/sdk/backend/index.js";
import { buildNetwork } from "../../dist/sdk/networks/index.js";
import { dcAndCeLoss, deepSupervisionLoss, deepSupervisionWeights } from "../../dist/sdk/training/loss.js";
import { adapter, describeArch, describeTorch, gflops, has, opt, ratio, resEncArch, runTorch } from "./webgpu-common.js";
import { convFlops } from "./lib/machine.js";

const { report, line } = await adapter();
const small = report.software && !has("--full");
const DIV = opt("--div", small ? 8 : 1),
  PATCH = opt("--patch", small ? 32 : 160),
  BATCH = opt("--batch", small ? 1 : 2),
  STEPS = opt("--steps", small ? 2 : 3);
const CLASSES = 3;
console.log(`WebGPU adapter: ${line}`);

const STAGES = opt("--stages", small ? 5 : 6);
const arch = resEncArch(DIV, STAGES);
const net = buildNetwork(arch, { inputChannels: 1, numClasses: CLASSES, deepSupervision: true, patchSize: [PATCH, PATCH, PATCH], seed: 1 });
const what = describeArch(arch, DIV, net);
console.log(
  `network: ${what}; training step at batch ${BATCH} x 1 x ${PATCH}^3, ${CLASSES} classes${small ? " (software adapter: small default; --full for ResEncL at 160^3 batch 2)" : ""}`,
);

const vars = net.namedParameters().map(([, v]) => v);
const x = tf.randomNormal([BATCH, 1, PATCH, PATCH, PATCH], 0, 1, "float32", 2);
const heads = STAGES - 1;
const targets = Array.from({ length: heads }, (_, i) => 2 ** i).map((d) => {
  const n = PATCH / d;
  return { data: new Uint8Array(BATCH * n ** 3).map((_, i) => (i * 7) % CLASSES), shape: [BATCH, 1, n, n, n] };
});
const loss = deepSupervisionLoss(dcAndCeLoss({ batchDice: false }), deepSupervisionWeights(heads));
const optimizer = tf.train.momentum(0.01, 0.99, true);
const step = async () => {
  const value = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => loss(/** @type {tf.Tensor[]} */ (net.forward(x)), targets), vars);
    optimizer.applyGradients(/** @type {any} */ (grads));
    return value;
  });
  await value.data();
  value.dispose();
};

let t0 = performance.now();
await step();
const firstMs = performance.now() - t0;
let bestMs = Infinity;
for (let i = 0; i < STEPS; i++) {
  t0 = performance.now();
  await step();
  bestMs = Math.min(bestMs, performance.now() - t0);
}
// FLOPs of forward + backward, counted at 32^3 (or the patch, if smaller) and scaled by the voxel count.
const P = Math.min(32, PATCH);
const xs = tf.randomNormal([BATCH, 1, P, P, P]);
const flops = await convFlops(
  () =>
    Object.values(tf.variableGrads(() => /** @type {tf.Scalar} */ (tf.addN(/** @type {tf.Tensor[]} */ (net.forward(xs)).map((o) => tf.mean(o)))), vars).grads),
  (PATCH / P) ** 3,
);
xs.dispose();
console.log(`ours (webgpu): first step ${(firstMs / 1000).toFixed(1)} s (shader compilation included); best of ${STEPS}: ${bestMs.toFixed(0)} ms`);
console.log(`  ${(flops / 1e9).toFixed(1)} GFLOP of convolutions per step: ${gflops(flops, bestMs)} GFLOP/s effective`);

const torch = runTorch({ section: "train", arch, classes: CLASSES, patch: PATCH, batch: BATCH, steps: STEPS, allowCpu: has("--torch-cpu") });
console.log(describeTorch(torch));
if (torch.stepMs !== undefined) {
  console.log(
    `  PyTorch fp32 step ${torch.stepMs.toFixed(0)} ms (${gflops(flops, torch.stepMs)} GFLOP/s); time ratio ours / PyTorch fp32: ${ratio(bestMs, torch.stepMs)}`,
  );
}
if (torch.ampStepMs !== undefined) {
  console.log(
    `  PyTorch mixed precision step ${torch.ampStepMs.toFixed(0)} ms; time ratio ours / PyTorch mixed precision: ${ratio(bestMs, torch.ampStepMs)} (target: at most 3x)`,
  );
}
tf.dispose([x, ...vars]);
optimizer.dispose();
