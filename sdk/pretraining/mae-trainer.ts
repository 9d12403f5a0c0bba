// MAE pretraining in nnssl's recipe (BaseMAETrainer): random patches of unlabelled volumes, a fraction of cubic blocks
// zeroed in the input, a U-Net reconstructs the volume, MSE on the masked voxels only; SGD (Nesterov, momentum 0.99,
// weight decay 3e-5), poly learning rate per epoch, gradient clipping 12. The result is a checkpoint in nnssl's
// published layout (`network_weights`, `nnssl_adaptation_plan`, ...) plus `adaptation_plan.json`, which our
// preprocess_like_nnssl / train_pretrained and upstream's Python tools accept.
// Unlike nnssl, runs are reproducible: every random draw comes from one seeded RandomState.

import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { cacheOnCpu, tf, initBackend } from "../backend/index.js";
import { ConfigError } from "../errors.js";
import { loadTorchFile, saveTorchFile, pyFloat, TorchDevice, PyTuple } from "../io/torch/index.js";
import { buildNetwork, type ArchitectureBlock } from "../networks/index.js";
import type { Network } from "../networks/network.js";
import { SGD, clipGradNorm } from "../training/optimizers.js";
import { RandomState } from "../util/random-state.js";
import { exists, probeWritable, writeJsonAtomic } from "../util/fs.js";
import type { ProgressCallback } from "../util/progress.js";
import { createBlockyMask } from "./mae-mask.js";
import { discoverPretrainCases, loadPretrainVolumes, pretrainFolders, type PretrainVolume } from "./pretrain-data.js";
import { checkInt, checkNumber, checkSpacing } from "../util/check-options.js";

export interface PretrainOptions {
  /** A folder of NIfTI images, or a raw nnU-Net dataset folder (imagesTr, imagesTs, imagesUnlabelled are used). */
  input: string;
  /** Output folder: checkpoint_final.pth, adaptation_plan.json, checkpoint_latest.pth while running. */
  output: string;
  /** "ResidualEncoderUNet" (configurable size, default) or the nnssl preset "ResEncL". */
  arch?: "ResidualEncoderUNet" | "ResEncL";
  /** Features per stage of the ResidualEncoderUNet (default [16, 32, 64, 128]). */
  features?: number[];
  /** Residual blocks per encoder stage (default 1, 1, 2, 2, ... matching `features`). */
  blocks?: number[];
  patch?: number[];
  /** Pretraining spacing in mm (nnssl's "onemmiso" is [1, 1, 1]). */
  spacing?: number[];
  epochs?: number;
  /** nnssl uses 250; CPU runs want far fewer. */
  iterationsPerEpoch?: number;
  batchSize?: number;
  maskRatio?: number;
  /** Edge of the cubic mask blocks in voxels (nnssl: 16 at 160^3 patches). */
  block?: number;
  initialLr?: number;
  seed?: number;
  /** Name recorded as the pretraining collection. */
  name?: string;
  onProgress?: ProgressCallback;
  onEpochEnd?: (e: { epoch: number; loss: number; lr: number; seconds: number }) => void;
}

export interface PretrainLog {
  train_losses: number[];
  lrs: number[];
  epoch_start_timestamps: number[];
  epoch_end_timestamps: number[];
}

export interface PretrainResult {
  checkpoint: string;
  adaptationPlanFile: string;
  epochs: number;
  log: PretrainLog;
  parameters: number;
}

const CONV3D = "torch.nn.modules.conv.Conv3d";

/** The `arch_kwargs` nnssl's DynamicArchitecturePlans serialises for a ResidualEncoderUNet. */
export function resEncArchKwargs(features: readonly number[], blocks: readonly number[]): Record<string, unknown> {
  const n = features.length;
  if (blocks.length !== n) throw new ConfigError(`invalid --blocks: ${blocks.length} entries for ${n} stages (--features ${features.join(" ")})`);
  return {
    n_stages: n,
    features_per_stage: [...features],
    conv_op: CONV3D,
    kernel_sizes: Array.from({ length: n }, () => [3, 3, 3]),
    strides: Array.from({ length: n }, (_, i) => (i === 0 ? [1, 1, 1] : [2, 2, 2])),
    n_blocks_per_stage: [...blocks],
    n_conv_per_stage_decoder: Array.from({ length: n - 1 }, () => 1),
    conv_bias: true,
    norm_op: "torch.nn.modules.instancenorm.InstanceNorm3d",
    norm_op_kwargs: { eps: 1e-5, affine: true },
    dropout_op: null,
    dropout_op_kwargs: null,
    nonlin: "torch.nn.modules.activation.LeakyReLU",
    nonlin_kwargs: { inplace: true },
  };
}

/** nnssl's AdaptationPlan.serialize() for this run (integral floats become ints, as serialize_kwargs does). */
export function buildAdaptationPlan(o: {
  arch: string;
  archKwargs: Record<string, unknown> | null;
  patch: number[];
  spacing: number[];
  channels: number;
  datasetName: string;
}) {
  const configuration = {
    data_identifier: "nnsslPlans_onemmiso",
    preprocessor_name: "DefaultPreprocessor",
    spacing_style: "onemmiso",
    normalization_schemes: Array(o.channels).fill("ZScoreNormalization"),
    use_mask_for_norm: Array(o.channels).fill(false),
    resampling_fn_data: "resample_data_or_seg_to_shape",
    resampling_fn_data_kwargs: { is_seg: false, order: 3, order_z: 0, force_separate_z: null },
    resampling_fn_mask: "resample_data_or_seg_to_shape",
    resampling_fn_mask_kwargs: { is_seg: false, order: 1, order_z: 0, force_separate_z: null },
    spacing: [...o.spacing],
    patch_size: [...o.patch],
  };
  return {
    architecture_plans: {
      arch_class_name: o.arch,
      arch_kwargs: o.archKwargs,
      arch_kwargs_requiring_import: o.archKwargs ? ["conv_op", "norm_op", "nonlin"] : null,
    },
    pretrain_plan: {
      dataset_name: o.datasetName,
      plans_name: "nnsslPlans",
      original_median_spacing_after_transp: [...o.spacing],
      image_reader_writer: "NibabelReaderWriter",
      transpose_forward: [0, 1, 2],
      transpose_backward: [0, 1, 2],
      configurations: { onemmiso: configuration },
      experiment_planner_used: "ExperimentPlanner",
    },
    pretrain_num_input_channels: o.channels,
    recommended_downstream_patchsize: [...o.patch],
    key_to_encoder: "encoder.stages",
    key_to_stem: "encoder.stem",
    keys_to_in_proj: ["encoder.stem.convs.0.conv", "encoder.stem.convs.0.all_modules.0"],
    key_to_lpe: null,
  };
}

/** Deep copy with every number written as a Python float (init_args keeps the plan's floats, as nnssl's does). */
function floatsDeep(v: unknown): unknown {
  if (typeof v === "number") return Number.isInteger(v) ? v : pyFloat(v);
  if (Array.isArray(v)) return v.map(floatsDeep);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [
        k,
        k === "spacing" || k === "original_median_spacing_after_transp" ? (x as number[]).map((n) => pyFloat(n)) : floatsDeep(x),
      ]),
    );
  return v;
}

/** Copies a random patch (zero-padded where the volume is smaller) of volume `v` into `out` at sample `b`, with random flips. */
function samplePatch(v: PretrainVolume, patch: readonly number[], rs: RandomState, out: Float32Array, b: number): void {
  const [C, X, Y, Z] = v.shape as [number, number, number, number];
  const [PX, PY, PZ] = patch as [number, number, number];
  const start = [X, Y, Z].map((d, a) => (d >= patch[a]! ? rs.randint(0, d - patch[a]! + 1) : -rs.randint(0, patch[a]! - d + 1)));
  const flip = [0, 1, 2].map(() => rs.randomSample() < 0.5);
  const n = PX * PY * PZ;
  for (let c = 0; c < C; c++) {
    const base = (b * C + c) * n;
    const src = c * X * Y * Z;
    for (let x = 0; x < PX; x++) {
      const sx = start[0]! + (flip[0] ? PX - 1 - x : x);
      for (let y = 0; y < PY; y++) {
        const sy = start[1]! + (flip[1] ? PY - 1 - y : y);
        const o = base + (x * PY + y) * PZ;
        if (sx < 0 || sx >= X || sy < 0 || sy >= Y) {
          out.fill(0, o, o + PZ);
          continue;
        }
        const row = src + (sx * Y + sy) * Z;
        for (let z = 0; z < PZ; z++) {
          const sz = start[2]! + (flip[2] ? PZ - 1 - z : z);
          out[o + z] = sz >= 0 && sz < Z ? v.data[row + sz]! : 0;
        }
      }
    }
  }
}

/** MSE between reconstruction and input over the masked voxels only (nnssl MAEMSELoss; mask 1 = visible). */
export function maeMseLoss(output: tf.Tensor, target: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const masked = tf.sub(1, mask);
    const se = tf.mul(tf.square(tf.sub(output, target)), masked);
    const denom = tf.mul(tf.maximum(tf.sum(masked), 1), output.shape[1]!);
    return tf.div(tf.sum(se), denom) as tf.Scalar;
  });
}

/**
 * The `citations` of the checkpoints we write, in the form nnU-Net master's PretrainedTrainer.print_citations reads
 * (a list of dicts with type, name and apa_citations; it prints "<type> used '<name>'. Associated paper(s):").
 */
export const PRETRAIN_CITATIONS: { type: string; name: string; apa_citations: string[] }[] = [
  {
    type: "Pretraining method",
    name: "nnssl MAE (BaseMAETrainer recipe, run by nnssl-adapt pretrain)",
    apa_citations: [
      "Wald, T., Ulrich, C., Suprijadi, J., Ziegler, S., Nohel, M., Peretzke, R., K\u00f6hler, G., & Maier-Hein, K. H. (2025). " +
        "An OpenMind for 3D medical vision self-supervised learning. In Proceedings of the IEEE/CVF International Conference on Computer Vision (ICCV).",
    ],
  },
];

/**
 * Pretrains a U-Net with nnssl's MAE recipe and writes an nnssl checkpoint. Resumes from `checkpoint_latest.pth` in
 * the output folder when one exists.
 * @example await pretrainMae({ input: "datasets-examples/Dataset001_Example", output: "out", epochs: 20 })
 */
export async function pretrainMae(opts: PretrainOptions): Promise<PretrainResult> {
  const {
    input,
    output,
    arch = "ResidualEncoderUNet",
    features = [16, 32, 64, 128],
    patch = [64, 64, 64],
    spacing = [1, 1, 1],
    epochs = 100,
    iterationsPerEpoch = 25,
    batchSize = 2,
    maskRatio = 0.75,
    block = 8,
    initialLr = 1e-2,
    seed = 12345,
    onProgress,
    onEpochEnd,
  } = opts;
  const counts = [
    [epochs, "epochs"],
    [iterationsPerEpoch, "iterationsPerEpoch"],
    [batchSize, "batchSize"],
    [block, "block"],
  ] as const;
  for (const [v, name] of counts) checkInt(v, name, { min: 1 });
  checkNumber(maskRatio, "maskRatio", { min: 0, max: 0.999999 });
  checkNumber(initialLr, "initialLr", { gt: 0 });
  checkInt(seed, "seed", { min: 0, max: 2 ** 32 - 1 });
  features.forEach((f, i) => checkInt(f, `features[${i}]`, { min: 1 }));
  opts.blocks?.forEach((b, i) => checkInt(b, `blocks[${i}]`, { min: 1 }));
  checkSpacing(spacing, "spacing");
  patch.forEach((p, i) => checkInt(p, `patch[${i}]`, { min: 1 }));
  const blocks = opts.blocks ?? features.map((_, i) => (i < 2 ? 1 : 2));
  if (patch.length !== 3 || spacing.length !== 3) throw new ConfigError(`invalid --patch/--spacing: 3 numbers each expected, got [${patch}] and [${spacing}]`);
  await initBackend();
  await probeWritable(output);
  const cases = await discoverPretrainCases(await pretrainFolders(input));
  if (!cases.length) throw new ConfigError(`no NIfTI images found to pretrain on`, { file: input });
  const volumes = await loadPretrainVolumes(cases, path.join(output, "nnsslPlans_onemmiso"), spacing, { onProgress });
  const C = volumes[0]!.shape[0]!;
  const name = opts.name ?? path.basename(path.resolve(input));

  const archKwargs = arch === "ResEncL" ? null : resEncArchKwargs(features, blocks);
  const architecture: ArchitectureBlock | string =
    arch === "ResEncL"
      ? "ResEncL"
      : {
          network_class_name: "dynamic_network_architectures.architectures.unet.ResidualEncoderUNet",
          arch_kwargs: archKwargs,
          _kw_requires_import: ["conv_op", "norm_op", "dropout_op", "nonlin"],
        };
  const net: Network = buildNetwork(architecture, { inputChannels: C, numClasses: C, deepSupervision: false, patchSize: patch, seed });
  const vars = net.namedParameters().map(([, v]) => v);
  const opt = new SGD(vars, { lr: initialLr, momentum: 0.99, weightDecay: 3e-5, nesterov: true, initialLr, layouts: net.parameterLayouts() });
  const plan = buildAdaptationPlan({ arch, archKwargs, patch, spacing, channels: C, datasetName: name });
  const trainerName = `BaseMAETrainer_nnsslAdapt_BS${batchSize}_ep${epochs}`;
  const initArgs = {
    plan: floatsDeep(plan.pretrain_plan),
    configuration_name: "onemmiso",
    fold: "all",
    pretrain_json: { collection_name: name },
    device: new TorchDevice("cpu"),
  };

  const latest = path.join(output, "checkpoint_latest.pth");
  let startEpoch = 0;
  const log: PretrainLog = { train_losses: [], lrs: [], epoch_start_timestamps: [], epoch_end_timestamps: [] };
  if (await exists(latest)) {
    const ck = (await loadTorchFile(latest)) as Record<string, unknown>;
    await net.loadStateDict(ck.network_weights as Map<string, never>);
    opt.loadStateDict(ck.optimizer_state, latest);
    startEpoch = Number(ck.current_epoch);
    const l = ck.logging as Record<string, number[]>;
    for (const k of Object.keys(log) as (keyof PretrainLog)[]) log[k] = [...(l[k] ?? [])].map(Number);
  }

  // The sampling stream is re-seeded per epoch so a resumed run draws what an uninterrupted one would have.
  const n = patch[0]! * patch[1]! * patch[2]!;
  const xBuf = new Float32Array(batchSize * C * n);
  const mBuf = new Float32Array(batchSize * n);
  for (let epoch = startEpoch; epoch < epochs; epoch++) {
    const rs = new RandomState(seed + epoch);
    opt.lr = initialLr * Math.pow(1 - epoch / epochs, 0.9);
    const t0 = Date.now() / 1000;
    let sum = 0;
    for (let it = 0; it < iterationsPerEpoch; it++) {
      for (let b = 0; b < batchSize; b++) {
        samplePatch(volumes[rs.randint(0, volumes.length)]!, patch, rs, xBuf, b);
        mBuf.set(createBlockyMask(patch, block, maskRatio, rs), b * n);
      }
      const x = tf.tensor5d(xBuf, [batchSize, C, patch[0]!, patch[1]!, patch[2]!]);
      const m = tf.tensor5d(mBuf, [batchSize, 1, patch[0]!, patch[1]!, patch[2]!]);
      const xin = tf.mul(x, m);
      const { value, grads } = tf.variableGrads(() => maeMseLoss(net.forward(xin) as tf.Tensor, x, m), vars);
      const { grads: clipped } = clipGradNorm(
        vars.map((v) => grads[v.name] ?? null),
        12,
      );
      opt.step(clipped);
      sum += (await value.data())[0]!;
      tf.dispose([x, m, xin, value, ...clipped.filter((g): g is tf.Tensor => g !== null)]);
      onProgress?.({ task: `pretrain epoch ${epoch}`, done: it + 1, total: iterationsPerEpoch, detail: { loss: (sum / (it + 1)).toFixed(4) } });
    }
    const t1 = Date.now() / 1000;
    log.train_losses.push(sum / iterationsPerEpoch);
    log.lrs.push(opt.lr);
    log.epoch_start_timestamps.push(t0);
    log.epoch_end_timestamps.push(t1);
    await cacheOnCpu([...vars, ...opt.stateTensors()]);
    await saveTorchFile(latest, {
      network_weights: net.stateDict(),
      optimizer_state: opt.stateDict(),
      logging: floatsDeep(log),
      current_epoch: epoch + 1,
      init_args: initArgs,
      trainer_name: trainerName,
      nnssl_adaptation_plan: { ...plan, keys_to_in_proj: PyTuple.ofItems(plan.keys_to_in_proj) },
    });
    onEpochEnd?.({ epoch, loss: sum / iterationsPerEpoch, lr: opt.lr, seconds: t1 - t0 });
  }

  // Released nnssl checkpoints carry no training state (add_adaptation_plan.py pops it).
  const checkpoint = path.join(output, "checkpoint_final.pth");
  await cacheOnCpu(vars);
  await saveTorchFile(checkpoint, {
    network_weights: net.stateDict(),
    init_args: initArgs,
    trainer_name: trainerName,
    nnssl_adaptation_plan: { ...plan, keys_to_in_proj: PyTuple.ofItems(plan.keys_to_in_proj) },
    citations: PRETRAIN_CITATIONS,
  });
  const adaptationPlanFile = path.join(output, "adaptation_plan.json");
  await writeJsonAtomic(adaptationPlanFile, { ...plan, trainer_name: trainerName });
  await writeJsonAtomic(path.join(output, "pretrain_log.json"), log);
  await fsp.rm(latest, { force: true });
  const parameters = vars.reduce((s, v) => s + v.size, 0);
  opt.dispose();
  net.dispose();
  return { checkpoint, adaptationPlanFile, epochs, log, parameters };
}
