// The networks the CPU benches build, as the architecture block nnU-Net's planners write (sdk/planning/plans.ts).
import { unetArchitecture } from "../../../dist/sdk/planning/plans.js";

/** A 3-D ResidualEncoderUNet with 3^3 kernels, stride 1 in the first stage and 2 below, one decoder conv per stage. */
export function resEncArch(features, blocks) {
  return unetArchitecture(
    "dynamic_network_architectures.architectures.unet.ResidualEncoderUNet",
    3,
    features,
    features.map(() => [3, 3, 3]),
    features.map((_, i) => (i === 0 ? [1, 1, 1] : [2, 2, 2])),
    { n_blocks_per_stage: blocks },
    features.slice(1).map(() => 1),
  );
}
