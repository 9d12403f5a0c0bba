// `npm run bench train [--patch 32] [--size 48] [--cases 6] [--epochs 2] [--iters 6] [--workers 0,1,2] [--precision bf16]
//  [--resencl [--resencl-size 128] [--batch 2]]`: fine-tuning throughput on a synthetic preprocessed dataset: mean epoch
// time, the time the training loop waited for batches (with batches built in the main thread vs in worker threads),
// the cost of building one augmented batch, and the effective GFLOP/s of an epoch (convolution FLOPs of its training
// steps and validation passes, counted from a profiled step) with the fraction of this machine's fp32 peak (derivation
// printed). The reference is our own in-thread data loading, measured in the same run (ratios, not absolute numbers,
// carry across machines; the machine is usually shared).
// --resencl adds a released-size network: one ResEncL training step (forward, deep-supervision Dice+CE, backward) at
// batch x 1 x resencl-size^3 (default 128^3 batch 2, random weights), without and with --checkpointing, each in its own
// process (`bench resencl --train`) so each peak resident memory is its own. At 128^3 batch 2 the step peaked at 18.5 GiB
// with --checkpointing (measured; about 34 GB without, extrapolated): run it on a machine with the memory to spare.
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { formatNpy } from "../../dist/sdk/io/npy.js";
import { RandomState } from "../../dist/sdk/util/random-state.js";
import { train } from "../../dist/sdk/training/run-training.js";
import { buildBatch } from "../../dist/sdk/training/batch-producer.js";
import { CaseCache } from "../../dist/sdk/training/case-reader.js";
import { configureAugmentation } from "../../dist/sdk/training/augmentation/initial-patch-size.js";
import { backendInfo, tf } from "../../dist/sdk/backend/index.js";
import { buildNetwork } from "../../dist/sdk/networks/index.js";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { convFlops, machinePeak, rate } from "./lib/machine.js";
import { resEncArch } from "./lib/networks.js";

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const PATCH = Number(opt("patch", 32)),
  SIZE = Number(opt("size", 48)),
  CASES = Number(opt("cases", 6));
const EPOCHS = Number(opt("epochs", 2)),
  ITERS = Number(opt("iters", 6));
const WORKERS = String(opt("workers", "0,1")).split(",").map(Number);
const PRECISION = opt("precision", "fp32");
const RESENCL = argv.includes("--resencl");
const RESENCL_SIZE = Number(opt("resencl-size", 128)),
  RESENCL_BATCH = Number(opt("batch", 2));
const VAL_ITERS = Math.max(1, (ITERS / 3) | 0);

function writeDataset(root) {
  const name = "Dataset995_BenchTrain";
  const base = path.join(root, "pre", name);
  const data = path.join(base, "nnUNetPlans_3d_fullres");
  mkdirSync(data, { recursive: true });
  mkdirSync(path.join(root, "res"), { recursive: true });
  writeFileSync(
    path.join(base, "dataset.json"),
    JSON.stringify({ channel_names: { 0: "MR" }, labels: { background: 0, a: 1, b: 2 }, numTraining: CASES, file_ending: ".nii.gz" }),
  );
  const arch = resEncArch([16, 32, 64, 128], [1, 2, 2, 2]);
  writeFileSync(
    path.join(base, "nnUNetPlans.json"),
    JSON.stringify({
      dataset_name: name,
      plans_name: "nnUNetPlans",
      original_median_spacing_after_transp: [1, 1, 1],
      original_median_shape_after_transp: [SIZE, SIZE, SIZE],
      image_reader_writer: "SimpleITKIO",
      transpose_forward: [0, 1, 2],
      transpose_backward: [0, 1, 2],
      experiment_planner_used: "ExperimentPlanner",
      label_manager: "LabelManager",
      foreground_intensity_properties_per_channel: {},
      configurations: {
        "3d_fullres": {
          data_identifier: "nnUNetPlans_3d_fullres",
          batch_size: 2,
          patch_size: [PATCH, PATCH, PATCH],
          spacing: [1, 1, 1],
          use_mask_for_norm: [false],
          architecture: arch,
          batch_dice: false,
        },
      },
    }),
  );
  const rs = new RandomState(1);
  const n = SIZE ** 3;
  for (let k = 0; k < CASES; k++) {
    const id = `bench_${k}`;
    const seg = new Int16Array(n);
    const img = new Float32Array(n);
    const locs = { 1: [], 2: [] };
    const c = [0, 1, 2].map(() => rs.randint(8, SIZE - 8));
    for (let z = 0; z < SIZE; z++)
      for (let y = 0; y < SIZE; y++)
        for (let x = 0; x < SIZE; x++) {
          const d = Math.hypot(z - c[0], y - c[1], x - c[2]);
          const i = (z * SIZE + y) * SIZE + x;
          if (d < 4) {
            seg[i] = 2;
            locs[2].push([0, z, y, x]);
          } else if (d < 7) {
            seg[i] = 1;
            locs[1].push([0, z, y, x]);
          }
          img[i] = seg[i] + rs.randomSample() - 0.5;
        }
    writeFileSync(path.join(data, `${id}.npy`), formatNpy({ dtype: "float32", shape: [1, SIZE, SIZE, SIZE], data: img }));
    writeFileSync(path.join(data, `${id}_seg.npy`), formatNpy({ dtype: "int16", shape: [1, SIZE, SIZE, SIZE], data: seg }));
    writeFileSync(path.join(data, `${id}.json`), JSON.stringify({ class_locations: locs }));
  }
  return { name, data, arch, paths: { nnUNet_raw: root, nnUNet_preprocessed: path.join(root, "pre"), nnUNet_results: path.join(root, "res") } };
}

const root = mkdtempSync(path.join(tmpdir(), "bench-train-"));
const ds = writeDataset(root);
const peak = machinePeak();
console.log(
  `backend ${(await backendInfo()).name}; ResidualEncoderUNet 16-32-64-128, patch ${PATCH}^3, batch 2, ${CASES} cases of ${SIZE}^3, ${EPOCHS} epochs x ${ITERS} iterations (+ ${VAL_ITERS} val), precision ${PRECISION}`,
);
console.log(`fp32 peak ${peak.gflops.toFixed(0)} GFLOP/s (${peak.how})`);

// Convolution FLOPs of one training step (forward with deep supervision + backward) and one validation forward pass.
const epochFlops = await (async () => {
  const net = buildNetwork(ds.arch, { inputChannels: 1, numClasses: 3, deepSupervision: true, patchSize: [PATCH, PATCH, PATCH], seed: 1 });
  const vars = net.namedParameters().map(([, v]) => v);
  const x = tf.zeros([2, 1, PATCH, PATCH, PATCH]);
  const sum = () => /** @type {tf.Scalar} */ (tf.addN(/** @type {tf.Tensor[]} */ (net.forward(x)).map((o) => tf.mean(o))));
  const step = await convFlops(() => tf.variableGrads(sum, vars).grads);
  const fwd = await convFlops(() => net.forward(x));
  tf.dispose(x);
  net.dispose();
  console.log(`convolutions: ${(step / 1e9).toFixed(1)} GFLOP per training step, ${(fwd / 1e9).toFixed(1)} GFLOP per validation step`);
  return ITERS * step + VAL_ITERS * fwd;
})();

// One augmented batch, built in this thread (what a worker does per batch).
const aug = configureAugmentation([PATCH, PATCH, PATCH]);
/** @type {[number, number, number]} */
const p3 = [PATCH, PATCH, PATCH];
/** @type {import("../../dist/sdk/training/batch-producer.js").BatchJob} */
const job = {
  folder: ds.data,
  identifiers: Array.from({ length: CASES }, (_, k) => `bench_${k}`),
  train: true,
  seed: 1,
  stream: 0,
  loader: {
    patchSize: /** @type {[number, number, number]} */ (aug.initialPatchSize),
    finalPatchSize: p3,
    batchSize: 2,
    oversampleForegroundPercent: 0.33,
    hasIgnore: false,
  },
  transforms: {
    patchSize: p3,
    is2d: false,
    doDummy2d: false,
    rotation: aug.rotation,
    mirrorAxes: [0, 1, 2],
    maskChannels: [],
    regions: null,
    dsScales: [
      [1, 1, 1],
      [0.5, 0.5, 0.5],
      [0.25, 0.25, 0.25],
    ],
  },
};
const cache = new CaseCache(ds.data);
await buildBatch(job, 0, cache);
const nb = 8;
const t0 = performance.now();
for (let k = 1; k <= nb; k++) await buildBatch(job, k, cache);
const batchMs = (performance.now() - t0) / nb;
console.log(`augmented batch (initial patch ${aug.initialPatchSize.join("x")} -> ${PATCH}^3): ${batchMs.toFixed(0)} ms`);

const rows = [];
for (const w of WORKERS) {
  const run = await train({
    dataset: ds.name,
    configuration: "3d_fullres",
    fold: 0,
    numEpochs: EPOCHS,
    numIterationsPerEpoch: ITERS,
    numValIterationsPerEpoch: VAL_ITERS,
    ...(PRECISION !== "fp32" ? { precision: PRECISION } : {}),
    onLog: (line) => line.startsWith("--precision") && console.log(line),
    seed: 1,
    numWorkers: w,
    skipValidation: true,
    disableCheckpointing: true,
    paths: ds.paths,
    onEpochEnd: (e) =>
      console.log(
        `  workers ${w} epoch ${e.epoch}: ${e.epochSeconds.toFixed(2)} s, data wait ${e.dataWaitSeconds.toFixed(2)} s, train loss ${e.trainLoss.toFixed(3)}`,
      ),
  });
  rows.push({ workers: w, epoch: run.meanEpochSeconds, wait: run.dataWaitSeconds / EPOCHS });
  console.log(
    `workers ${w}: epoch ${run.meanEpochSeconds.toFixed(2)} s, waited for data ${(run.dataWaitSeconds / EPOCHS).toFixed(2)} s/epoch (${((100 * run.dataWaitSeconds) / EPOCHS / run.meanEpochSeconds).toFixed(1)}%); ${rate(epochFlops, run.meanEpochSeconds, peak)}`,
  );
}
const ref = rows.find((r) => r.workers === 0);
if (ref)
  for (const r of rows.filter((x) => x.workers > 0))
    console.log(
      `workers ${r.workers} vs in-thread: epoch time x${(r.epoch / ref.epoch).toFixed(2)}, data wait x${(r.wait / Math.max(ref.wait, 1e-9)).toFixed(3)}`,
    );

if (RESENCL) {
  const script = fileURLToPath(new URL("./resencl.js", import.meta.url));
  for (const checkpointing of [false, true]) {
    const args = [script, "--train", "--train-size", String(RESENCL_SIZE), "--batch", String(RESENCL_BATCH), "--calls", "2", "--precision", PRECISION];
    if (checkpointing) args.push("--checkpointing");
    console.log(
      `\nResEncL training step, ${RESENCL_BATCH} x 1 x ${RESENCL_SIZE}^3${checkpointing ? ", --checkpointing" : ""} (own process: node ${args.slice(1).join(" ")}):`,
    );
    const r = spawnSync(process.execPath, args, { stdio: "inherit" });
    if (r.status !== 0) console.log(`  exited with ${r.status ?? r.signal} (out of memory?)`);
  }
}
