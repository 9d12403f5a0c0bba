// nnUNetv2_plan_and_preprocess: fingerprint, planning and (unless --no_pp) preprocessing, with upstream's flags.

import type { ParserSpec } from "../argparse.js";
import { preprocess } from "../../preprocessing/preprocess.js";
import { terminalProgress } from "../progress.js";
import { DEFAULT_NUM_PROCESSES, extractFingerprints } from "./extract-fingerprint.js";
import { PLANNING_ARGS, planExperiments } from "./plan-experiment.js";

export const spec: ParserSpec = {
  prog: "nnUNetv2_plan_and_preprocess",
  args: [
    { flags: ["-d"], nargs: "+", type: "int", required: true, help: "[REQUIRED] List of dataset IDs. Example: 2 4 5." },
    {
      flags: ["-fpe"],
      default: "DatasetFingerprintExtractor",
      choices: ["DatasetFingerprintExtractor"],
      help: "[OPTIONAL] Name of the Dataset Fingerprint Extractor class.",
    },
    {
      flags: ["-npfp"],
      type: "int",
      min: 1,
      default: DEFAULT_NUM_PROCESSES,
      help: `[OPTIONAL] Number of processes used for fingerprint extraction. Default: ${DEFAULT_NUM_PROCESSES}`,
    },
    { flags: ["--verify_dataset_integrity"], action: "store_true", help: "[RECOMMENDED] set this flag to check the dataset integrity." },
    { flags: ["--no_pp"], action: "store_true", help: "[OPTIONAL] Set this to only run fingerprint extraction and experiment planning (no preprocessing)." },
    { flags: ["--clean"], action: "store_true", help: "[OPTIONAL] Set this flag to overwrite existing fingerprints." },
    ...PLANNING_ARGS,
    {
      flags: ["-c"],
      nargs: "+",
      default: ["2d", "3d_fullres", "3d_lowres"],
      help: "[OPTIONAL] Configurations for which the preprocessing should be run. Default: 2d 3d_fullres 3d_lowres.",
    },
    {
      flags: ["-np"],
      nargs: "+",
      type: "int",
      min: 1,
      default: null,
      help: "[OPTIONAL] Number of processes per configuration (one value, or one per configuration). Default: 2d 8, 3d_fullres 4, 3d_lowres 8, others 4.",
    },
    {
      flags: ["--pp_format"],
      default: "npy",
      choices: ["npy", "npz"],
      help: "[OPTIONAL] How preprocessed cases are stored: npy (<case>.npy, _seg.npy, .json; default) or npz (<case>.npz + .pkl, the layout Python nnU-Net master's numpy dataset class loads).",
    },
    { flags: ["--verbose"], action: "store_true", help: "Set this to print a lot of stuff. Useful for debugging." },
  ],
};

export async function run(args: Record<string, any>): Promise<void> {
  process.stdout.write("Fingerprint extraction...\n");
  await extractFingerprints(args.d, args.npfp, args.verify_dataset_integrity, args.clean);
  process.stdout.write("Experiment planning...\n");
  const plansName = await planExperiments(args.d, args);
  if (args.no_pp) return;
  const defaults: Record<string, number> = { "2d": 8, "3d_fullres": 4, "3d_lowres": 8 };
  const np: number[] = args.np ?? (args.c as string[]).map((c) => defaults[c] ?? 4);
  process.stdout.write("Preprocessing...\n");
  for (const id of args.d as number[]) {
    const progress = terminalProgress();
    try {
      await preprocess(id, {
        plansName,
        configurations: args.c,
        numWorkers: np,
        format: args.pp_format,
        onProgress: progress,
        log: (l) => process.stdout.write(`${l}\n`),
      });
    } finally {
      progress.stop();
    }
  }
}
