// Small networks and losses that several test files build. The op block is what nnU-Net writes into every 3-D plan's
// arch_kwargs (Conv3d with bias, affine InstanceNorm3d, LeakyReLU), so the networks are the ones real plans give, only
// smaller.
import { tf } from "../../sdk/backend/index.js";
import type { Network } from "../../sdk/networks/index.js";
import type { ArchitecturePlan } from "../../sdk/planning/plans.js";

export const OPS_3D = {
  conv_op: "torch.nn.modules.conv.Conv3d",
  conv_bias: true,
  norm_op: "torch.nn.modules.instancenorm.InstanceNorm3d",
  norm_op_kwargs: { eps: 1e-5, affine: true },
  dropout_op: null,
  dropout_op_kwargs: null,
  nonlin: "torch.nn.LeakyReLU",
  nonlin_kwargs: { inplace: true },
};

/** A two-stage ResidualEncoderUNet with 2 and 4 features: the smallest network with an encoder, a decoder and a skip. */
export function tinyResEncArch(kernelSizes: number[][], strides: number[][]): ArchitecturePlan {
  return {
    network_class_name: "dynamic_network_architectures.architectures.unet.ResidualEncoderUNet",
    arch_kwargs: {
      ...OPS_3D,
      n_stages: 2,
      features_per_stage: [2, 4],
      kernel_sizes: kernelSizes,
      strides,
      n_blocks_per_stage: [1, 1],
      n_conv_per_stage_decoder: [1],
    },
    _kw_requires_import: ["conv_op", "norm_op", "dropout_op", "nonlin"],
  };
}

/** A loss that reaches every output: a fixed random projection of each (so no gradient cancels by symmetry). */
export function randomProjectionLoss(net: Network, x: tf.Tensor): tf.Scalar {
  const outs = net.forward(x);
  const list = Array.isArray(outs) ? outs : [outs];
  return tf.addN(list.map((o, i) => tf.sum(tf.mul(o, tf.randomNormal(o.shape, 0, 1, "float32", 100 + i))))) as tf.Scalar;
}
