// dynamic_network_architectures building_blocks/plain_conv_encoder.py (pool="conv": strided first conv per stage).

import { tf } from "../backend/index.js";
import { recomputed, stageVariables } from "./checkpointing.js";
import { StackedConvBlocks, type ConvOps } from "./conv-blocks.js";
import { Module, ModuleList, ParamFactory } from "./module.js";
import type { EncoderConfig, UNetEncoder } from "./residual-encoder.js";

/** Each stage is `Sequential(StackedConvBlocks)`, hence keys like `encoder.stages.0.0.convs.0.conv.weight`. */
export class PlainConvEncoder extends Module implements UNetEncoder {
  readonly stages: ModuleList<ModuleList<StackedConvBlocks>>;
  readonly outputChannels: number[];
  readonly kernelSizes: number[][];
  readonly strides: number[][];

  constructor(
    f: ParamFactory,
    readonly ops: ConvOps,
    cfg: EncoderConfig,
  ) {
    super();
    let cin = cfg.inputChannels;
    const stages: ModuleList<StackedConvBlocks>[] = [];
    cfg.featuresPerStage.forEach((cout, s) => {
      stages.push(new ModuleList([new StackedConvBlocks(f, ops, cfg.perStage[s]!, cin, cout, cfg.kernelSizes[s]!, cfg.strides[s]!)]));
      cin = cout;
    });
    this.stages = this.addChild("stages", new ModuleList(stages));
    this.outputChannels = [...cfg.featuresPerStage];
    this.kernelSizes = cfg.kernelSizes;
    this.strides = cfg.strides;
  }

  /** The stage outputs; the caller owns them (the decoder frees each after its last use). */
  forward(x: tf.Tensor, recompute = false): tf.Tensor[] {
    let y = x;
    const skips: tf.Tensor[] = [];
    for (const s of this.stages.items) {
      const blocks = s.items[0]!;
      skips.push((y = recompute ? recomputed((t) => blocks.forward(t), [y], stageVariables(blocks)) : blocks.forward(y)));
    }
    return skips;
  }
}
