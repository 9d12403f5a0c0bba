#!/usr/bin/env node
// Fine-tunes the example checkpoint and trains the same network from scratch with equal budgets, for several seeds,
// on the example dataset; prints validation Dice per run and the mean per arm. Used for the example checkpoint's
// report (datasets-examples/nnssl-example-mae/README.md).
// Usage: node scripts/compare-pretrained-vs-scratch.js [--seeds 1,2,3] [--epochs 10] [--iterations 12] [--lr 1e-2] [--work DIR]
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Dataset } from "../dist/sdk/index.js";
import { demoPaths, EXAMPLE_CHECKPOINT, EXAMPLE_DATASET } from "../dist/sdk/cli/commands/demo.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const seeds = arg("seeds", "1,2,3").split(",").map(Number);
const epochs = Number(arg("epochs", "10"));
const iterations = Number(arg("iterations", "12"));
const fold = Number(arg("fold", "0"));
// Upstream gives the pretrained arm 1e-3 and the scratch arm 1e-2; --lr gives both the same rate.
const lr = arg("lr", null);
const work = path.resolve(arg("work", path.join(root, ".nnssl-work", "compare")));
const paths = demoPaths(work);

const pre = await Dataset.load(EXAMPLE_DATASET, { paths })
  .plan()
  .preprocessLike(EXAMPLE_CHECKPOINT, { name: "ExampleMAE", mode: "like_pretrained", numWorkers: 2 });
const rows = [];
for (const seed of seeds) {
  for (const fromScratch of [false, true]) {
    const t0 = Date.now();
    // Separate trainer names per seed keep the runs in separate result folders.
    const run = await pre.finetune({
      fold,
      fromScratch,
      seed,
      trainer: `PretrainedTrainer_${epochs}epochs`,
      numIterationsPerEpoch: iterations,
      numValIterationsPerEpoch: 4,
      warmupEpochs: Math.max(1, Math.round(epochs * 0.2)),
      ...(lr ? { initialLr: Number(lr) } : {}),
    });
    const v = run.validation;
    rows.push({
      arm: fromScratch ? "scratch" : "pretrained",
      seed,
      dice: v?.foreground_mean.Dice ?? NaN,
      organ: v?.mean["1"]?.Dice ?? NaN,
      lesion: v?.mean["2"]?.Dice ?? NaN,
      seconds: (Date.now() - t0) / 1000,
    });
    console.log(JSON.stringify(rows.at(-1)));
    // The next seed must not continue this run: move its folder aside.
    const { rename } = await import("node:fs/promises");
    await rename(run.outputFolder, `${run.outputFolder}_seed${seed}`);
  }
}
for (const arm of ["pretrained", "scratch"]) {
  const r = rows.filter((x) => x.arm === arm);
  const mean = (k) => r.reduce((s, x) => s + x[k], 0) / r.length;
  console.log(
    `${arm}: mean foreground Dice ${mean("dice").toFixed(4)} (organ ${mean("organ").toFixed(4)}, lesion ${mean("lesion").toFixed(4)}) over seeds ${seeds.join(", ")}; ${mean("seconds").toFixed(0)} s per run`,
  );
}
