// `npm run bench precision [--seed 3] [--epochs 8] [--iterations 12] [--lr 1e-2] [--fold 0] [--work DIR]`: bf16 against
// fp32 on the example dataset (the demo's: Dataset001_Example, preprocessed like the example nnssl checkpoint), on
// cpu-onednn. Three numbers:
// 1. fine-tune with fp32 and with `precision: "bf16"` (bf16 convolutions forward and backward, fp32 accumulation,
//    weights, optimizer state and loss) for the same seeded budget; each run's final validation Dice (sliding window
//    with mirroring, in the run's precision) and wall time;
// 2. the fp32 model's validation again with bf16 inference (`--val` with precision bf16): bf16 inference Dice on the
//    same weights.
// The issue's target: bf16 validation Dice within 0.005 of fp32's. Seed 3 is the example README's seed at which both
// classes are learnt within the demo budget (with seeds 1 and 2 the small lesion class stays at Dice 0 in 96 steps,
// which makes the mean foreground Dice jump on a single class).
import * as path from "node:path";
import { rename, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { Dataset, trainPretrained } from "../../dist/sdk/index.js";
import { cpuHasBf16 } from "../../dist/sdk/backend/onednn.js";
import { demoPaths, EXAMPLE_CHECKPOINT, EXAMPLE_DATASET } from "../../dist/sdk/cli/commands/demo.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const argv = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const seed = Number(arg("seed", "3"));
const epochs = Number(arg("epochs", "8"));
const iterations = Number(arg("iterations", "12"));
const lr = Number(arg("lr", "1e-2"));
const fold = Number(arg("fold", "0"));
const work = path.resolve(arg("work", path.join(root, ".nnssl-work", "precision")));
if (!cpuHasBf16()) console.log("this CPU has no bf16 instructions: the bf16 arms will run in fp32 (each prints a notice)");

const paths = demoPaths(work);
const pre = await Dataset.load(EXAMPLE_DATASET, { paths })
  .plan()
  .preprocessLike(EXAMPLE_CHECKPOINT, { name: "ExampleMAE", mode: "like_pretrained", numWorkers: 2 });
console.log(`example dataset preprocessed like the example checkpoint: ${pre.plans.name}`);
const onLog = (line) => line.startsWith("--precision") && console.log(line);
const budget = {
  dataset: EXAMPLE_DATASET,
  configuration: "3d_fullres",
  plans: pre.plans.name,
  fold,
  seed,
  trainer: "PretrainedTrainer",
  numEpochs: epochs,
  numIterationsPerEpoch: iterations,
  numValIterationsPerEpoch: 4,
  warmupEpochs: Math.max(1, Math.round(epochs * 0.2)),
  initialLr: lr,
  numWorkers: 1,
  onLog,
};
console.log(
  `budget: fold ${fold}, seed ${seed}, ${epochs} epochs x ${iterations} iterations, ${budget.warmupEpochs} warm-up epochs, lr ${lr}, PretrainedTrainer`,
);

const fmt = (v) =>
  `Dice fg ${v.foreground_mean.Dice.toFixed(4)} (${Object.entries(v.mean)
    .map(([k, m]) => `${k}: ${m.Dice.toFixed(4)}`)
    .join(", ")})`;
const results = {};
for (const precision of /** @type {const} */ (["fp32", "bf16"])) {
  const resultsFolder = path.join(work, `nnUNet_results_${precision}`);
  await rm(resultsFolder, { recursive: true, force: true });
  const t0 = performance.now();
  const run = await trainPretrained({ ...budget, precision, paths: { ...paths, nnUNet_results: resultsFolder } });
  const seconds = (performance.now() - t0) / 1000;
  results[precision] = { run, seconds };
  console.log(
    `train ${precision} (ran as ${run.precision}): ${fmt(run.validation)}; ${seconds.toFixed(0)} s wall in all, ` +
      `${run.meanEpochSeconds.toFixed(1)} s per epoch (loss ${run.logging.train_losses.at(-1).toFixed(4)} at the end)`,
  );
}

// bf16 inference on the fp32 model: its fp32 validation folder is kept as validation_fp32.
const fp32 = results.fp32.run;
await rm(`${path.join(fp32.outputFolder, "validation")}_fp32`, { recursive: true, force: true });
await rename(path.join(fp32.outputFolder, "validation"), `${path.join(fp32.outputFolder, "validation")}_fp32`);
const t0 = performance.now();
const inf = await trainPretrained({
  ...budget,
  validationOnly: true,
  precision: "bf16",
  paths: { ...paths, nnUNet_results: path.join(work, "nnUNet_results_fp32") },
});
const infSeconds = (performance.now() - t0) / 1000;
console.log(`fp32 model, validation with bf16 inference (ran as ${inf.precision}): ${fmt(inf.validation)}; ${infSeconds.toFixed(0)} s wall`);

const d = (a, b) => (b.foreground_mean.Dice - a.foreground_mean.Dice).toFixed(4);
console.log(`bf16 training - fp32 training: ${d(fp32.validation, results.bf16.run.validation)} mean foreground Dice (target: within 0.005)`);
console.log(`bf16 inference - fp32 inference (fp32 model): ${d(fp32.validation, inf.validation)} mean foreground Dice`);
// The fp32 arm runs first and carries the process's warm-up (V8 compilation, oneDNN primitive creation): compare epochs.
const ep = (p) => results[p].run.meanEpochSeconds;
console.log(`mean epoch time bf16 / fp32: ${(ep("bf16") / ep("fp32")).toFixed(2)} (whole runs: ${(results.bf16.seconds / results.fp32.seconds).toFixed(2)})`);
