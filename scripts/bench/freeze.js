// `npm run bench freeze [--patch N] [--steps N]`: one training step (forward, loss, backward, SGD step) of a small
// ResidualEncoderUNet (4 stages, features 16-128, patch 64^3, batch 2), with every weight trained and with the encoder
// frozen (--freeze encoder: no gradients for it, its forward pass off the gradient tape). Prints the fastest of
// --steps steps after a warm-up and the peak tensor memory tfjs reports (tf.profile peakBytes) for each, and the
// ratios. The machine is usually shared: compare the two numbers of one run, not numbers across runs.
import { tf, initBackend } from "../../dist/sdk/backend/index.js";
import { buildNetwork } from "../../dist/sdk/networks/build-network.js";
import { SGD } from "../../dist/sdk/training/optimizers.js";
import { frozenMask, runFrozenPrefixWithoutTape } from "../../dist/sdk/training/freeze.js";

const argv = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const PATCH = arg("--patch", 64);
const STEPS = arg("--steps", 3);
const BATCH = 2;

const arch = {
  network_class_name: "dynamic_network_architectures.architectures.unet.ResidualEncoderUNet",
  arch_kwargs: {
    n_stages: 4,
    features_per_stage: [16, 32, 64, 128],
    conv_op: "torch.nn.modules.conv.Conv3d",
    kernel_sizes: [
      [3, 3, 3],
      [3, 3, 3],
      [3, 3, 3],
      [3, 3, 3],
    ],
    strides: [
      [1, 1, 1],
      [2, 2, 2],
      [2, 2, 2],
      [2, 2, 2],
    ],
    n_blocks_per_stage: [1, 2, 2, 2],
    n_conv_per_stage_decoder: [1, 1, 1],
    conv_bias: true,
    norm_op: "torch.nn.modules.instancenorm.InstanceNorm3d",
    norm_op_kwargs: { eps: 1e-5, affine: true },
    dropout_op: null,
    dropout_op_kwargs: null,
    nonlin: "torch.nn.modules.activation.LeakyReLU",
    nonlin_kwargs: { negative_slope: 0.01, inplace: true },
  },
  _kw_requires_import: ["conv_op", "norm_op", "dropout_op", "nonlin"],
};

const backend = await initBackend();
const net = buildNetwork(arch, { inputChannels: 1, numClasses: 3, deepSupervision: false, patchSize: [PATCH, PATCH, PATCH], seed: 1 });
const all = net.namedParameters().map(([, v]) => v);
const x = tf.randomNormal([BATCH, 1, PATCH, PATCH, PATCH], 0, 1, "float32", 2);
const y = tf
  .oneHot(tf.randomUniform([BATCH, PATCH, PATCH, PATCH], 0, 3, "int32", 3), 3)
  .transpose([0, 4, 1, 2, 3])
  .toFloat();

// Bytes alive right after the forward pass inside variableGrads (weights, batch, output and what the tape saved).
let kept = 0;
function makeStep(frozen) {
  const vars = all.filter((_, i) => !frozen[i]);
  const opt = new SGD(all, { lr: 1e-3, momentum: 0.99, nesterov: true, weightDecay: 3e-5 });
  const loss = () => {
    const out = /** @type {tf.Tensor} */ (net.forward(x));
    kept = tf.memory().numBytes;
    return /** @type {tf.Scalar} */ (tf.losses.softmaxCrossEntropy(y.transpose([0, 2, 3, 4, 1]), out.transpose([0, 2, 3, 4, 1])));
  };
  return () => {
    const { value, grads } = tf.variableGrads(loss, vars);
    opt.step(all.map((v) => grads[v.name] ?? null));
    value.dataSync();
    value.dispose();
    tf.dispose(Object.values(grads));
  };
}

async function measure(label, frozen, tapeOff = true) {
  const prefix = frozen && tapeOff ? runFrozenPrefixWithoutTape(net, frozen) : null;
  const step = makeStep(frozen ?? all.map(() => false));
  step();
  let best = Infinity;
  for (let i = 0; i < STEPS; i++) {
    const t0 = performance.now();
    step();
    best = Math.min(best, performance.now() - t0);
  }
  const prof = await tf.profile(step);
  prefix?.restore();
  const trained = (frozen ?? []).filter((f) => !f).length || all.length;
  console.log(
    `${label.padEnd(16)} step ${best.toFixed(0).padStart(6)} ms   peak tensor memory ${(prof.peakBytes / 2 ** 20).toFixed(1).padStart(7)} MiB` +
      `   after forward ${(kept / 2 ** 20).toFixed(1).padStart(7)} MiB   ${trained} of ${all.length} parameter tensors trained`,
  );
  return { ms: best, peak: prof.peakBytes, kept };
}

console.log(`backend ${backend}, ResidualEncoderUNet features 16-128, patch ${PATCH}^3, batch ${BATCH}, fastest of ${STEPS} steps`);
const full = await measure("full step", null);
// Without the tape switch the frozen weights still get no gradient (tfjs prunes the backward pass to the requested
// variables), but the encoder's activations are kept for a backward pass that never comes.
const pruned = await measure("frozen, tape on", frozenMask(net, { kind: "encoder" }), false);
const frozen = await measure("frozen encoder", frozenMask(net, { kind: "encoder" }));
const r = (a, b) => (a / b).toFixed(2);
console.log(
  `frozen / full: time ${r(frozen.ms, full.ms)}, peak memory ${r(frozen.peak, full.peak)}, after forward ${r(frozen.kept, full.kept)}` +
    ` (tape on: time ${r(pruned.ms, full.ms)}, peak memory ${r(pruned.peak, full.peak)}, after forward ${r(pruned.kept, full.kept)})`,
);
net.dispose();
