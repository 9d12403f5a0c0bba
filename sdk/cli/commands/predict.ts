// nnUNetv2_predict: upstream's predict_entry_point flags; the model folder is
// $nnUNet_results/DatasetXXX_Name/<-tr>__<-p>__<-c>.

import { UsageError, type ParserSpec } from "../argparse.js";
import { getOutputFolder } from "../../inference/model-folder.js";
import { COMMON_PREDICT_ARGS, runWithModelFolder } from "./predict-from-modelfolder.js";

export const spec: ParserSpec = {
  prog: "nnUNetv2_predict",
  description: "Run inference with a model trained on a dataset in $nnUNet_results.",
  args: [
    ...COMMON_PREDICT_ARGS.slice(0, 2),
    { flags: ["-d"], required: true, help: "Dataset with which you would like to predict. You can specify either dataset name or id" },
    { flags: ["-p"], default: "nnUNetPlans", help: "Plans identifier. Specify the plans in which the desired configuration is located." },
    { flags: ["-tr"], default: "nnUNetTrainer", help: "What nnU-Net trainer class was used for training?" },
    { flags: ["-c"], required: true, help: "nnU-Net configuration that should be used for prediction. Config must be located in the plans specified with -p" },
    ...COMMON_PREDICT_ARGS.slice(2),
    { flags: ["-num_parts"], type: "int", min: 1, default: 1, help: "Number of separate nnUNetv2_predict calls that you will be making." },
    { flags: ["-part_id"], type: "int", min: 0, default: 0, help: "If multiple nnUNetv2_predict exist, which one is this? IDs start with 0." },
  ],
};

export async function run(args: Record<string, any>): Promise<void> {
  if (args.part_id >= args.num_parts) {
    const range = `an integer between 0 and ${args.num_parts - 1} for -num_parts ${args.num_parts}`;
    throw new UsageError(spec.prog, `argument -part_id: invalid value: '${args.part_id}' (expected ${range})`);
  }
  const folder = await getOutputFolder({ dataset: args.d, trainer: args.tr, plans: args.p, configuration: args.c });
  await runWithModelFolder(folder, args, { numParts: args.num_parts, partId: args.part_id });
}
