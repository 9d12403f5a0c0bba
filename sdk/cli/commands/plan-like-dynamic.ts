// nnUNetv2_plan_like_dynamic: same flags as nnU-Net master's plan_like_dynamic_entrypoint. Maps them to
// planLikeDynamic and prints where the plans went and how to train with them.

import type { ParserSpec } from "../argparse.js";
import { planLikeDynamic } from "../../preprocessing/plan-like-dynamic.js";
import { terminalProgress } from "../progress.js";

export const spec: ParserSpec = {
  prog: "nnUNetv2_plan_like_dynamic",
  description:
    "Create a plan that uses nnUNet's dynamic architecture with pretrained weights. The architecture mismatches (kernel sizes, depth) " +
    "are handled dynamically during training (DynamicPretrainedTrainer).",
  args: [
    { flags: ["-d"], type: "int", required: true, help: "[REQUIRED] Dataset ID." },
    {
      flags: ["-n", "--pretraining_name"],
      required: true,
      help: "[REQUIRED] Unique name for the pretraining. Used to name the plans file. Example: 'ResEncL_MAE_pretrained'",
    },
    { flags: ["-pc", "--pretrained_checkpoint"], required: true, help: "[REQUIRED] Path to the pretrained checkpoint (.pth) or Hugging Face URL." },
    {
      flags: ["-pl", "--plans_identifier"],
      default: "nnUNetPlans",
      help: "[OPTIONAL] Which existing plans to use as base. Can also be nnUNetResEncUNetLPlans, etc.",
    },
    { flags: ["-np"], type: "int", default: 4, help: "[OPTIONAL] Number of processes for preprocessing." },
    { flags: ["--verbose"], action: "store_true", help: "Set this to print verbose output during preprocessing." },
    {
      flags: ["--overwrite_pp"],
      action: "store_true",
      help: "[OPTIONAL] Force (re)running preprocessing even if the target preprocessed folder already exists.",
    },
  ],
};

export async function run(args: Record<string, any>): Promise<void> {
  const verbose = args.verbose as boolean;
  const progress = terminalProgress();
  try {
    const res = await planLikeDynamic(args.d as number, args.pretrained_checkpoint as string, {
      name: args.pretraining_name as string,
      plansIdentifier: args.plans_identifier as string,
      numWorkers: args.np as number,
      overwrite: args.overwrite_pp as boolean,
      onProgress: verbose ? undefined : progress,
      log: (line) => process.stdout.write(line + "\n"),
    });
    progress.stop();
    if (verbose) process.stdout.write(res.cases.toMarkdown({ limit: Infinity }) + "\n");
    const skipped = (res.cases.objects() as { skipped: boolean }[]).filter((r) => r.skipped).length;
    process.stdout.write(
      `${res.cases.numRows()} case(s), ${skipped} already preprocessed\n\nTo train with dynamic adaptation, use:\n` +
        `  nnUNetv2_train_pretrained ${args.d} 3d_fullres FOLD -p ${res.plansName} -tr DynamicPretrainedTrainer\n`,
    );
  } finally {
    progress.stop();
  }
}
