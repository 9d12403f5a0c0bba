// nnUNetv2_preprocess_like_nnssl: same flags as the nnssl fork's preprocess_like_nnssl_entrypoint (plus master's
// --overwrite_pp). Maps them to preprocessLikeNnssl and prints where the plans went and how to train with them.

import { UsageError, type ParserSpec } from "../argparse.js";
import { ADAPTATION_MODES, type AdaptationMode } from "../../preprocessing/adapted-plans.js";
import { preprocessLikeNnssl } from "../../preprocessing/like-nnssl.js";
import { terminalProgress } from "../progress.js";

export const spec: ParserSpec = {
  prog: "nnUNetv2_preprocess_like_nnssl",
  description: "Adapts a planned dataset to an nnssl checkpoint (ptPlans__NAME____<data_identifier>.json) and preprocesses it for 3d_fullres.",
  args: [
    { flags: ["-d"], type: "int", required: true, help: "[REQUIRED] Dataset ID (one)." },
    { flags: ["-n", "--pretraining_name"], required: true, help: "[REQUIRED] !Unique! name of the pretraining. Used to name the plans file." },
    {
      flags: ["-pc", "--pretrained_checkpoint"],
      required: true,
      help: "[REQUIRED] Path to the pretrained checkpoint <CKPT>.pth of an nnssl pretraining, or https://huggingface.co/<org>/<repo>.",
    },
    {
      flags: ["-am", "--adaptation_mode"],
      default: "default_nnunet",
      choices: ADAPTATION_MODES,
      help: "[OPTIONAL] How to choose the target spacing given the pretrained config.",
    },
    {
      flags: ["-os", "--override_spacing"],
      type: "float",
      gt: 0,
      nargs: "+",
      help: "[OPTIONAL] Target spacing (3 numbers, transposed axis order) for -am fixed.",
    },
    { flags: ["-np"], type: "int", min: 1, default: 4, help: "[OPTIONAL] Number of worker threads." },
    { flags: ["--verbose"], action: "store_true", help: "Print a lot of stuff. Disables the progress bar." },
    { flags: ["--overwrite_pp"], action: "store_true", help: "Redo the preprocessing even for cases that were already preprocessed." },
    {
      flags: ["--pp_format"],
      default: "npy",
      choices: ["npy", "npz"],
      help: "[OPTIONAL] How preprocessed cases are stored: npy (<case>.npy, _seg.npy, .json; default) or npz (<case>.npz + .pkl, the layout Python nnU-Net master's numpy dataset class loads).",
    },
  ],
};

export async function run(args: Record<string, any>): Promise<void> {
  const os = args.override_spacing as number[] | undefined;
  if (os && os.length !== 3) {
    throw new UsageError(spec.prog, `argument -os/--override_spacing: expected 3 values (one per axis, transposed order), got ${os.length}`);
  }
  const verbose = args.verbose as boolean;
  const progress = terminalProgress();
  try {
    const res = await preprocessLikeNnssl(args.d as number, args.pretrained_checkpoint as string, {
      name: args.pretraining_name as string,
      mode: args.adaptation_mode as AdaptationMode,
      overrideSpacing: (args.override_spacing as number[] | undefined) ?? null,
      numWorkers: args.np as number,
      overwrite: args.overwrite_pp as boolean,
      format: args.pp_format as "npy" | "npz",
      onProgress: verbose ? undefined : progress,
      log: (line) => process.stdout.write(line + "\n"),
    });
    progress.stop();
    if (verbose) process.stdout.write(res.cases.toMarkdown({ limit: Infinity }) + "\n");
    const skipped = (res.cases.objects() as { skipped: boolean }[]).filter((r) => r.skipped).length;
    process.stdout.write(
      `wrote ${res.plansFile} (${res.cases.numRows()} case(s), ${skipped} already preprocessed)\n` +
        `next: nnUNetv2_train_pretrained ${args.d} 3d_fullres FOLD -p ${res.plansName}\n`,
    );
  } finally {
    progress.stop();
  }
}
