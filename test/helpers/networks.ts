// Small networks and losses that several test files build. The architecture blocks come from the function nnU-Net's
// planners use (sdk/planning/plans.ts), so the networks are the ones real plans give, only smaller.
import { tf } from "../../sdk/backend/index.js";
import type { Network } from "../../sdk/networks/index.js";
import { unetArchitecture, type ArchitecturePlan } from "../../sdk/planning/plans.js";

const RESENC = "dynamic_network_architectures.architectures.unet.ResidualEncoderUNet";

/** A two-stage ResidualEncoderUNet with 2 and 4 features: the smallest network with an encoder, a decoder and a skip. */
export function tinyResEncArch(kernelSizes: number[][], strides: number[][]): ArchitecturePlan {
  return unetArchitecture(RESENC, 3, [2, 4], kernelSizes, strides, { n_blocks_per_stage: [1, 1] }, [1]);
}

/** The op keys of a 3-D plan's arch_kwargs (Conv3d with bias, affine InstanceNorm3d, LeakyReLU), to spread into others. */
export const OPS_3D = (({ conv_op, conv_bias, norm_op, norm_op_kwargs, dropout_op, dropout_op_kwargs, nonlin, nonlin_kwargs }) => ({
  conv_op,
  conv_bias,
  norm_op,
  norm_op_kwargs,
  dropout_op,
  dropout_op_kwargs,
  nonlin,
  nonlin_kwargs,
}))(unetArchitecture(RESENC, 3, [1], [[3, 3, 3]], [[1, 1, 1]], {}, []).arch_kwargs);

/** A loss that reaches every output: a fixed random projection of each (so no gradient cancels by symmetry). */
export function randomProjectionLoss(net: Network, x: tf.Tensor): tf.Scalar {
  const outs = net.forward(x);
  const list = Array.isArray(outs) ? outs : [outs];
  return tf.addN(list.map((o, i) => tf.sum(tf.mul(o, tf.randomNormal(o.shape, 0, 1, "float32", 100 + i))))) as tf.Scalar;
}
