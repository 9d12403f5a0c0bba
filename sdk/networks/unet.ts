// dynamic_network_architectures architectures/unet.py: PlainConvUNet and ResidualEncoderUNet (encoder + UNetDecoder).

import { tf } from "../backend/index.js";
import { InputError } from "../errors.js";
import { recordingGradients } from "./checkpointing.js";
import type { ConvOps } from "./conv-blocks.js";
import { Network, type TransferKeys } from "./network.js";
import { ParamFactory } from "./module.js";
import { PlainConvEncoder } from "./plain-conv-encoder.js";
import { ResidualEncoder, type UNetEncoder } from "./residual-encoder.js";
import { UNetDecoder } from "./unet-decoder.js";

export interface UNetConfig {
  inputChannels: number;
  numClasses: number;
  featuresPerStage: number[];
  kernelSizes: number[][];
  strides: number[][];
  /** n_blocks_per_stage (ResidualEncoderUNet) or n_conv_per_stage (PlainConvUNet). */
  perStage: number[];
  nConvPerStageDecoder: number[];
  ops: ConvOps;
  deepSupervision: boolean;
  /** ResidualEncoderUNet only; null = features_per_stage[0]. */
  stemChannels?: number | null;
}

abstract class UNetBase extends Network {
  readonly dim: 2 | 3;
  readonly inputChannels: number;
  readonly numClasses: number;
  abstract readonly encoder: UNetEncoder;
  abstract readonly decoder: UNetDecoder;

  constructor(cfg: UNetConfig) {
    super();
    this.dim = cfg.ops.dim;
    this.inputChannels = cfg.inputChannels;
    this.numClasses = cfg.numClasses;
  }

  get deepSupervision(): boolean {
    return this.decoder.deepSupervision;
  }

  setDeepSupervision(on: boolean): void {
    this.decoder.deepSupervision = on;
  }

  protected forwardChannelsLast(x: tf.Tensor): tf.Tensor[] {
    // Upsampled features must line up with the skips, so every axis must be divisible by the product of its strides
    // (PyTorch fails at the concatenation otherwise; nnU-Net's planned patch sizes always are).
    const spatial = x.shape.slice(1, -1);
    const total = spatial.map((_, a) => this.encoder.strides.reduce((p, s) => p * s[a]!, 1));
    if (spatial.some((n, a) => n % total[a]! !== 0)) {
      throw new InputError(
        `${this.className}.forward: spatial size [${spatial.join(", ")}] must be divisible by [${total.join(", ")}] (the product of the strides)`,
      );
    }
    const recompute = this.checkpointing && recordingGradients();
    return this.decoder.forward(this.encoder.forward(x, recompute), recompute);
  }
}

export class ResidualEncoderUNet extends UNetBase {
  readonly className = "ResidualEncoderUNet";
  readonly transferKeys: TransferKeys = {
    keyToEncoder: "encoder.stages",
    keyToStem: "encoder.stem",
    keysToInProj: ["encoder.stem.convs.0.conv", "encoder.stem.convs.0.all_modules.0"],
    keyToLpe: null,
  };
  readonly encoder: ResidualEncoder;
  readonly decoder: UNetDecoder;

  /** Initialised like `net.apply(net.initialize)`: InitWeights_He(1e-2), then every BasicBlockD's conv2.norm = 0. */
  constructor(f: ParamFactory, cfg: UNetConfig) {
    super(cfg);
    this.encoder = this.addChild("encoder", new ResidualEncoder(f, cfg.ops, cfg, cfg.stemChannels ?? null, true));
    this.decoder = this.addChild("decoder", new UNetDecoder(f, this.encoder, cfg.numClasses, cfg.nConvPerStageDecoder, cfg.deepSupervision));
  }
}

export class PlainConvUNet extends UNetBase {
  readonly className = "PlainConvUNet";
  readonly transferKeys: TransferKeys = {
    keyToEncoder: "encoder.stages",
    keyToStem: "encoder.stages.0",
    keysToInProj: ["encoder.stages.0.0.convs.0.all_modules.0", "encoder.stages.0.0.convs.0.conv"],
    keyToLpe: null,
  };
  readonly encoder: PlainConvEncoder;
  readonly decoder: UNetDecoder;

  /** Initialised like `net.apply(net.initialize)`: InitWeights_He(1e-2). */
  constructor(f: ParamFactory, cfg: UNetConfig) {
    super(cfg);
    this.encoder = this.addChild("encoder", new PlainConvEncoder(f, cfg.ops, cfg));
    this.decoder = this.addChild("decoder", new UNetDecoder(f, this.encoder, cfg.numClasses, cfg.nConvPerStageDecoder, cfg.deepSupervision));
  }
}
