// ptPlans for the synthetic training dataset (helpers/synthetic-dataset.ts) plus a small nnssl-style pretraining
// checkpoint for them: a 1-channel network of the same architecture (ResidualEncoderUNet, or a tiny Primus) whose
// state dict is saved with an nnssl_adaptation_plan, so the PretrainedTrainer family loads it like a real one
// (including the 1 -> 2 input-channel repeat).

import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { buildNetwork } from "../../../sdk/networks/build-network.js";
import { orderedDict } from "../../../sdk/io/torch/index.js";
import { saveTorchFile } from "../../../sdk/io/torch/save.js";
import type { SyntheticDataset } from "./synthetic-dataset.js";

export const PRIMUS_ARCH = {
  network_class_name: "dynamic_network_architectures.architectures.primus.Primus",
  arch_kwargs: { embed_dim: 24, patch_embed_size: [4, 4, 4], eva_depth: 2, eva_numheads: 2 },
  _kw_requires_import: [],
};

/** Writes `<plansName>.json` (a copy of nnUNetPlans.json with pretrain_info) and its checkpoint; returns the plans name. */
export async function writePretrainedPlans(ds: SyntheticDataset, kind: "ResEnc" | "Primus"): Promise<string> {
  const base = path.join(ds.paths.nnUNet_preprocessed, ds.datasetName);
  const plans = JSON.parse(readFileSync(path.join(base, "nnUNetPlans.json"), "utf8"));
  const cfg = plans.configurations["3d_fullres"];
  if (kind === "Primus") cfg.architecture = PRIMUS_ARCH;
  const name = `ptPlans__Synth${kind}`;
  plans.plans_name = name;
  const patch: number[] = cfg.patch_size;
  const net = buildNetwork(cfg.architecture, { inputChannels: 1, numClasses: 2, deepSupervision: false, patchSize: patch, seed: 99 });
  const keys = net.transferKeys;
  const adaptation = {
    architecture_plans: { arch_class_name: kind === "Primus" ? "Primus" : "ResidualEncoderUNet", arch_kwargs: cfg.architecture.arch_kwargs },
    pretrain_plan: { configurations: { onemmiso: { patch_size: patch, spacing: [1, 1, 1] } } },
    pretrain_num_input_channels: 1,
    recommended_downstream_patchsize: patch,
    pretrain_patch_size: patch,
    key_to_encoder: keys.keyToEncoder,
    key_to_stem: keys.keyToStem,
    keys_to_in_proj: keys.keysToInProj,
    key_to_lpe: keys.keyToLpe,
  };
  const ckpt = path.join(ds.root, `pretrained_${kind}.pth`);
  await saveTorchFile(ckpt, { network_weights: orderedDict(Object.fromEntries(net.stateDict())), nnssl_adaptation_plan: adaptation });
  net.dispose();
  plans.pretrain_info = {
    checkpoint_path: ckpt,
    checkpoint_name: `Synth${kind}`,
    key_to_encoder: keys.keyToEncoder,
    key_to_stem: keys.keyToStem,
    keys_to_in_proj: keys.keysToInProj,
    key_to_lpe: keys.keyToLpe,
    pt_num_in_channels: 1,
    pt_used_patchsize: patch,
    pt_recommended_downstream_patchsize: patch,
    citations: [],
  };
  writeFileSync(path.join(base, `${name}.json`), JSON.stringify(plans, null, 4));
  return name;
}
