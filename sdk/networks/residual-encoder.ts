// dynamic_network_architectures building_blocks/residual.py (BasicBlockD, StackedResidualBlocks) and
// residual_encoders.py (ResidualEncoder with its default stem), with upstream's module names.

import { tf } from "../backend/index.js";
import { chain, ConvDropoutNormReLU, StackedConvBlocks, freeing, type ConvOps } from "./conv-blocks.js";
import { avgPoolNd, leakyRelu, release } from "./layers.js";
import { recomputed, stageVariables } from "./checkpointing.js";
import { Module, ModuleList, ParamFactory } from "./module.js";

/** Parameterless AvgPool (kernel = stride) that occupies `skip.0`. */
class AvgPool extends Module {
  constructor(readonly stride: number[]) {
    super();
  }
}

/**
 * ResNet-D basic block: conv1 (stride, nonlin) -> conv2 (no nonlin) + skip, then nonlin. The skip is identity, or
 * AvgPool(stride) and/or a 1x1 conv without bias + norm when the shape changes. `zeroLastNorm` applies
 * init_last_bn_before_add_to_0 (conv2.norm weight and bias = 0), which ResidualEncoderUNet.initialize runs.
 */
export class BasicBlockD extends Module {
  readonly conv1: ConvDropoutNormReLU;
  readonly conv2: ConvDropoutNormReLU;
  private readonly pool: AvgPool | null = null;
  private readonly projection: ConvDropoutNormReLU | null = null;
  private readonly slope: number | null;

  constructor(f: ParamFactory, ops: ConvOps, cin: number, cout: number, kernel: number[], stride: number[], zeroLastNorm: boolean) {
    super();
    const ones = kernel.map(() => 1);
    this.conv1 = this.addChild("conv1", new ConvDropoutNormReLU(f, ops, cin, cout, kernel, stride));
    this.conv2 = this.addChild(
      "conv2",
      new ConvDropoutNormReLU(f, ops, cout, cout, kernel, ones, { withNonlin: false, withDropout: false, zeroNorm: zeroLastNorm }),
    );
    this.slope = ops.nonlin ? ops.nonlin.negativeSlope : null;
    const hasStride = stride.some((s) => s !== 1);
    if (hasStride || cin !== cout) {
      const skip: Module[] = [];
      if (hasStride) skip.push((this.pool = new AvgPool(stride)));
      if (cin !== cout) {
        this.projection = new ConvDropoutNormReLU(f, ops, cin, cout, ones, ones, { withNonlin: false, withDropout: false, convBias: false });
        skip.push(this.projection);
      }
      this.addChild("skip", new ModuleList(skip));
    }
  }

  forward(x: tf.Tensor): tf.Tensor {
    // The main path first, so the skip's pooled/projected copy is not held while conv1 and conv2 run.
    const h = this.conv1.forward(x);
    const main = freeing(h, this.conv2.forward(h));
    let residual = x;
    if (this.pool) residual = avgPoolNd(residual, this.pool.stride);
    if (this.projection) {
      const projected = this.projection.forward(residual);
      release(residual, x, projected);
      residual = projected;
    }
    const out = tf.add(main, residual);
    release(main);
    release(residual, x);
    return this.slope === null ? out : freeing(out, leakyRelu(out, this.slope));
  }
}

/** StackedResidualBlocks: `blocks` = n BasicBlockD, the first with the initial stride and the channel change. */
export class StackedResidualBlocks extends Module {
  readonly blocks: ModuleList<BasicBlockD>;
  constructor(f: ParamFactory, ops: ConvOps, n: number, cin: number, cout: number, kernel: number[], initialStride: number[], zeroLastNorm: boolean) {
    super();
    const ones = kernel.map(() => 1);
    const blocks: BasicBlockD[] = [];
    for (let i = 0; i < n; i++) blocks.push(new BasicBlockD(f, ops, i === 0 ? cin : cout, cout, kernel, i === 0 ? initialStride : ones, zeroLastNorm));
    this.blocks = this.addChild("blocks", new ModuleList(blocks));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return chain(x, this.blocks.items);
  }
}

/** What the decoder needs to know about an encoder (ResidualEncoder or PlainConvEncoder). */
export interface UNetEncoder extends Module {
  readonly ops: ConvOps;
  readonly outputChannels: number[];
  readonly kernelSizes: number[][];
  readonly strides: number[][];
  /** All stage outputs (skips), highest resolution first, bottleneck last; `recompute`: see checkpointing.ts. */
  forward(x: tf.Tensor, recompute?: boolean): tf.Tensor[];
}

export interface EncoderConfig {
  inputChannels: number;
  featuresPerStage: number[];
  kernelSizes: number[][];
  strides: number[][];
  /** n_blocks_per_stage (residual) or n_conv_per_stage (plain). */
  perStage: number[];
}

/** ResidualEncoder with the default stem (one conv block to features[0], or stem_channels). */
export class ResidualEncoder extends Module implements UNetEncoder {
  readonly stem: StackedConvBlocks;
  readonly stages: ModuleList<StackedResidualBlocks>;
  readonly outputChannels: number[];
  readonly kernelSizes: number[][];
  readonly strides: number[][];

  constructor(
    f: ParamFactory,
    readonly ops: ConvOps,
    cfg: EncoderConfig,
    stemChannels: number | null,
    zeroLastNorm: boolean,
  ) {
    super();
    const stemCh = stemChannels ?? cfg.featuresPerStage[0]!;
    const ones = cfg.kernelSizes[0]!.map(() => 1);
    this.stem = this.addChild("stem", new StackedConvBlocks(f, ops, 1, cfg.inputChannels, stemCh, cfg.kernelSizes[0]!, ones));
    let cin = stemCh;
    const stages: StackedResidualBlocks[] = [];
    cfg.featuresPerStage.forEach((cout, s) => {
      stages.push(new StackedResidualBlocks(f, ops, cfg.perStage[s]!, cin, cout, cfg.kernelSizes[s]!, cfg.strides[s]!, zeroLastNorm));
      cin = cout;
    });
    this.stages = this.addChild("stages", new ModuleList(stages));
    this.outputChannels = [...cfg.featuresPerStage];
    this.kernelSizes = cfg.kernelSizes;
    this.strides = cfg.strides;
  }

  /** The stage outputs; the caller owns them (the decoder frees each after its last use). */
  forward(x: tf.Tensor, recompute = false): tf.Tensor[] {
    const skips: tf.Tensor[] = [];
    const [first, ...rest] = this.stages.items;
    // The stem runs with the first stage, so a recomputed pass does not keep its full-resolution output either.
    const stage0 = (t: tf.Tensor): tf.Tensor => {
      const stem = this.stem.forward(t);
      const out = first!.forward(stem);
      release(stem, t, out);
      return out;
    };
    let y = recompute ? recomputed(stage0, [x], stageVariables(this.stem, first!)) : stage0(x);
    skips.push(y);
    for (const s of rest) skips.push((y = recompute ? recomputed((t) => s.forward(t), [y], stageVariables(s)) : s.forward(y)));
    return skips;
  }
}
