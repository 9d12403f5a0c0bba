// PretrainedTrainer.load_pretrained_weights as the trainer calls it: the checkpoint path comes from
// plans.pretrain_info.checkpoint_path (or -overwrite_ckpt_path); the key mapping from pretrain_info, overridden by the
// checkpoint's own nnssl_adaptation_plan fields where present (key_to_stem, key_to_encoder, keys_to_in_proj,
// key_to_lpe, pretrain_patch_size), as load_pretrained_weights does.

import { loadTorchFile } from "../io/torch/index.js";
import { CheckpointError, ConfigError } from "../errors.js";
import type { Network } from "../networks/network.js";
import { loadPretrainedWeights, type PretrainedCheckpoint, type TransferReport } from "../networks/pretrained.js";
import type { TensorLike } from "../networks/state-dict.js";

/** plans["pretrain_info"] as preprocess_like_nnssl writes it. */
export interface PretrainInfo {
  checkpoint_path: string | null;
  checkpoint_name?: string;
  key_to_encoder: string;
  key_to_stem: string;
  keys_to_in_proj: string[];
  key_to_lpe: string | null;
  pt_num_in_channels: number;
  pt_used_patchsize?: number[];
  pt_recommended_downstream_patchsize?: number[];
  citations?: unknown[];
}

const get = (o: unknown, k: string): unknown => (o instanceof Map ? o.get(k) : o && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined);

/** Reads the checkpoint and builds what loadPretrainedWeights takes. */
export async function readPretrainedCheckpoint(file: string, info: PretrainInfo | null): Promise<PretrainedCheckpoint> {
  const ck = await loadTorchFile(file);
  const weights = get(ck, "network_weights");
  if (!weights || typeof weights !== "object") throw new CheckpointError("no network_weights in the pretrained checkpoint", { file });
  const plan = (get(ck, "nnssl_adaptation_plan") ?? {}) as Record<string, unknown>;
  const pick = <T>(k: string, fallback: T): T => (plan[k] !== undefined && plan[k] !== null ? (plan[k] as T) : fallback);
  const keyToEncoder = pick("key_to_encoder", info?.key_to_encoder);
  const keyToStem = pick("key_to_stem", info?.key_to_stem);
  if (!keyToEncoder || !keyToStem)
    throw new CheckpointError("neither the checkpoint's nnssl_adaptation_plan nor plans pretrain_info name the encoder/stem keys", { file });
  const ptPatch = pick<number[] | null>("pretrain_patch_size", info?.pt_used_patchsize ?? null);
  return {
    path: file,
    adaptationPlan: {
      architecture_plans: (plan.architecture_plans as { arch_class_name?: string } | undefined) ?? null,
      pretrain_plan: (plan.pretrain_plan as PretrainedCheckpoint["adaptationPlan"]["pretrain_plan"]) ?? null,
      pretrain_num_input_channels: pick("pretrain_num_input_channels", info?.pt_num_in_channels ?? 1),
      key_to_encoder: keyToEncoder,
      key_to_stem: keyToStem,
      keys_to_in_proj: [...pick<string[]>("keys_to_in_proj", info?.keys_to_in_proj ?? [])],
      key_to_lpe: pick<string | null>("key_to_lpe", info?.key_to_lpe ?? null),
      pretrain_patch_size: ptPatch ? [...ptPatch] : null,
      // read by the dynamic transfer only (master's DynamicPretrainedTrainer)
      ...(plan.architecture_kwargs !== undefined ? { architecture_kwargs: plan.architecture_kwargs } : {}),
    },
    weights: weights instanceof Map ? (weights as Map<string, TensorLike>) : new Map(Object.entries(weights as Record<string, TensorLike>)),
  };
}

/** Loads the pretrained encoder/stem into `net`; the checkpoint path must be set (plans or -overwrite_ckpt_path). */
export async function loadPretrainedFromPlans(
  net: Network,
  info: PretrainInfo | null,
  checkpointPath: string | null,
  { numInputChannels, patchSize }: { numInputChannels: number; patchSize: number[] },
): Promise<TransferReport> {
  const file = checkpointPath ?? info?.checkpoint_path ?? null;
  if (!file)
    throw new ConfigError("plans have no pretrain_info.checkpoint_path: pass -overwrite_ckpt_path PATH, or --from_scratch to train without pretrained weights");
  return loadPretrainedWeights(net, await readPretrainedCheckpoint(file, info), { numInputChannels, patchSize });
}
