// nnUNetv2_train: plain nnU-Net training (nnUNetTrainer, nnUNetPlans by default) with the same flags as
// nnUNetv2_train_pretrained.

import type { ParserSpec } from "../argparse.js";
import { train } from "../../training/run-training.js";
import { runTrainingCommand, toTrainOptions, trainingArgs } from "./train-pretrained.js";

export const spec: ParserSpec = {
  prog: "nnUNetv2_train",
  description: "Train an nnU-Net model from scratch.",
  args: trainingArgs({ trainer: "nnUNetTrainer", plans: "nnUNetPlans" }),
};

export async function run(args: Record<string, any>): Promise<void> {
  await runTrainingCommand(train, toTrainOptions(spec.prog, args));
}
