// `npm run bench resencl [--network ResEncL|PrimusM] [--size 128] [--calls 2] [--precision bf16] [--train] [--train-size 64]
// [--batch 2] [--checkpointing]`: a released-size network (nnssl's ResEncL, 102 M parameters, 6 stages 32..320 features;
// or, forward only, Primus-M: 864-wide, 16 Eva blocks on 8^3 patches, built for size^3) on cpu-onednn, one process:
// - forward (no gradients) at 1 x 1 x size^3: wall and CPU seconds of the first and of later calls, peak resident memory;
// - with --train, one training step (forward, deep-supervision Dice+CE loss, backward) at batch x 1 x train-size^3,
//   with or without --checkpointing (activation recomputation per stage): seconds and peak resident memory.
// Each timing also prints the effective GFLOP/s (convolution FLOPs executed, counted from a profiled pass, 2 per
// multiply-add; with --checkpointing that includes the recomputed forward pass) and the fraction of the machine's fp32
// peak, computed from the core count, the clock in /proc/cpuinfo and the FMA width the CPU flags imply (stated in the
// output; override with NNSSL_ADAPT_PEAK_GFLOPS). /proc/cpuinfo gives the nominal clock; boost clocks run higher,
// so the fraction can exceed what the stated peak allows.
// Peak memory is the process's maximum resident set so far, so run forward and training in separate processes
// (--train skips the forward) to see each alone. The machine is usually shared: CPU seconds are the steadier figure.
import { cpus } from "node:os";
import { tf, initBackend } from "../../dist/sdk/backend/index.js";
import { buildNetwork } from "../../dist/sdk/networks/index.js";
import { dcAndCeLoss, deepSupervisionLoss, deepSupervisionWeights } from "../../dist/sdk/training/loss.js";
import { convFlops, machinePeak, rate as rateOf } from "./lib/machine.js";

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const SIZE = opt("--size", 128),
  CALLS = opt("--calls", 2);
const TRAIN = argv.includes("--train"),
  TRAIN_SIZE = opt("--train-size", 64),
  BATCH = opt("--batch", 2);
const CHECKPOINTING = argv.includes("--checkpointing");
const PRECISION = argv.includes("--precision") ? argv[argv.indexOf("--precision") + 1] : "fp32";
const NETWORK = argv.includes("--network") ? argv[argv.indexOf("--network") + 1] : "ResEncL";
if ((NETWORK !== "ResEncL" && NETWORK !== "PrimusM") || (NETWORK === "PrimusM" && TRAIN)) {
  console.error("bench resencl: --network is ResEncL or PrimusM (PrimusM: forward only)");
  process.exit(2);
}
const PRIMUS = NETWORK === "PrimusM";

const gib = (kb) => (kb / 2 ** 20).toFixed(2);
const peak = machinePeak();
const backend = await initBackend();
const { setOnednnPrecision } = await import("../../dist/sdk/backend/onednn.js");
// --precision bf16 applies to the training step too (bf16 convolutions forward and backward, fp32 weights and loss).
const precision = setOnednnPrecision(/** @type {"fp32" | "bf16"} */ (PRECISION), { training: TRAIN });
if (precision.notice) console.log(precision.notice);
console.log(
  `backend ${backend}, ${TRAIN ? "training" : "inference"} precision ${precision.precision}; fp32 peak ${peak.gflops.toFixed(0)} GFLOP/s (${peak.how})`,
);
const build = (size) => buildNetwork(NETWORK, { inputChannels: 1, numClasses: 3, deepSupervision: false, seed: 1, patchSize: [size, size, size] });
const net = build(SIZE);
console.log(`${NETWORK}: ${(net.numParameters() / 1e6).toFixed(1)} M parameters; resident after build ${gib(process.resourceUsage().maxRSS)} GiB`);
const rate = (flops, s) => rateOf(flops, s, peak);
// On a shared machine wall time includes other processes' turns; CPU seconds spread over all cores is what the run
// would take alone (an estimate: it assumes every core busy throughout).
const cpuRate = (flops, cpu) => `per CPU time: ${rate(flops, cpu / cpus().length)}`;

if (!TRAIN) {
  const x = tf.randomNormal([1, 1, SIZE, SIZE, SIZE], 0, 1, "float32", 1);
  const times = [];
  for (let i = 0; i < CALLS; i++) {
    const c0 = process.cpuUsage(),
      t0 = performance.now();
    const y = /** @type {tf.Tensor} */ (net.forward(x));
    y.dataSync();
    const wall = (performance.now() - t0) / 1000,
      c = process.cpuUsage(c0);
    y.dispose();
    times.push({ wall, cpu: (c.user + c.system) / 1e6 });
    const cpu = ((c.user + c.system) / 1e6).toFixed(1);
    console.log(`forward 1x1x${SIZE}^3 call ${i + 1}: ${wall.toFixed(1)} s wall, ${cpu} s CPU; peak resident ${gib(process.resourceUsage().maxRSS)} GiB`);
  }
  let flops;
  if (PRIMUS) {
    // Attention grows with the square of the tokens T, everything else linearly: count a T + b T^2 at two small sizes
    // (networks built for them; FLOPs do not depend on the weights) and evaluate at this size's tokens.
    const count = async (s) => {
      const n = build(s);
      const f = await convFlops(() => n.forward(tf.zeros([1, 1, s, s, s])));
      n.dispose();
      return { t: (s / 8) ** 3, f };
    };
    const [p, q] = [await count(32), await count(64)];
    const b = (q.f / q.t - p.f / p.t) / (q.t - p.t),
      a = p.f / p.t - b * p.t;
    const t = (SIZE / 8) ** 3;
    flops = a * t + b * t * t;
  } else {
    const small = 32;
    const xs = tf.randomNormal([1, 1, small, small, small]);
    flops = await convFlops(() => net.forward(xs), (SIZE / small) ** 3);
  }
  const warm = times.slice(1);
  const best = warm.length ? Math.min(...warm.map((t) => t.wall)) : times[0].wall;
  const bestCpu = Math.min(...(warm.length ? warm : times).map((t) => t.cpu));
  console.log(`  ${(flops / 1e9).toFixed(0)} GFLOP (convolutions and matmuls) per call; warm call: ${rate(flops, best)}; ${cpuRate(flops, bestCpu)}`);
  if (warm.length) {
    const cpuWarm = Math.min(...warm.map((t) => t.cpu));
    console.log(`  first call / warm call: ${(times[0].wall / best).toFixed(2)}x wall, ${(times[0].cpu / cpuWarm).toFixed(2)}x CPU`);
  }
} else {
  net.setDeepSupervision(true);
  net.checkpointing = CHECKPOINTING;
  const vars = net.namedParameters().map(([, v]) => v);
  const s = TRAIN_SIZE;
  const x = tf.randomNormal([BATCH, 1, s, s, s], 0, 1, "float32", 2);
  const targets = [1, 2, 4, 8, 16].map((d) => {
    const n = s / d;
    return { data: new Uint8Array(BATCH * n ** 3).map((_, i) => (i * 7) % 3), shape: [BATCH, 1, n, n, n] };
  });
  const loss = deepSupervisionLoss(dcAndCeLoss({ batchDice: false }), deepSupervisionWeights(5));
  const step = () => {
    const { value, grads } = tf.variableGrads(() => loss(/** @type {tf.Tensor[]} */ (net.forward(x)), targets), vars);
    value.dataSync();
    value.dispose();
    tf.dispose(Object.values(grads));
  };
  for (let i = 0; i < CALLS; i++) {
    const c0 = process.cpuUsage(),
      t0 = performance.now();
    step();
    const wall = (performance.now() - t0) / 1000,
      c = process.cpuUsage(c0);
    const what = `train step ${BATCH}x1x${s}^3${CHECKPOINTING ? " --checkpointing" : ""} #${i + 1}`;
    const cpu = ((c.user + c.system) / 1e6).toFixed(1);
    console.log(`${what}: ${wall.toFixed(1)} s wall, ${cpu} s CPU; peak resident ${gib(process.resourceUsage().maxRSS)} GiB`);
    if (i === CALLS - 1) {
      const small = 32;
      const xs = tf.randomNormal([BATCH, 1, small, small, small]);
      const flops = await convFlops(
        () => tf.variableGrads(() => /** @type {tf.Scalar} */ (tf.addN(/** @type {tf.Tensor[]} */ (net.forward(xs)).map((o) => tf.mean(o)))), vars).grads,
        (s / small) ** 3,
      );
      console.log(`  ${(flops / 1e9).toFixed(0)} GFLOP of convolutions per step; ${rate(flops, wall)}; ${cpuRate(flops, (c.user + c.system) / 1e6)}`);
    }
  }
}
