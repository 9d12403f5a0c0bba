// `nnssl-adapt pretrain`: nnssl's MAE pretraining on unlabelled volumes, writing an nnssl checkpoint.

import { applyBackendFlag, BACKEND_FLAG_HELP } from "../backend-flag.js";
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { pretrainMae } from "../../pretraining/mae-trainer.js";
import { ConfigError } from "../../errors.js";
import { terminalProgress } from "../progress.js";

const ints = (name: string) => (v: string, prev: number[] | undefined) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} takes positive integers, got '${v}'`);
  return [...(prev ?? []), n];
};
const floats = (name: string) => (v: string, prev: number[] | undefined) => {
  const n = Number(v);
  if (!(n > 0)) throw new InvalidArgumentError(`${name} takes positive numbers, got '${v}'`);
  return [...(prev ?? []), n];
};
const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got '${v}'`);
  return n;
};
const ratio = (v: string) => {
  const n = Number(v);
  if (!(n >= 0 && n < 1)) throw new InvalidArgumentError(`expected a number in [0, 1), got '${v}'`);
  return n;
};

export function register(program: Command): void {
  program
    .command("pretrain")
    .description("MAE pretraining (nnssl's BaseMAETrainer recipe) on unlabelled volumes; writes checkpoint_final.pth + adaptation_plan.json")
    .requiredOption("-i, --input <folder>", "folder of NIfTI images, or a raw dataset folder (imagesTr, imagesTs, imagesUnlabelled)")
    .requiredOption("-o, --output <folder>", "output folder")
    .option("--arch <name>", "ResidualEncoderUNet (sized by --features/--blocks) or ResEncL", "ResidualEncoderUNet")
    .option("--features <n...>", "features per stage", ints("--features"))
    .option("--blocks <n...>", "residual blocks per stage", ints("--blocks"))
    .option("--patch <n...>", "patch size (3 numbers)", ints("--patch"))
    .option("--spacing <mm...>", "pretraining spacing (3 numbers)", floats("--spacing"))
    .option("--epochs <n>", "epochs", int, 100)
    .option("--iterations-per-epoch <n>", "iterations per epoch (nnssl: 250)", int, 25)
    .option("--batch-size <n>", "batch size", int, 2)
    .option("--mask-ratio <r>", "fraction of blocks masked", ratio, 0.75)
    .option("--block <n>", "mask block edge in voxels", int, 8)
    .option("--seed <n>", "random seed", int, 12345)
    .option("--name <name>", "pretraining dataset name recorded in the plan (default: the input folder's name)")
    .option("--backend <name>", BACKEND_FLAG_HELP)
    .action(async (o) => {
      await applyBackendFlag(o.backend);
      if (!["ResidualEncoderUNet", "ResEncL"].includes(o.arch)) throw new ConfigError(`invalid --arch: ${o.arch} (expected ResidualEncoderUNet or ResEncL)`);
      const bar = terminalProgress();
      const t0 = Date.now();
      const r = await pretrainMae({
        input: o.input,
        output: o.output,
        arch: o.arch,
        features: o.features,
        blocks: o.blocks,
        patch: o.patch,
        spacing: o.spacing,
        epochs: o.epochs,
        iterationsPerEpoch: o.iterationsPerEpoch,
        batchSize: o.batchSize,
        maskRatio: o.maskRatio,
        block: o.block,
        seed: o.seed,
        name: o.name,
        onProgress: bar,
        onEpochEnd: (e) => process.stderr.write(`epoch ${e.epoch}: loss ${e.loss.toFixed(4)}, lr ${e.lr.toExponential(3)}, ${e.seconds.toFixed(1)} s\n`),
      });
      bar.stop();
      console.log(
        `wrote ${r.checkpoint} and ${r.adaptationPlanFile} (${r.parameters} parameters, ${r.epochs} epochs, ${((Date.now() - t0) / 1000).toFixed(0)} s)`,
      );
    });
}
