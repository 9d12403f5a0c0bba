// Instance norm (+ LeakyReLU/ReLU) as one tfjs op with its own gradient, for backends that register the two fused
// kernels below (`cpu-onednn`: native/src/instance-norm.cc). Composed from tfjs ops, a U-Net's conv -> norm -> act
// costs about 8 full-tensor passes forward and 15 backward; fused it is 2 and 2, which is most of a CPU training step's
// time outside the convolutions. Other backends keep the composed ops (sdk/networks/layers.ts decides).

import * as tf from "@tensorflow/tfjs";

/** Inputs x [N, ...spatial, C], gamma [C], beta [C]; attrs eps, slope (NaN: no activation); outputs y, mean [N, C], rstd [N, C]. */
export const INSTANCE_NORM = "NnsslInstanceNorm";
/** Inputs dy, x, y, mean, rstd, gamma; attrs slope; outputs dx, dgamma [C], dbeta [C]. */
export const INSTANCE_NORM_GRAD = "NnsslInstanceNormGrad";

/** Whether the active backend runs the fused kernels. */
export function hasFusedInstanceNorm(): boolean {
  return tf.getKernel(INSTANCE_NORM, tf.getBackend()) !== undefined;
}

/**
 * act(gamma * (x - mean) / sqrt(var + eps) + beta) with per-sample, per-channel statistics over the spatial axes
 * (biased variance, as torch.nn.InstanceNormNd), act = LeakyReLU(negativeSlope), ReLU for 0, none for null.
 * Differentiable in x, gamma and beta. Only call it when hasFusedInstanceNorm().
 */
export function fusedInstanceNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number, negativeSlope: number | null): tf.Tensor {
  const slope = negativeSlope ?? Number.NaN;
  const op = tf.customGrad((xs, g, b, save) => {
    const [y, mean, rstd] = tf
      .engine()
      .runKernel(INSTANCE_NORM, { x: xs as tf.Tensor, gamma: g as tf.Tensor, beta: b as tf.Tensor }, { eps, slope }) as tf.Tensor[];
    (save as tf.GradSaveFunc)([xs as tf.Tensor, y!, mean!, rstd!, g as tf.Tensor]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sy, sMean, sRstd, sGamma] = saved;
        return tf.engine().runKernel(INSTANCE_NORM_GRAD, { dy, x: sx!, y: sy!, mean: sMean!, rstd: sRstd!, gamma: sGamma! }, { slope }) as tf.Tensor[];
      },
    };
  });
  return op(x, gamma, beta);
}
