// What a trainer builds and loads before training starts, shared by the training run and by
// `nnssl-adapt checkpoint transfer`: the trainer's plans overrides (patch size), its network (the plans' architecture,
// PrimusX from explicit settings, or a from-scratch Primus preset) and its weight transfer (strict or dynamic).

import { ConfigError } from "../errors.js";
import { buildNetwork, type ArchitectureBlock, type BuildOptions } from "../networks/build-network.js";
import { loadPretrainedWeightsDynamic, reportFromStrict, type WeightTransferReport } from "../networks/dynamic-transfer.js";
import type { Network } from "../networks/network.js";
import { loadPretrainedWeights } from "../networks/pretrained.js";
import { PRIMUS_CONFIGS, Primus, type PrimusConfig } from "../networks/primus.js";
import { ParamFactory } from "../networks/module.js";
import { randomSeed } from "../networks/init.js";
import type { ConfigurationPlan, Plans } from "../planning/plans.js";
import { readPretrainedCheckpoint, type PretrainInfo } from "./pretrained-weights.js";
import type { TrainerSpec } from "./trainers.js";

/**
 * Applies the trainer's changes to the plans before anything is built, as upstream trainers that edit
 * `plans["configurations"][configuration]` in __init__ do (`_150ep_small_debug`: patch 48x48x48). Mutates both.
 */
export function applyTrainerPlanOverrides(spec: TrainerSpec, plans: Plans, cfg: ConfigurationPlan, configuration: string): void {
  if (!spec.patchSizeOverride) return;
  cfg.patch_size = [...spec.patchSizeOverride];
  const stored = plans.configurations[configuration];
  if (stored) stored.patch_size = [...spec.patchSizeOverride];
  if (spec.batchSize !== null) {
    cfg.batch_size = spec.batchSize;
    if (stored) stored.batch_size = spec.batchSize;
  }
}

/** The Primus of master's PretrainedTrainer_Primusx.build_network_architecture for explicit arch_kwargs. */
export function primusxConfig(kwargs: Record<string, unknown>, opts: BuildOptions): PrimusConfig {
  const need = (key: string): unknown => {
    const v = kwargs[key];
    if (v === undefined || v === null)
      throw new ConfigError(
        `PrimusX arch_kwargs.${key} is missing (PretrainedTrainer_Primusx reads embed_dim, patch_embed_size, encoder_eva_depth, ` +
          "encoder_eva_numheads, scale_attn_inner, init_values)",
      );
    return v;
  };
  const int = (key: string): number => {
    const v = need(key);
    if (!Number.isInteger(v) || (v as number) < 1) throw new ConfigError(`PrimusX arch_kwargs.${key} must be a positive integer, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const patch = need("patch_embed_size");
  if (!Array.isArray(patch) || patch.length !== 3 || !patch.every((x) => Number.isInteger(x) && x > 0)) {
    throw new ConfigError(`PrimusX arch_kwargs.patch_embed_size must be 3 positive integers, got ${JSON.stringify(patch)}`);
  }
  let init = kwargs.init_values;
  if (Array.isArray(init)) init = init[0]; // THRP checkpoints store a list; upstream uses its first element
  if (init !== undefined && init !== null && typeof init !== "number")
    throw new ConfigError(`PrimusX arch_kwargs.init_values must be a number, a list or null, got ${JSON.stringify(init)}`);
  const sai = need("scale_attn_inner");
  if (typeof sai !== "boolean") throw new ConfigError(`PrimusX arch_kwargs.scale_attn_inner must be true or false, got ${JSON.stringify(sai)}`);
  const embedDim = int("embed_dim");
  const numHeads = int("encoder_eva_numheads");
  if (embedDim % numHeads !== 0) throw new ConfigError(`PrimusX arch_kwargs: embed_dim ${embedDim} is not divisible by encoder_eva_numheads ${numHeads}`);
  return primusAt(opts, {
    embedDim,
    patchEmbedSize: patch as number[],
    depth: int("encoder_eva_depth"),
    numHeads,
    initValues: (init as number | null | undefined) ?? null,
    scaleAttnInner: sai,
  });
}

function primusAt(
  opts: BuildOptions,
  c: Pick<PrimusConfig, "embedDim" | "patchEmbedSize" | "depth" | "numHeads" | "initValues" | "scaleAttnInner">,
): PrimusConfig {
  const patch = opts.patchSize;
  if (!patch || patch.length !== 3) throw new ConfigError(`Primus needs a 3-D patch size, got ${JSON.stringify(patch)}`);
  patch.forEach((p, i) => {
    if (p % c.patchEmbedSize[i]! !== 0)
      throw new ConfigError(`Primus: patch size ${patch.join("x")} is not divisible by the patch embedding ${c.patchEmbedSize.join("x")}`);
  });
  // Primus' other defaults (dynamic_network_architectures): mlp_ratio 8/3, RoPE and absolute positional embedding on.
  return {
    inputChannels: opts.inputChannels,
    numClasses: opts.numClasses,
    inputShape: [...patch],
    mlpRatio: (4 * 2) / 3,
    useRotPosEmb: true,
    useAbsPosEmbed: true,
    dropPathRate: 0.2,
    ...c,
  };
}

/**
 * The network the trainer builds: `network` "plans" as before, "primusx" a Primus from explicit arch_kwargs (or the
 * preset by name when there are none), "PrimusS/B/M/L" the from-scratch preset at the plans' patch size.
 */
export function buildTrainerNetwork(spec: TrainerSpec, architecture: ArchitectureBlock, opts: BuildOptions): Network {
  const kind = spec.network ?? "plans";
  if (kind === "plans") return buildNetwork(architecture, opts);
  const seed = opts.seed ?? randomSeed();
  let net: Network;
  if (kind === "primusx") {
    const kwargs = architecture.arch_kwargs;
    if (!kwargs || Object.keys(kwargs).length === 0) return buildNetwork(architecture, { ...opts, deepSupervision: false });
    net = new Primus(new ParamFactory(seed), primusxConfig(kwargs, opts), "Primus");
  } else {
    const preset = PRIMUS_CONFIGS[kind.slice(-1) as keyof typeof PRIMUS_CONFIGS];
    net = new Primus(new ParamFactory(seed), primusAt(opts, { ...preset, patchEmbedSize: [8, 8, 8], initValues: 0.1, scaleAttnInner: true }), "Primus");
  }
  net.seed = seed;
  return net;
}

/** Target stage count and kernel sizes from a plans architecture block (DynamicPretrainedTrainer reads arch_kwargs). */
function targetArchitecture(architecture: ArchitectureBlock): { nStages: number | null; kernelSizes: number[][] | null } {
  const kw = architecture.arch_kwargs ?? null;
  const n = kw && typeof kw.n_stages === "number" ? kw.n_stages : null;
  const ks =
    kw && Array.isArray(kw.kernel_sizes)
      ? (kw.kernel_sizes as unknown[]).map((k) => (Array.isArray(k) ? (k as number[]) : [k as number, k as number, k as number]))
      : null;
  return { nStages: n, kernelSizes: ks };
}

/**
 * Loads `plans.pretrain_info`'s checkpoint into `net` the way the trainer does (strict for the PretrainedTrainer
 * family, dynamic for DynamicPretrainedTrainer*) and reports every tensor. `checkpointPath` overrides the plans'
 * (-overwrite_ckpt_path); relative paths resolve against the working directory, as upstream.
 */
export async function loadTrainerWeights(
  spec: TrainerSpec,
  net: Network,
  info: PretrainInfo | null,
  architecture: ArchitectureBlock,
  { numInputChannels, patchSize, checkpointPath = null }: { numInputChannels: number; patchSize: number[]; checkpointPath?: string | null },
): Promise<WeightTransferReport> {
  const file = checkpointPath ?? info?.checkpoint_path ?? null;
  if (!file)
    throw new ConfigError("plans have no pretrain_info.checkpoint_path: pass -overwrite_ckpt_path PATH, or --from_scratch to train without pretrained weights");
  const ckpt = await readPretrainedCheckpoint(file, info);
  if (spec.weightTransfer === "dynamic") {
    const t = targetArchitecture(architecture);
    return loadPretrainedWeightsDynamic(net, ckpt, { numInputChannels, patchSize, targetNStages: t.nStages, targetKernelSizes: t.kernelSizes });
  }
  const strict = loadPretrainedWeights(net, ckpt, { numInputChannels, patchSize });
  return reportFromStrict(net, strict, file, ckpt.weights, { encoder: ckpt.adaptationPlan.key_to_encoder, stem: ckpt.adaptationPlan.key_to_stem });
}

const RULE = "#".repeat(71);

/**
 * The block PretrainedTrainer.print_citations writes to the training log after loading pretrained weights (nnU-Net
 * master): "<type> used '<name>'. Associated paper(s):" and the apa_citations (or bibtex_citations) of each entry,
 * sorted by type. Plain-string entries, on which master fails, are printed as they are. Empty when there are none.
 */
export function citationBlock(citations: unknown): string | null {
  if (!Array.isArray(citations) || citations.length === 0) return null;
  const lines = [`\n${RULE}\nPlease cite the associated papers when using pre-trained weights:\n`];
  const entries = citations.map((c) => (c && typeof c === "object" ? (c as Record<string, unknown>) : { name: String(c) }));
  const type = (c: Record<string, unknown>) => (typeof c.type === "string" ? c.type : "");
  for (const c of [...entries].sort((a, b) => (type(a) < type(b) ? -1 : type(a) > type(b) ? 1 : 0))) {
    if (c.type === undefined && Object.keys(c).length === 1) {
      lines.push(String(c.name) + "\n");
      continue;
    }
    lines.push(`${c.type ?? "?"} used '${c.name ?? "?"}'. Associated paper(s):`);
    const apa = Array.isArray(c.apa_citations) && c.apa_citations.length ? c.apa_citations : null;
    const papers = (apa ?? (Array.isArray(c.bibtex_citations) ? c.bibtex_citations : [])) as unknown[];
    for (const p of papers) lines.push(String(p));
    lines[lines.length - 1] += "\n";
  }
  lines.push(`${RULE}\n`);
  return lines.join("\n");
}
