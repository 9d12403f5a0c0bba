// A small PrimusX checkpoint in nnssl's released layout (network_weights, nnssl_adaptation_plan, init_args,
// trainer_name, citations), shaped like nnssl's BaseEvaMAETrainerPrimusX writes it: arch_class_name "PrimusX" with
// explicit arch_kwargs (embed_dim, patch_embed_size, encoder_eva_depth, encoder_eva_numheads, init_values,
// scale_attn_inner, ...), keys eva / down_projection / eva.pos_embed. The weights are a seeded Primus of that size
// plus the EvaMAE extras a pretraining checkpoint has (mask_token), written with our pickle writer.

import { PyTuple, saveTorchFile, TorchTensor } from "../../../sdk/io/torch/index.js";
import { ParamFactory } from "../../../sdk/networks/module.js";
import { Primus } from "../../../sdk/networks/primus.js";

export const PRIMUSX_KWARGS = {
  input_channels: 1,
  embed_dim: 48,
  patch_embed_size: [8, 8, 8],
  output_channels: 1,
  input_shape: [32, 32, 32],
  encoder_eva_depth: 2,
  encoder_eva_numheads: 2,
  decoder_eva_depth: 1,
  decoder_eva_numheads: 2,
  patch_drop_rate: 0.75,
  drop_path_rate: 0.2,
  attn_drop_rate: 0.0,
  init_values: [0.1],
  scale_attn_inner: true,
};

/** Writes the checkpoint to `file`; returns its network_weights (PyTorch names and shapes). */
export async function writePrimusxCheckpoint(file: string, seed = 11): Promise<Map<string, TorchTensor>> {
  const net = new Primus(
    new ParamFactory(seed),
    {
      inputChannels: 1,
      numClasses: 1,
      embedDim: 48,
      patchEmbedSize: [8, 8, 8],
      depth: 2,
      numHeads: 2,
      inputShape: [32, 32, 32],
      mlpRatio: 8 / 3,
      initValues: 0.1,
      scaleAttnInner: true,
      useRotPosEmb: true,
      useAbsPosEmbed: true,
      dropPathRate: 0,
    },
    "Primus",
  );
  const weights = net.stateDict();
  net.dispose();
  const mask = new Float32Array(48).map((_, i) => Math.fround(Math.sin(i)));
  weights.set("mask_token", TorchTensor.fromTypedArray(mask, [1, 1, 48]));
  const plan = {
    architecture_plans: {
      arch_class_name: "PrimusX",
      arch_kwargs: { ...PRIMUSX_KWARGS, patch_embed_size: PyTuple.ofItems([8, 8, 8]), input_shape: PyTuple.ofItems([32, 32, 32]) },
      arch_kwargs_requiring_import: null,
    },
    pretrain_plan: {
      dataset_name: "Dataset745_PrimusXMini",
      plans_name: "nnsslPlans",
      original_median_spacing_after_transp: [1, 1, 1],
      image_reader_writer: "SimpleITKIO",
      transpose_forward: [0, 1, 2],
      transpose_backward: [0, 1, 2],
      configurations: {
        onemmiso: {
          data_identifier: "nnsslPlans_onemmiso",
          preprocessor_name: "DefaultPreprocessor",
          spacing_style: "onemmiso",
          normalization_schemes: ["ZScoreNormalization"],
          use_mask_for_norm: [false],
          resampling_fn_data: "resample_data_or_seg_to_shape",
          resampling_fn_data_kwargs: { is_seg: false, order: 3, order_z: 0, force_separate_z: null },
          resampling_fn_mask: "resample_data_or_seg_to_shape",
          resampling_fn_mask_kwargs: { is_seg: true, order: 1, order_z: 0, force_separate_z: null },
          spacing: [1, 1, 1],
          patch_size: [32, 32, 32],
        },
      },
      experiment_planner_used: "ExperimentPlanner",
    },
    pretrain_num_input_channels: 1,
    recommended_downstream_patchsize: [32, 32, 32],
    key_to_encoder: "eva",
    key_to_stem: "down_projection",
    keys_to_in_proj: PyTuple.ofItems(["down_projection.proj"]),
    key_to_lpe: "eva.pos_embed",
  };
  await saveTorchFile(file, {
    network_weights: weights,
    nnssl_adaptation_plan: plan,
    init_args: { fold: 0 },
    trainer_name: "BaseEvaMAETrainerPrimusX_test",
    citations: [
      {
        type: "Architecture",
        name: "Primus",
        apa_citations: [
          "Wald, T., Roy, S., Isensee, F., et al. (2025). Primus: Enforcing attention usage for 3D medical image segmentation. arXiv:2503.01835.",
        ],
      },
    ],
  });
  return weights;
}
