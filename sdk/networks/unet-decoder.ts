// dynamic_network_architectures building_blocks/unet_decoder.py. The encoder is registered again as
// `decoder.encoder`, so its weights appear twice in the state dict, exactly like upstream.

import { tf } from "../backend/index.js";
import { recomputed, stageVariables } from "./checkpointing.js";
import { Conv, StackedConvBlocks, TransposedConv } from "./conv-blocks.js";
import { release } from "./layers.js";
import { Module, ModuleList, ParamFactory } from "./module.js";
import type { UNetEncoder } from "./residual-encoder.js";

export class UNetDecoder extends Module {
  readonly stages: ModuleList<StackedConvBlocks>;
  readonly transpconvs: ModuleList<TransposedConv>;
  readonly segLayers: ModuleList<Conv>;

  constructor(
    f: ParamFactory,
    encoder: UNetEncoder,
    numClasses: number,
    nConvPerStage: number[],
    public deepSupervision: boolean,
  ) {
    super();
    this.addChild("encoder", encoder);
    const ch = encoder.outputChannels;
    const n = ch.length;
    const ones = encoder.kernelSizes[0]!.map(() => 1);
    const stages: StackedConvBlocks[] = [];
    const transpconvs: TransposedConv[] = [];
    const segLayers: Conv[] = [];
    for (let s = 1; s < n; s++) {
      const below = ch[n - s]!;
      const skip = ch[n - s - 1]!;
      const stride = encoder.strides[n - s]!;
      transpconvs.push(new TransposedConv(f, below, skip, stride, encoder.ops.convBias));
      stages.push(new StackedConvBlocks(f, encoder.ops, nConvPerStage[s - 1]!, 2 * skip, skip, encoder.kernelSizes[n - s - 1]!, ones));
      // All seg layers are built even without deep supervision, so any state dict loads either way.
      segLayers.push(new Conv(f, skip, numClasses, ones, ones, true));
    }
    this.stages = this.addChild("stages", new ModuleList(stages));
    this.transpconvs = this.addChild("transpconvs", new ModuleList(transpconvs));
    this.segLayers = this.addChild("seg_layers", new ModuleList(segLayers));
  }

  /**
   * Skips highest resolution first; returns the segmentation outputs highest resolution first. Takes ownership of
   * `skips`: each is freed right after its last use, as is every intermediate, so the full-resolution features are
   * never held twice (inference at nnU-Net's large patches is bounded by this).
   */
  forward(skips: tf.Tensor[], recompute = false): tf.Tensor[] {
    let lres = skips[skips.length - 1]!;
    const outs: tf.Tensor[] = [];
    const last = this.stages.items.length - 1;
    this.stages.items.forEach((stage, s) => {
      const transpconv = this.transpconvs.items[s]!;
      const skip = skips[skips.length - s - 2]!;
      // Upsampled features first, then the skip: the channel order the trained weights expect.
      const upAndConcat = (low: tf.Tensor, high: tf.Tensor, consume: boolean): tf.Tensor => {
        const up = transpconv.forward(low);
        if (consume) release(low);
        const cat = tf.concat([up, high], -1);
        release(up);
        if (consume) release(high);
        return stage.forward(cat, true);
      };
      let x: tf.Tensor;
      if (recompute) {
        x = recomputed((low, high) => upAndConcat(low!, high!, false), [lres, skip], stageVariables(transpconv, stage));
        release(lres);
        release(skip);
      } else x = upAndConcat(lres, skip, true);
      if (this.deepSupervision || s === last) outs.push(this.segLayers.items[s]!.forward(x));
      lres = x;
    });
    release(lres);
    return outs.reverse();
  }
}
