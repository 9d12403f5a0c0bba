// dynamic_network_architectures building_blocks/simple_conv_blocks.py: ConvDropoutNormReLU and StackedConvBlocks,
// with the same module names (including the `all_modules` Sequential that registers conv and norm a second time).

import { tf } from "../backend/index.js";
import type { Init } from "./init.js";
import { convNd, instanceNorm, leakyRelu, release, transposedConvNd } from "./layers.js";
import { Module, ModuleList, Param, ParamFactory } from "./module.js";

/** The op choices shared by every conv block of a UNet (resolved from arch_kwargs). */
export interface ConvOps {
  /** 2 for Conv2d, 3 for Conv3d. */
  dim: 2 | 3;
  convBias: boolean;
  /** InstanceNorm settings, or null for norm_op None. */
  norm: { eps: number; affine: boolean } | null;
  /** Dropout registers a module (shifting `all_modules` indices); it is the identity at inference. */
  dropout: { p: number } | null;
  /** LeakyReLU(negativeSlope) (ReLU is slope 0), or null for nonlin None. */
  nonlin: { negativeSlope: number } | null;
  nonlinFirst: boolean;
}

/** He init with a=1e-2 as InitWeights_He; torch's fan_in is weight.size(1) * prod(k) for Conv and ConvTranspose. */
export function heInit(sizeDim1: number, kernel: number[]): Init {
  return { kind: "he", fanIn: sizeDim1 * kernel.reduce((a, b) => a * b, 1), negSlope: 1e-2 };
}

export class Conv extends Module {
  readonly weight: Param;
  readonly bias: Param | null;
  readonly pads: number[];
  /** `padding` "same" is upstream's (k-1)//2 per axis; PatchEmbed uses "none". */
  constructor(
    f: ParamFactory,
    cin: number,
    cout: number,
    readonly kernel: number[],
    readonly stride: number[],
    bias: boolean,
    padding: "same" | "none" = "same",
  ) {
    super();
    this.pads = kernel.map((k) => (padding === "same" ? (k - 1) >> 1 : 0));
    this.weight = this.addParam("weight", f.create([cout, cin, ...kernel], "conv", heInit(cin, kernel)));
    this.bias = bias ? this.addParam("bias", f.create([cout], "plain", { kind: "const", value: 0 })) : null;
  }
  forward(x: tf.Tensor): tf.Tensor {
    return convNd(x, this.weight.value, this.bias?.value ?? null, this.kernel, this.stride, this.pads);
  }
}

/** ConvTransposeNd with kernel == stride. */
export class TransposedConv extends Module {
  readonly weight: Param;
  readonly bias: Param | null;
  constructor(
    f: ParamFactory,
    cin: number,
    cout: number,
    readonly kernel: number[],
    bias: boolean,
  ) {
    super();
    this.weight = this.addParam("weight", f.create([cin, cout, ...kernel], "conv", heInit(cout, kernel)));
    this.bias = bias ? this.addParam("bias", f.create([cout], "plain", { kind: "const", value: 0 })) : null;
  }
  forward(x: tf.Tensor): tf.Tensor {
    return transposedConvNd(x, this.weight.value, this.bias?.value ?? null, this.kernel);
  }
}

export class InstanceNorm extends Module {
  readonly weight: Param | null;
  readonly bias: Param | null;
  constructor(
    f: ParamFactory,
    channels: number,
    readonly eps: number,
    affine: boolean,
    zeroInit = false,
  ) {
    super();
    const one = { kind: "const", value: zeroInit ? 0 : 1 } as const;
    this.weight = affine ? this.addParam("weight", f.create([channels], "plain", one)) : null;
    this.bias = affine ? this.addParam("bias", f.create([channels], "plain", { kind: "const", value: 0 })) : null;
  }
  /** The norm, then LeakyReLU(negativeSlope) when it is given (one fused op where the backend has one). */
  forward(x: tf.Tensor, negativeSlope: number | null = null): tf.Tensor {
    return instanceNorm(x, this.weight?.value ?? null, this.bias?.value ?? null, this.eps, negativeSlope);
  }
}

/** A module without parameters that only occupies an index in `all_modules` (dropout, nonlin). */
class Placeholder extends Module {}

/** conv -> (dropout) -> norm -> nonlin (or conv -> nonlin -> norm with nonlin_first). */
export class ConvDropoutNormReLU extends Module {
  readonly conv: Conv;
  readonly norm: InstanceNorm | null;
  private readonly slope: number | null;
  private readonly nonlinFirst: boolean;

  constructor(
    f: ParamFactory,
    ops: ConvOps,
    cin: number,
    cout: number,
    kernel: number[],
    stride: number[],
    { withNonlin = true, convBias = ops.convBias, withDropout = true, zeroNorm = false } = {},
  ) {
    super();
    this.conv = this.addChild("conv", new Conv(f, cin, cout, kernel, stride, convBias));
    const all: Module[] = [this.conv];
    if (ops.dropout && withDropout) all.push(new Placeholder());
    this.norm = ops.norm ? this.addChild("norm", new InstanceNorm(f, cout, ops.norm.eps, ops.norm.affine, zeroNorm)) : null;
    if (this.norm) all.push(this.norm);
    this.slope = withNonlin && ops.nonlin ? ops.nonlin.negativeSlope : null;
    if (this.slope !== null) {
      if (ops.nonlinFirst && this.norm) all.splice(all.length - 1, 0, new Placeholder());
      else all.push(new Placeholder());
    }
    this.addChild("all_modules", new ModuleList(all));
    this.nonlinFirst = ops.nonlinFirst;
  }

  forward(x: tf.Tensor): tf.Tensor {
    let y = this.conv.forward(x);
    if (this.nonlinFirst) {
      y = this.act(y);
      return this.norm ? freeing(y, this.norm.forward(y)) : y;
    }
    return this.norm ? freeing(y, this.norm.forward(y, this.slope)) : this.act(y);
  }

  /** The activation of `x`, freeing `x` (which this block created). */
  private act(x: tf.Tensor): tf.Tensor {
    return this.slope === null ? x : freeing(x, leakyRelu(x, this.slope));
  }
}

/** StackedConvBlocks: `convs` = n blocks, the first with the initial stride. */
export class StackedConvBlocks extends Module {
  readonly convs: ModuleList<ConvDropoutNormReLU>;
  constructor(f: ParamFactory, ops: ConvOps, n: number, cin: number, cout: number, kernel: number[], initialStride: number[]) {
    super();
    const ones = kernel.map(() => 1);
    const blocks: ConvDropoutNormReLU[] = [];
    for (let i = 0; i < n; i++) blocks.push(new ConvDropoutNormReLU(f, ops, i === 0 ? cin : cout, cout, kernel, i === 0 ? initialStride : ones));
    this.convs = this.addChild("convs", new ModuleList(blocks));
  }
  /** `consumeInput`: `x` is an intermediate of the caller's, freed as soon as the first block has used it. */
  forward(x: tf.Tensor, consumeInput = false): tf.Tensor {
    return chain(x, this.convs.items, consumeInput);
  }
}

/** Returns `next` after freeing `used`, the intermediate it was computed from. */
export function freeing(used: tf.Tensor, next: tf.Tensor): tf.Tensor {
  release(used, next);
  return next;
}

/**
 * Runs `x` through `modules` in order, freeing each intermediate once the next module has consumed it (and `x` itself
 * too when `consumeInput`).
 */
export function chain(x: tf.Tensor, modules: readonly { forward(x: tf.Tensor): tf.Tensor }[], consumeInput = false): tf.Tensor {
  let y = x;
  for (const m of modules) {
    const next = m.forward(y);
    if (y !== x || consumeInput) release(y, next);
    y = next;
  }
  return y;
}
