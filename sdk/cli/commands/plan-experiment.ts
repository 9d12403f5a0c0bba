// nnUNetv2_plan_experiment: upstream's plan_experiment_entry flags (plan_and_preprocess_entrypoints.py).

import * as path from "node:path";
import type { ArgSpec, ParserSpec } from "../argparse.js";
import { openRawDataset } from "../../dataset/raw.js";
import { preprocessedDatasetFolder } from "../../config/folders.js";
import { planExperiment } from "../../planning/plan-experiment.js";
import { getPlanner } from "../../planning/planners.js";
import { ConfigError } from "../../errors.js";

export const PLANNING_ARGS: ArgSpec[] = [
  {
    flags: ["-pl"],
    default: "ExperimentPlanner",
    help: "[OPTIONAL] Name of the Experiment Planner class that should be used. Default is 'ExperimentPlanner'. Others: ResEncUNetPlanner, nnUNetPlannerResEncM, nnUNetPlannerResEncL, nnUNetPlannerResEncXL.",
  },
  {
    flags: ["-gpu_memory_target"],
    type: "float",
    gt: 0,
    default: null,
    help: "[OPTIONAL] DANGER ZONE! Sets a custom GPU memory target (in GB). Default: None (=Planner class default is used).",
  },
  {
    flags: ["-preprocessor_name"],
    default: "DefaultPreprocessor",
    help: "[OPTIONAL] DANGER ZONE! Sets a custom preprocessor class. Default: 'DefaultPreprocessor'.",
  },
  {
    flags: ["-overwrite_target_spacing"],
    nargs: "+",
    type: "float",
    gt: 0,
    default: null,
    help: "[OPTIONAL] DANGER ZONE! Sets a custom target spacing for the 3d_fullres and 3d_cascade_fullres configurations (3 floats, reader axis order).",
  },
  {
    flags: ["-overwrite_plans_name"],
    default: null,
    help: "[OPTIONAL] uSE A CUSTOM PLANS IDENTIFIER. If you used -gpu_memory_target, -preprocessor_name or -overwrite_target_spacing it is best practice to use -overwrite_plans_name to generate a differently named plans file.",
  },
];

export const spec: ParserSpec = {
  prog: "nnUNetv2_plan_experiment",
  args: [{ flags: ["-d"], nargs: "+", type: "int", required: true, help: "[REQUIRED] List of dataset IDs. Example: 2 4 5." }, ...PLANNING_ARGS],
};

/** plan_experiments(...): plans every dataset and returns the plans identifier. */
export async function planExperiments(ids: number[], args: Record<string, any>): Promise<string> {
  getPlanner(args.pl); // fail before touching any dataset
  if (args.pl === "ExperimentPlanner" && args.gpu_memory_target != null) {
    process.stdout.write(
      "\n############################\nINFO: You are using the old nnU-Net default planner. We have updated our recommendations. Please consider using those instead! Read more here: https://github.com/MIC-DKFZ/nnUNet/blob/master/documentation/resenc_presets.md\n############################\n\n",
    );
  }
  let plansName = "";
  for (const id of ids) {
    const ds = await openRawDataset(id);
    const plans = await planExperiment(ds, {
      planner: args.pl,
      gpuMemoryTargetInGb: args.gpu_memory_target ?? undefined,
      preprocessorName: args.preprocessor_name,
      overwriteTargetSpacing: args.overwrite_target_spacing ?? undefined,
      plansName: args.overwrite_plans_name ?? undefined,
    });
    for (const [name, c] of Object.entries(plans.configurations)) {
      if (c.inherits_from) continue;
      process.stdout.write(`${name}: patch_size [${c.patch_size}] batch_size ${c.batch_size} spacing [${c.spacing}]\n`);
    }
    process.stdout.write(`Plans were saved to ${path.join(preprocessedDatasetFolder(ds), `${plans.plans_name}.json`)}\n`);
    plansName = plans.plans_name;
  }
  return plansName;
}

export async function run(args: Record<string, any>): Promise<void> {
  if (args.overwrite_target_spacing && args.overwrite_target_spacing.length !== 3) {
    throw new ConfigError(`-overwrite_target_spacing needs 3 values, got ${args.overwrite_target_spacing.length}`);
  }
  await planExperiments(args.d, args);
}
