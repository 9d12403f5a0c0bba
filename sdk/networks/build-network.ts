// get_network_from_plans / get_network_from_name: a network from a plans `architecture` block (class path +
// arch_kwargs whose op classes are dotted names) or from an nnssl preset name (ResEncL, PrimusS/B/M/L).

import { ConfigError } from "../errors.js";
import type { ConvOps } from "./conv-blocks.js";
import { randomSeed } from "./init.js";
import { ParamFactory } from "./module.js";
import type { Network } from "./network.js";
import { PRIMUS_CONFIGS, Primus, type PrimusConfig } from "./primus.js";
import { PlainConvUNet, ResidualEncoderUNet, type UNetConfig } from "./unet.js";

/** A plans `architecture` block (nnU-Net) or an nnssl `architecture_plans` block. */
export interface ArchitectureBlock {
  network_class_name?: string;
  arch_class_name?: string;
  arch_kwargs?: Record<string, unknown> | null;
  _kw_requires_import?: string[] | null;
  arch_kwargs_requiring_import?: string[] | null;
}

export interface BuildOptions {
  inputChannels: number;
  numClasses: number;
  /** Deep-supervision outputs (UNets from plans). nnssl presets always build without, like upstream. */
  deepSupervision?: boolean;
  /** The training patch size: required for Primus (positional embedding and RoPE grid). */
  patchSize?: number[];
  /** Seed for the initial weights; random when omitted. */
  seed?: number;
}

export const SUPPORTED_ARCHITECTURES = ["ResidualEncoderUNet", "PlainConvUNet", "ResEncL", "Primus", "PrimusS", "PrimusB", "PrimusM", "PrimusL"] as const;

/**
 * Builds and initialises a network like upstream (`net.apply(net.initialize)` for the UNets, Primus' own init).
 * @example
 * const net = buildNetwork(plans.configurations["3d_fullres"].architecture, { inputChannels: 1, numClasses: 3, deepSupervision: true,
 *   patchSize: [32, 32, 32] });
 */
export function buildNetwork(architecture: ArchitectureBlock | string, opts: BuildOptions): Network {
  const seed = opts.seed ?? randomSeed();
  const net = construct(architecture, opts, new ParamFactory(seed));
  net.seed = seed;
  return net;
}

/** sum(p.numel() for p in net.parameters()) of the network buildNetwork would build, computed from shapes only. */
export function countParameters(architecture: ArchitectureBlock | string, opts: BuildOptions): number {
  return construct(architecture, opts, new ParamFactory(null)).numParameters();
}

/** The state_dict() keys (aliases included) and PyTorch shapes of that network, computed without allocating weights. */
export function stateDictShapes(architecture: ArchitectureBlock | string, opts: BuildOptions): Map<string, number[]> {
  const net = construct(architecture, opts, new ParamFactory(null));
  return new Map([...net.stateEntries()].map(([k, p]) => [k, [...p.torchShape]]));
}

function construct(architecture: ArchitectureBlock | string, opts: BuildOptions, f: ParamFactory): Network {
  const block: ArchitectureBlock = typeof architecture === "string" ? { network_class_name: architecture } : architecture;
  const fullName = block.network_class_name ?? block.arch_class_name;
  if (!fullName) throw new ConfigError("architecture: network_class_name is missing");
  // pydoc.locate of "dynamic_network_architectures.architectures.unet.ResidualEncoderUNet"; short names as nnssl writes them.
  const name = fullName.split(".").pop()!;
  const kwargs = block.arch_kwargs ?? null;
  checkPositive(opts.inputChannels, "inputChannels");
  checkPositive(opts.numClasses, "numClasses");
  switch (name) {
    case "ResidualEncoderUNet":
    case "PlainConvUNet": {
      if (!kwargs) throw new ConfigError(`architecture ${fullName}: arch_kwargs is missing`);
      const cfg = unetConfig(name, kwargs, opts);
      return name === "ResidualEncoderUNet" ? new ResidualEncoderUNet(f, cfg) : new PlainConvUNet(f, cfg);
    }
    case "ResEncL":
      return new ResidualEncoderUNet(f, resEncLConfig(opts));
    case "PrimusS":
    case "PrimusB":
    case "PrimusM":
    case "PrimusL": {
      // PretrainedTrainer_Primusx: a preset name with arch_kwargs (THRP checkpoints) builds Primus(**kwargs) with
      // drop_path_rate=0.2; without kwargs get_network_from_name builds the preset.
      if (kwargs && Object.keys(kwargs).length > 0) return new Primus(f, primusFromKwargs({ ...kwargs, drop_path_rate: 0.2 }, opts), name);
      const preset = PRIMUS_CONFIGS[name.slice(-1) as keyof typeof PRIMUS_CONFIGS];
      const cfg: PrimusConfig = {
        ...primusDefaults(opts, name),
        ...preset,
        patchEmbedSize: [8, 8, 8],
        initValues: 0.1,
        scaleAttnInner: true,
      };
      return new Primus(f, cfg, name);
    }
    case "PrimusX":
      // nnssl's BaseEvaMAETrainerPrimusX names its explicit-settings Primus so; upstream's get_network_from_name has no such preset.
      throw new ConfigError("architecture PrimusX (explicit Primus settings) is built by the PretrainedTrainer_Primusx trainers (-tr)");
    case "Primus":
      if (!kwargs) throw new ConfigError(`architecture ${fullName}: arch_kwargs is missing`);
      return new Primus(f, primusFromKwargs(kwargs, opts), "Primus");
    default:
      throw new ConfigError(`unsupported network class ${JSON.stringify(fullName)} (supported: ${SUPPORTED_ARCHITECTURES.join(", ")})`);
  }
}

function checkPositive(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 1) throw new ConfigError(`buildNetwork: ${what} must be a positive integer, got ${v}`);
}

/** nnssl get_res_enc_l (nnssl architecture_registry / nnU-Net get_network_via_name). */
function resEncLConfig(opts: BuildOptions): UNetConfig {
  return {
    inputChannels: opts.inputChannels,
    numClasses: opts.numClasses,
    featuresPerStage: [32, 64, 128, 256, 320, 320],
    kernelSizes: Array.from({ length: 6 }, () => [3, 3, 3]),
    strides: [
      [1, 1, 1],
      [2, 2, 2],
      [2, 2, 2],
      [2, 2, 2],
      [2, 2, 2],
      [2, 2, 2],
    ],
    perStage: [1, 3, 4, 6, 6, 6],
    nConvPerStageDecoder: [1, 1, 1, 1, 1],
    ops: { dim: 3, convBias: true, norm: { eps: 1e-5, affine: true }, dropout: null, nonlin: { negativeSlope: 0.01 }, nonlinFirst: false },
    deepSupervision: false,
  };
}

const className = (v: unknown): string | null => (v === null || v === undefined ? null : String(v).split(".").pop()!);

function num(kwargs: Record<string, unknown>, key: string, fallback?: number): number {
  const v = kwargs[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new ConfigError(`arch_kwargs.${key} is missing`);
  }
  if (typeof v !== "number") throw new ConfigError(`arch_kwargs.${key} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** int or list -> list of n (upstream: `[x] * n_stages` for scalars). */
function perStageList(kwargs: Record<string, unknown>, key: string, n: number): number[] {
  const v = kwargs[key];
  if (typeof v === "number") return new Array<number>(n).fill(v);
  if (!Array.isArray(v) || v.length !== n || !v.every((x) => typeof x === "number")) {
    throw new ConfigError(`arch_kwargs.${key} must be a number or a list of ${n} numbers, got ${JSON.stringify(v)}`);
  }
  return v as number[];
}

/** kernel_sizes / strides: a scalar, a list of scalars or a list of per-axis lists (maybe_convert_scalar_to_list). */
function perStageAxes(kwargs: Record<string, unknown>, key: string, n: number, dim: number): number[][] {
  const v = kwargs[key];
  const stages = typeof v === "number" ? new Array<unknown>(n).fill(v) : v;
  if (!Array.isArray(stages) || stages.length !== n) throw new ConfigError(`arch_kwargs.${key} must have ${n} entries, got ${JSON.stringify(v)}`);
  return stages.map((s) => {
    const axes = typeof s === "number" ? new Array<number>(dim).fill(s) : s;
    if (!Array.isArray(axes) || axes.length !== dim || !axes.every((x) => Number.isInteger(x) && x >= 1)) {
      throw new ConfigError(`arch_kwargs.${key}: each entry needs ${dim} positive integers, got ${JSON.stringify(s)}`);
    }
    return axes as number[];
  });
}

function convOps(kwargs: Record<string, unknown>): ConvOps {
  const conv = className(kwargs.conv_op);
  const dim = conv === "Conv3d" ? 3 : conv === "Conv2d" ? 2 : null;
  if (!dim) throw new ConfigError(`arch_kwargs.conv_op: unsupported ${JSON.stringify(kwargs.conv_op)} (expected Conv2d or Conv3d)`);
  const normName = className(kwargs.norm_op);
  const normKw = (kwargs.norm_op_kwargs ?? {}) as Record<string, unknown>;
  let norm: ConvOps["norm"] = null;
  if (normName !== null) {
    if (!normName.startsWith("InstanceNorm"))
      throw new ConfigError(`arch_kwargs.norm_op: unsupported ${JSON.stringify(kwargs.norm_op)} (InstanceNorm or null)`);
    // torch's InstanceNormNd defaults: eps 1e-5, affine False.
    norm = { eps: typeof normKw.eps === "number" ? normKw.eps : 1e-5, affine: normKw.affine === true };
  }
  const dropName = className(kwargs.dropout_op);
  let dropout: ConvOps["dropout"] = null;
  if (dropName !== null) {
    const p = ((kwargs.dropout_op_kwargs ?? {}) as Record<string, unknown>).p;
    const prob = typeof p === "number" ? p : 0.5;
    if (prob !== 0) throw new ConfigError(`arch_kwargs.dropout_op: dropout with p=${prob} is not supported (nnU-Net plans use none)`);
    dropout = { p: 0 };
  }
  const nonlinName = className(kwargs.nonlin);
  const nonlinKw = (kwargs.nonlin_kwargs ?? {}) as Record<string, unknown>;
  let nonlin: ConvOps["nonlin"] = null;
  if (nonlinName === "LeakyReLU") nonlin = { negativeSlope: typeof nonlinKw.negative_slope === "number" ? nonlinKw.negative_slope : 0.01 };
  else if (nonlinName === "ReLU") nonlin = { negativeSlope: 0 };
  else if (nonlinName !== null) throw new ConfigError(`arch_kwargs.nonlin: unsupported ${JSON.stringify(kwargs.nonlin)} (LeakyReLU, ReLU or null)`);
  return { dim, convBias: kwargs.conv_bias === true, norm, dropout, nonlin, nonlinFirst: kwargs.nonlin_first === true };
}

function unetConfig(name: "ResidualEncoderUNet" | "PlainConvUNet", kwargs: Record<string, unknown>, opts: BuildOptions): UNetConfig {
  const n = num(kwargs, "n_stages");
  const ops = convOps(kwargs);
  const block = className(kwargs.block);
  if (block !== null && block !== "BasicBlockD") throw new ConfigError(`arch_kwargs.block: unsupported ${JSON.stringify(kwargs.block)} (BasicBlockD)`);
  const stem = kwargs.stem_channels;
  return {
    inputChannels: opts.inputChannels,
    numClasses: opts.numClasses,
    featuresPerStage: perStageList(kwargs, "features_per_stage", n),
    kernelSizes: perStageAxes(kwargs, "kernel_sizes", n, ops.dim),
    strides: perStageAxes(kwargs, "strides", n, ops.dim),
    perStage: perStageList(kwargs, name === "ResidualEncoderUNet" ? "n_blocks_per_stage" : "n_conv_per_stage", n),
    nConvPerStageDecoder: perStageList(kwargs, "n_conv_per_stage_decoder", n - 1),
    ops,
    deepSupervision: opts.deepSupervision ?? false,
    stemChannels: typeof stem === "number" ? stem : null,
  };
}

function primusDefaults(opts: BuildOptions, name: string): Omit<PrimusConfig, "embedDim" | "depth" | "numHeads" | "patchEmbedSize"> {
  if (!opts.patchSize) throw new ConfigError(`${name}: patchSize is required (it sizes the positional embedding)`);
  return {
    inputChannels: opts.inputChannels,
    numClasses: opts.numClasses,
    inputShape: [...opts.patchSize],
    mlpRatio: (4 * 2) / 3,
    initValues: null,
    scaleAttnInner: false,
    useRotPosEmb: true,
    useAbsPosEmbed: true,
    dropPathRate: 0,
  };
}

/** Primus(**arch_kwargs) as PretrainedTrainer_Primusx builds it (encoder_eva_* names accepted too). */
function primusFromKwargs(kwargs: Record<string, unknown>, opts: BuildOptions): PrimusConfig {
  const base = primusDefaults({ ...opts, patchSize: opts.patchSize ?? (kwargs.input_shape as number[] | undefined) }, "Primus");
  const pick = (...keys: string[]): unknown => keys.map((k) => kwargs[k]).find((v) => v !== undefined && v !== null);
  const patch = pick("patch_embed_size");
  if (!Array.isArray(patch)) throw new ConfigError(`arch_kwargs.patch_embed_size is missing`);
  const depth = pick("eva_depth", "encoder_eva_depth") ?? 24;
  const heads = pick("eva_numheads", "encoder_eva_numheads") ?? 16;
  let init = pick("init_values");
  if (Array.isArray(init)) init = init[0]; // THRP checkpoints store a list; upstream uses the first element
  if ((pick("num_register_tokens") ?? 0) !== 0) throw new ConfigError("arch_kwargs.num_register_tokens: register tokens are not supported");
  return {
    ...base,
    embedDim: num(kwargs, "embed_dim"),
    patchEmbedSize: patch as number[],
    depth: Number(depth),
    numHeads: Number(heads),
    mlpRatio: typeof kwargs.mlp_ratio === "number" ? kwargs.mlp_ratio : base.mlpRatio,
    initValues: typeof init === "number" ? init : null,
    scaleAttnInner: kwargs.scale_attn_inner === true,
    useRotPosEmb: kwargs.use_rot_pos_emb !== false,
    useAbsPosEmbed: kwargs.use_abs_pos_embed !== false,
    dropPathRate: typeof kwargs.drop_path_rate === "number" ? kwargs.drop_path_rate : base.dropPathRate,
  };
}
