// `nnssl-adapt checkpoint transfer`: builds the network a trainer would build for a plans file and dataset, loads the
// pretrained weights named in the plans' pretrain_info exactly as that trainer would, trains nothing, and reports every
// state-dict entry (source, float64 sum, first values) so the transfer can be compared with PyTorch's.

import * as path from "node:path";
import { requirePath, type Paths } from "../config/env.js";
import { ConfigError } from "../errors.js";
import { loadDatasetJson, maybeConvertToDatasetName, channelNames } from "../dataset/raw.js";
import { LabelManager } from "../dataset/labels.js";
import type { WeightTransferReport, TransferSource } from "../networks/dynamic-transfer.js";
import { loadPlans, resolveConfiguration } from "../planning/plans.js";
import type { PretrainInfo } from "./pretrained-weights.js";
import { applyTrainerPlanOverrides, buildTrainerNetwork, loadTrainerWeights } from "./trainer-network.js";
import { resolveTrainer } from "./trainers.js";

export interface CheckpointTransferOptions {
  /** Dataset id, "123" or "Dataset123_Name". */
  dataset: number | string;
  /** Plans identifier (file name without .json), e.g. ptPlans_dynamic__MyMAE. */
  plans: string;
  /** Default 3d_fullres. */
  configuration?: string;
  /** Default PretrainedTrainer. */
  trainer?: string;
  /** Seed of the initial weights of everything not transferred (default 0). */
  seed?: number;
  paths?: Paths;
}

/** One state-dict entry in the stable `--json` form. */
export interface TransferTensorJson {
  name: string;
  shape: number[];
  source: TransferSource;
  /** Sum of all values in float64. */
  sum: number;
  /** The first (up to) 3 values in PyTorch's C order. */
  first: number[];
}

export interface CheckpointTransferResult {
  trainer: string;
  /** pretrain_info.checkpoint_path as the plans store it (relative paths resolve against the working directory). */
  checkpoint: string;
  report: WeightTransferReport;
  tensors: TransferTensorJson[];
}

/**
 * Builds the trainer's network for `plans` and loads the pretrained weights into it, without training.
 * @example
 * const r = await checkpointTransfer({ dataset: 900, plans: "ptPlans_dynamic__MAE", trainer: "DynamicPretrainedTrainer" });
 * console.log(r.report.toString());
 */
export async function checkpointTransfer(o: CheckpointTransferOptions): Promise<CheckpointTransferResult> {
  const configuration = o.configuration ?? "3d_fullres";
  const spec = resolveTrainer(o.trainer ?? "PretrainedTrainer");
  if (!spec.usesPretrainedWeights) throw new ConfigError(`-tr ${spec.name} trains from scratch and loads no pretrained weights`);
  const pre = requirePath("nnUNet_preprocessed", o.paths);
  const datasetName = await maybeConvertToDatasetName(o.dataset, o.paths);
  const plansFile = path.join(pre, datasetName, `${o.plans}.json`);
  const plans = await loadPlans(plansFile);
  const info = (plans.pretrain_info ?? null) as PretrainInfo | null;
  if (!info?.checkpoint_path)
    throw new ConfigError("the plans have no pretrain_info.checkpoint_path (use plans from nnUNetv2_preprocess_like_nnssl or nnUNetv2_plan_like_dynamic)", {
      file: plansFile,
    });
  if (!(configuration in plans.configurations)) {
    throw new ConfigError(`configuration ${configuration} not in plans (available: ${Object.keys(plans.configurations).join(", ")})`, { file: plansFile });
  }
  const cfg = resolveConfiguration(plans, configuration);
  applyTrainerPlanOverrides(spec, plans, cfg, configuration);
  const datasetJsonFile = path.join(pre, datasetName, "dataset.json");
  const datasetJson = await loadDatasetJson(datasetJsonFile);
  const lm = new LabelManager(datasetJson.labels, datasetJson.regions_class_order ?? null, { file: datasetJsonFile });
  const inputChannels = Object.keys(channelNames(datasetJson)).length;
  const strides = (cfg.architecture?.arch_kwargs as { strides?: number[][] } | null | undefined)?.strides;
  const deepSupervision = spec.enableDeepSupervision && Array.isArray(strides) && strides.length > 1;
  const patch = [...cfg.patch_size];
  const net = buildTrainerNetwork(spec, cfg.architecture as never, {
    inputChannels,
    numClasses: lm.numSegmentationHeads,
    deepSupervision,
    patchSize: patch,
    seed: o.seed ?? 0,
  });
  try {
    const report = await loadTrainerWeights(spec, net, info, cfg.architecture as never, { numInputChannels: inputChannels, patchSize: patch });
    const source = new Map(report.tensors.map((t) => [t.name, t.source]));
    const tensors: TransferTensorJson[] = [];
    for (const [name, t] of net.stateDict()) {
      const v = t.toFloat32();
      let sum = 0;
      for (let i = 0; i < v.length; i++) sum += v[i]!;
      tensors.push({ name, shape: [...t.shape], source: source.get(name) ?? "init", sum, first: Array.from(v.subarray(0, 3)) });
    }
    return { trainer: spec.name, checkpoint: info.checkpoint_path, report, tensors };
  } finally {
    net.dispose();
  }
}
