// get_output_folder of nnU-Net: where a trained model lives, $nnUNet_results/DatasetXXX_Name/<trainer>__<plans>__<configuration>.

import type { Paths } from "../config/env.js";
import { modelFolder } from "../config/folders.js";
import { maybeConvertToDatasetName } from "../dataset/raw.js";

export interface ModelSpec {
  /** Dataset id (4), "4" or "Dataset004_Hippocampus". */
  dataset: number | string;
  trainer?: string;
  plans?: string;
  configuration?: string;
  paths?: Paths;
}

/** The model folder of a trained configuration (upstream's get_output_folder without a fold). */
export async function getOutputFolder({
  dataset,
  trainer = "nnUNetTrainer",
  plans = "nnUNetPlans",
  configuration = "3d_fullres",
  paths = {},
}: ModelSpec): Promise<string> {
  const name = await maybeConvertToDatasetName(dataset, paths);
  return modelFolder(name, trainer, plans, configuration, paths);
}
