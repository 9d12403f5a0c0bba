// compute_conv_feature_map_size of dynamic_network_architectures' PlainConvUNet and ResidualEncoderUNet, evaluated
// analytically: the sum of the output element counts of every convolution for one input patch. The planner uses it as
// its VRAM estimate; no network is built (deep supervision off, as the planner instantiates it).

import type { ArchKwargs } from "./plans.js";

const div = (size: readonly number[], stride: readonly number[]) => size.map((s, i) => Math.floor(s / stride[i]!));
const numel = (c: number, size: readonly number[]) => size.reduce((p, s) => p * s, c);

/** UNetDecoder.compute_conv_feature_map_size with deep supervision off. */
function decoderSize(a: ArchKwargs, patch: readonly number[], numClasses: number): number {
  const skipSizes: number[][] = [];
  let size = [...patch];
  for (let s = 0; s < a.strides.length - 1; s++) {
    size = div(size, a.strides[s]!);
    skipSizes.push(size);
  }
  const nStages = a.n_stages - 1;
  let out = 0;
  for (let s = 0; s < nStages; s++) {
    const skip = skipSizes[skipSizes.length - 1 - s]!;
    const channels = a.features_per_stage[a.features_per_stage.length - 2 - s]!;
    out += a.n_conv_per_stage_decoder[s]! * numel(channels, skip); // stacked convs (stride 1)
    out += numel(channels, skip); // transposed conv
    if (s === nStages - 1) out += numel(numClasses, skip); // segmentation head, full resolution only
  }
  return out;
}

function plainEncoderSize(a: ArchKwargs, patch: readonly number[]): number {
  let out = 0;
  let size = [...patch];
  for (let s = 0; s < a.n_stages; s++) {
    const after = div(size, a.strides[s]!);
    out += a.n_conv_per_stage![s]! * numel(a.features_per_stage[s]!, after);
    size = after;
  }
  return out;
}

function residualEncoderSize(a: ArchKwargs, patch: readonly number[]): number {
  let out = numel(a.features_per_stage[0]!, patch); // stem
  let size = [...patch];
  let inChannels = a.features_per_stage[0]!;
  for (let s = 0; s < a.n_stages; s++) {
    const c = a.features_per_stage[s]!;
    const after = div(size, a.strides[s]!);
    for (let b = 0; b < a.n_blocks_per_stage![s]!; b++) {
      const input = b === 0 ? size : after;
      const cin = b === 0 ? inChannels : c;
      // BasicBlockD: conv1 + conv2, plus the 1x1 skip projection when channels or size change.
      const projects = cin !== c || input.some((v, i) => v !== after[i]);
      out += (projects ? 3 : 2) * numel(c, after);
    }
    size = after;
    inChannels = c;
  }
  return out;
}

/**
 * The planner's VRAM estimate for `networkClassName` with `archKwargs` at `patchSize`.
 * Matches `net.compute_conv_feature_map_size(patch_size)` (values from upstream: test/planning/network-topology.test.ts).
 */
export function computeConvFeatureMapSize(networkClassName: string, archKwargs: ArchKwargs, patchSize: readonly number[], numClasses: number): number {
  const name = networkClassName.split(".").pop();
  if (name === "PlainConvUNet") return plainEncoderSize(archKwargs, patchSize) + decoderSize(archKwargs, patchSize, numClasses);
  if (name === "ResidualEncoderUNet") return residualEncoderSize(archKwargs, patchSize) + decoderSize(archKwargs, patchSize, numClasses);
  throw new RangeError(`no VRAM estimate for network class ${networkClassName}`);
}
