// Gradients tfjs 4.22 lacks but nnU-Net training needs, registered for every backend.
// Conv3DBackpropInputV2 is the kernel behind tf.conv3dTranspose (the decoder's upsampling "transpconv"); tfjs ships
// its 2D twin's gradient (Conv2DBackpropInput_grad) but not this one, so without it tf.grad through a U-Net decoder
// throws "gradient function not found". This mirrors the 2D one: conv_transpose's adjoint is the forward conv.

import * as tf from "@tensorflow/tfjs";

type Triple = number | [number, number, number];

/** Registers the Conv3DBackpropInputV2 gradient unless tfjs (a newer version) or someone else already did. */
export function registerConv3dTransposeGradient(): void {
  if (tf.getGradient("Conv3DBackpropInputV2")) return;
  tf.registerGradient({
    kernelName: "Conv3DBackpropInputV2",
    inputsToSave: ["dy", "filter"],
    gradFunc: (ddx, saved, attrs) => {
      const [dy, filter] = saved as [tf.Tensor5D, tf.Tensor5D];
      const { strides, pad } = attrs as unknown as { strides: Triple; pad: "valid" | "same" };
      const ddx5 = ddx as tf.Tensor5D;
      return {
        dy: () => tf.conv3d(ddx5, filter, strides, pad),
        filter: () => tf.engine().runKernel("Conv3DBackpropFilterV2", { x: ddx5, dy }, { strides, pad, filterShape: filter.shape }) as tf.Tensor,
      };
    },
  });
}
