// `nnssl-adapt demo`: the whole seed workflow on the bundled example data, in a few minutes on a CPU:
// verify the dataset, fingerprint + plan (nnUNetv2_plan_and_preprocess --no_pp), preprocess like the example nnssl
// checkpoint (nnUNetv2_preprocess_like_nnssl -am like_pretrained), fine-tune (nnUNetv2_train_pretrained), validate
// and report Dice. Outputs go to .nnssl-work/ unless the nnUNet_* variables are set.

import type { Command } from "commander";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Dataset } from "../../facade.js";
import { backendInfo } from "../../backend/index.js";
import { applyBackendFlag, BACKEND_FLAG_HELP } from "../backend-flag.js";
import { lookupPath, type Paths } from "../../config/env.js";
import { ConfigError } from "../../errors.js";
import { exists } from "../../util/fs.js";
import { terminalProgress } from "../progress.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
export const EXAMPLE_DATASET = "Dataset001_Example";
export const EXAMPLE_CHECKPOINT = path.join(ROOT, "datasets-examples", "nnssl-example-mae", "checkpoint_final.pth");

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`expected a positive integer, got '${v}'`);
  return n;
};

export interface DemoOptions {
  epochs: number;
  iterations: number;
  valIterations: number;
  fold: number;
  scratch: boolean;
  work: string;
  seed: number;
  /** nnssl checkpoint (path or Hugging Face URL); default the bundled example. */
  checkpoint: string;
}

/** The demo's folders: the bundled raw data, and a work folder for everything written (unless nnUNet_* are set). */
export function demoPaths(work: string): Paths {
  return {
    nnUNet_raw: lookupPath("nnUNet_raw") ?? path.join(ROOT, "datasets-examples"),
    nnUNet_preprocessed: lookupPath("nnUNet_preprocessed") ?? path.join(work, "nnUNet_preprocessed"),
    nnUNet_results: lookupPath("nnUNet_results") ?? path.join(work, "nnUNet_results"),
    nnssl_pretrained_models: lookupPath("nnssl_pretrained_models") ?? path.join(work, "nnssl_pretrained_models"),
  };
}

const fmtDice = (d: number) => (Number.isNaN(d) ? "nan" : d.toFixed(4));

export async function runDemo(o: DemoOptions, log: (s: string) => void = (s) => console.log(s)): Promise<void> {
  const t0 = Date.now();
  const since = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
  if (o.checkpoint === EXAMPLE_CHECKPOINT && !(await exists(EXAMPLE_CHECKPOINT))) {
    throw new ConfigError("example checkpoint missing: it ships with the repository (datasets-examples/nnssl-example-mae)", { file: EXAMPLE_CHECKPOINT });
  }
  const paths = demoPaths(o.work);
  const bar = terminalProgress();
  const b = await backendInfo();
  log(`nnssl-adapt demo: backend ${b.name} (${b.provider})`);
  log(`raw data ${paths.nnUNet_raw}, outputs under ${o.work}`);

  const ds = await Dataset.load(EXAMPLE_DATASET, { paths });
  log(`\n[1/5] dataset ${ds.name}: ${ds.identifiers.length} training cases; verifying integrity (${since()})`);
  await ds.verify();

  log(`[2/5] fingerprint and plans, like nnUNetv2_plan_and_preprocess -d 1 --no_pp (${since()})`);
  const plans = await ds.plan({ onProgress: bar });
  const full = plans.json.configurations["3d_fullres"] as { spacing: number[]; patch_size: number[] };
  log(`      nnUNetPlans 3d_fullres: spacing [${full.spacing.map((s) => +s.toFixed(3))}], patch [${full.patch_size}]`);

  log(
    `[3/5] preprocess like the nnssl checkpoint ${path.relative(process.cwd(), o.checkpoint) || o.checkpoint}, like nnUNetv2_preprocess_like_nnssl -am like_pretrained (${since()})`,
  );
  const pre = await plans.preprocessLike(o.checkpoint, { name: "ExampleMAE", mode: "like_pretrained", numWorkers: 2, onProgress: bar });
  const cfg = pre.plans.json.configurations["3d_fullres"] as { spacing: number[]; patch_size: number[] };
  log(`      ${pre.plans.name}: spacing [${cfg.spacing}], patch [${cfg.patch_size}]`);

  // PretrainedTrainer warms up over 50 epochs; a demo of a few epochs would then never leave the warm-up's tiny
  // learning rates, so the ramp is shortened in proportion (upstream's 50 of 1000 epochs = 5%, at least one epoch).
  const warmupEpochs = Math.max(1, Math.round(o.epochs * 0.2));
  const budget = {
    fold: o.fold,
    numEpochs: o.epochs,
    numIterationsPerEpoch: o.iterations,
    numValIterationsPerEpoch: o.valIterations,
    warmupEpochs,
    seed: o.seed,
    onProgress: bar,
  };
  const runs: [string, Awaited<ReturnType<typeof pre.finetune>>][] = [];
  log(`[4/5] fine-tune fold ${o.fold} with PretrainedTrainer: ${o.epochs} epochs x ${o.iterations} iterations, ${warmupEpochs} warm-up epochs (${since()})`);
  runs.push([
    "pretrained",
    await pre.finetune({
      ...budget,
      onEpochEnd: (e) =>
        log(
          `      epoch ${e.epoch}: train loss ${e.trainLoss.toFixed(4)}, val loss ${e.valLoss.toFixed(4)}, pseudo Dice [${e.pseudoDice.map((d) => d.toFixed(3))}], lr ${e.lr.toExponential(2)}, ${e.epochSeconds.toFixed(1)} s`,
        ),
    }),
  ]);
  if (o.scratch) {
    log(`      ... and the same network from scratch (--from_scratch) (${since()})`);
    runs.push(["from scratch", await pre.finetune({ ...budget, fromScratch: true })]);
  }
  bar.stop();

  log(`[5/5] validation of fold ${o.fold}'s held-out cases (sliding window with mirroring, run at the end of fine-tuning) (${since()})`);
  const labels = Object.entries(ds.raw.datasetJson.labels).filter(([, v]) => v !== 0);
  for (const [name, run] of runs) {
    const v = run.validation;
    if (!v) {
      log(`      ${name}: no validation summary`);
      continue;
    }
    const perClass = labels.map(([l], i) => `${l} ${fmtDice(v.mean[String(i + 1)]?.Dice ?? NaN)}`).join(", ");
    log(
      `      ${name}: mean foreground Dice ${fmtDice(v.foreground_mean.Dice)} (${perClass}); ${run.meanEpochSeconds.toFixed(1)} s/epoch; results in ${run.outputFolder}`,
    );
  }
  log(`\ndone in ${since()}. Next: notebooks/ (npm run kernel:install, then open them in Jupyter).`);
}

export function register(program: Command): void {
  program
    .command("demo")
    .description("run the whole workflow (plan, preprocess like nnssl, fine-tune, validate) on the bundled example data")
    .option("--epochs <n>", "fine-tuning epochs", positiveInt, 8)
    .option("--iterations <n>", "training iterations per epoch", positiveInt, 12)
    .option("--val-iterations <n>", "validation iterations per epoch", positiveInt, 4)
    .option(
      "--fold <n>",
      "cross-validation fold",
      (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0) throw new ConfigError(`invalid --fold: ${v}`);
        return n;
      },
      0,
    )
    .option("--scratch", "also train from scratch with the same budget, for comparison", false)
    .option("--seed <n>", "seed for training", positiveInt, 12345)
    .option("--checkpoint <path-or-url>", "nnssl checkpoint to adapt", EXAMPLE_CHECKPOINT)
    .option("--work <folder>", "folder for preprocessed data and results", path.join(ROOT, ".nnssl-work"))
    .option("--backend <name>", BACKEND_FLAG_HELP)
    .action(async (o) => {
      await applyBackendFlag(o.backend);
      await runDemo({
        epochs: o.epochs,
        iterations: o.iterations,
        valIterations: o.valIterations,
        fold: o.fold,
        scratch: o.scratch,
        work: path.resolve(o.work),
        seed: o.seed,
        checkpoint: o.checkpoint,
      });
    });
}
