// The fluent SDK: `await Dataset.load(id).plan().preprocessLike(ckpt, opts).finetune({ fold: 0 })`.
// Every step is a typed object that can also be awaited on its own; each method delegates in one line to the free
// function the CLI uses (planExperiment, preprocessLikeNnssl, trainPretrained, Model.load), so the facade does no work.
// Steps whose outputs already exist on disk (fingerprint, plans) are read back instead of recomputed; preprocessing
// skips finished cases and training continues only when asked (`continueTraining`), like upstream.

import * as path from "node:path";
import type * as aq from "arquero";
import type { Paths } from "./config/env.js";
import { openRawDataset, verifyDatasetIntegrity, type RawCase, type RawDataset } from "./dataset/raw.js";
import { InputError } from "./errors.js";
import { didYouMean } from "./util/did-you-mean.js";
import { hfFolderName, isHuggingFaceUrl, preprocessedDatasetFolder } from "./config/folders.js";
import { extractFingerprint, type ExtractFingerprintOptions } from "./fingerprint/extract-fingerprint.js";
import type { Fingerprint } from "./fingerprint/fingerprint.js";
import { planExperiment, type PlanExperimentOptions } from "./planning/plan-experiment.js";
import { defaultPlansName } from "./planning/planners.js";
import { loadPlans, type Plans as PlansJson } from "./planning/plans.js";
import type { PreprocessedFormat } from "./preprocessing/nnunet-format.js";
import { compareAdaptationModes, preprocessLikeNnssl, type AdaptationModeComparison, type PreprocessLikeNnsslOptions } from "./preprocessing/like-nnssl.js";
import { preprocess } from "./preprocessing/preprocess.js";
import { planLikeDynamic, type PlanLikeDynamicOptions } from "./preprocessing/plan-like-dynamic.js";
import type { Checkpoint } from "./checkpoint/checkpoint.js";
import { train, trainPretrained, type TrainOptions, type TrainingRun } from "./training/run-training.js";
import { Model, type ModelLoadOptions } from "./inference/model.js";
import { exists } from "./util/fs.js";
import type { ProgressCallback } from "./util/progress.js";

type Step<T> = PromiseLike<T>;

/** A pending step: awaitable, and chainable into the next step before it resolves. */
abstract class Pending<T> implements PromiseLike<T> {
  constructor(protected readonly promise: Promise<T>) {}
  then<A = T, B = never>(ok?: ((v: T) => A | PromiseLike<A>) | null, fail?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.promise.then(ok, fail);
  }
}

export interface DatasetLoadOptions {
  paths?: Paths;
}

/** A raw nnU-Net dataset ($nnUNet_raw/DatasetXXX_Name, or any folder with dataset.json). */
export class Dataset {
  constructor(
    readonly raw: RawDataset,
    readonly paths: Paths = {},
  ) {}

  /** @example const ds = await Dataset.load("Dataset001_Example") */
  static load(idOrNameOrPath: number | string, { paths = {} }: DatasetLoadOptions = {}): PendingDataset {
    return new PendingDataset(openRawDataset(idOrNameOrPath, paths).then((raw) => new Dataset(raw, paths)));
  }

  get name(): string {
    return this.raw.name;
  }
  get identifiers(): readonly string[] {
    return this.raw.identifiers;
  }
  /** A case's image files and label file; an unknown id names the closest valid ones. @example ds.case("Example_003").images */
  case(id: string): RawCase {
    const c = Object.hasOwn(this.raw.cases, id) ? this.raw.cases[id] : undefined;
    if (!c) throw new InputError(`no case "${id}" in ${this.raw.name}${didYouMean(id, this.raw.identifiers, "case ids")}`);
    return c;
  }
  /** `$nnUNet_preprocessed/DatasetXXX_Name`. */
  get preprocessedFolder(): string {
    return preprocessedDatasetFolder(this.raw, this.paths);
  }

  /** upstream verify_dataset_integrity; throws one InputError listing every problem. */
  verify(opts: { numWorkers?: number } = {}): Promise<{ warnings: string[] }> {
    return verifyDatasetIntegrity(this.raw, opts);
  }

  /** dataset_fingerprint.json (read back when it exists, unless `clean`). */
  fingerprint(opts: Omit<ExtractFingerprintOptions, "paths"> = {}): Promise<Fingerprint> {
    return extractFingerprint(this.raw, { ...opts, paths: this.paths });
  }

  /** Fingerprint (if missing) and experiment planning; an existing plans file of the same name is reused. */
  plan(opts: Omit<PlanExperimentOptions, "paths"> & { replan?: boolean; onProgress?: ProgressCallback } = {}): PendingPlans {
    return new PendingPlans(planDataset(this, opts));
  }

  /** Target spacing, median shape, patch coverage and disk size of every adaptation mode, without writing data. */
  compareAdaptationModes(checkpoint: string | Checkpoint, opts: { overrideSpacing?: number[] } = {}): Promise<AdaptationModeComparison[]> {
    return compareAdaptationModes(this.raw, checkpoint, { ...opts, paths: this.paths });
  }
}

async function planDataset(ds: Dataset, opts: Omit<PlanExperimentOptions, "paths"> & { replan?: boolean; onProgress?: ProgressCallback }): Promise<Plans> {
  const { replan = false, onProgress, ...planOpts } = opts;
  const fingerprint = await ds.fingerprint({ onProgress });
  // The plans file the planner would write, to find an existing plan without planning again (planner classes: replan).
  const plannerName = typeof planOpts.planner === "string" ? planOpts.planner : planOpts.planner === undefined ? "ExperimentPlanner" : undefined;
  const plansName = planOpts.plansName ?? (plannerName ? defaultPlansName(plannerName) : undefined);
  const file = plansName ? path.join(ds.preprocessedFolder, `${plansName}.json`) : null;
  if (!replan && file && (await exists(file))) return new Plans(ds, await loadPlans(file), file);
  const json = await planExperiment(ds.raw, { ...planOpts, fingerprint, paths: ds.paths });
  return new Plans(ds, json, path.join(ds.preprocessedFolder, `${json.plans_name}.json`));
}

/** A dataset's plans (nnUNetPlans.json, a ResEnc plans file, or a ptPlans__ file). */
export class Plans {
  constructor(
    readonly dataset: Dataset,
    readonly json: PlansJson,
    readonly file: string,
  ) {}

  get name(): string {
    return this.json.plans_name;
  }
  get configurations(): string[] {
    return Object.keys(this.json.configurations);
  }

  /** nnUNetv2_preprocess_like_nnssl: adapted ptPlans + preprocessed 3d_fullres data (finished cases are kept). */
  preprocessLike(checkpoint: string | Checkpoint, opts: Omit<PreprocessLikeNnsslOptions, "paths" | "name"> & { name?: string } = {}): PendingPreprocessed {
    return new PendingPreprocessed(
      preprocessLikeNnssl(this.dataset.raw, checkpoint, { name: opts.name ?? defaultName(checkpoint), ...opts, paths: this.dataset.paths }).then(
        (r) => new PreprocessedDataset(this.dataset, new Plans(this.dataset, r.plans, r.plansFile), "3d_fullres", r.cases),
      ),
    );
  }

  /**
   * nnUNetv2_plan_like_dynamic with these plans as the base (-pl): `ptPlans_dynamic__<name>` keeps this architecture,
   * spacing and patch size and only adds pretrain_info; fine-tune it with `trainer: "DynamicPretrainedTrainer"`.
   */
  planLikeDynamic(
    checkpoint: string | Checkpoint,
    opts: Omit<PlanLikeDynamicOptions, "paths" | "name" | "plansIdentifier"> & { name?: string } = {},
  ): PendingPreprocessed {
    const o = { name: opts.name ?? defaultName(checkpoint), ...opts, plansIdentifier: this.name, paths: this.dataset.paths };
    return new PendingPreprocessed(
      planLikeDynamic(this.dataset.raw, checkpoint, o).then(
        (r) => new PreprocessedDataset(this.dataset, new Plans(this.dataset, r.plans, r.plansFile), "3d_fullres", r.cases),
      ),
    );
  }

  /** nnUNetv2_preprocess for standard plans (default configuration 3d_fullres). */
  preprocess(opts: { configuration?: string; numWorkers?: number; onProgress?: ProgressCallback; format?: PreprocessedFormat } = {}): PendingPreprocessed {
    const configuration = opts.configuration ?? "3d_fullres";
    const o = { plansName: this.name, configurations: [configuration], numWorkers: opts.numWorkers, paths: this.dataset.paths, onProgress: opts.onProgress };
    return new PendingPreprocessed(
      preprocess(this.dataset.raw.folder, { ...o, ...(opts.format ? { format: opts.format } : {}) }).then(
        () => new PreprocessedDataset(this.dataset, this, configuration, null),
      ),
    );
  }
}

function defaultName(checkpoint: string | Checkpoint): string {
  const p = typeof checkpoint === "string" ? checkpoint : checkpoint.path;
  return isHuggingFaceUrl(p) ? hfFolderName(p) : path.basename(path.dirname(path.resolve(p)));
}

export type FinetuneOptions = Omit<TrainOptions, "dataset" | "configuration" | "plans" | "paths" | "fold"> & { fold?: TrainOptions["fold"] };

/** Preprocessed data of one plans configuration, ready for training. */
export class PreprocessedDataset {
  constructor(
    readonly dataset: Dataset,
    readonly plans: Plans,
    readonly configuration: string,
    readonly cases: aq.ColumnTable | null,
  ) {}

  get folder(): string {
    const c = this.plans.json.configurations[this.configuration] as { data_identifier?: string } | undefined;
    return path.join(this.dataset.preprocessedFolder, c?.data_identifier ?? `${this.plans.name}_${this.configuration}`);
  }

  /** nnUNetv2_train_pretrained (PretrainedTrainer by default; `fromScratch` trains the same network without weights). */
  finetune(opts: FinetuneOptions = {}): PendingRun {
    return new PendingRun(
      trainPretrained({ fold: 0, ...opts, dataset: this.dataset.name, configuration: this.configuration, plans: this.plans.name, paths: this.dataset.paths }),
      this.dataset.paths,
    );
  }

  /** nnUNetv2_train: plain nnU-Net training (nnUNetTrainer by default). */
  train(opts: FinetuneOptions = {}): PendingRun {
    return new PendingRun(
      train({ fold: 0, ...opts, dataset: this.dataset.name, configuration: this.configuration, plans: this.plans.name, paths: this.dataset.paths }),
      this.dataset.paths,
    );
  }
}

/** Opens the trained model of a run (its fold) for prediction. */
export function modelOf(run: TrainingRun, opts: ModelLoadOptions = {}): Promise<Model> {
  return Model.load(run.outputFolderBase, { folds: [run.fold], ...opts });
}

export class PendingDataset extends Pending<Dataset> {
  plan(opts?: Parameters<Dataset["plan"]>[0]): PendingPlans {
    return new PendingPlans(this.promise.then((d) => d.plan(opts)));
  }
  fingerprint(opts?: Parameters<Dataset["fingerprint"]>[0]): Promise<Fingerprint> {
    return this.promise.then((d) => d.fingerprint(opts));
  }
  verify(opts?: Parameters<Dataset["verify"]>[0]): Promise<{ warnings: string[] }> {
    return this.promise.then((d) => d.verify(opts));
  }
  compareAdaptationModes(...a: Parameters<Dataset["compareAdaptationModes"]>): Promise<AdaptationModeComparison[]> {
    return this.promise.then((d) => d.compareAdaptationModes(...a));
  }
  /** Shortcut for `.plan().preprocessLike(...)` with the default planner. */
  preprocessLike(...a: Parameters<Plans["preprocessLike"]>): PendingPreprocessed {
    return this.plan().preprocessLike(...a);
  }
  /** Shortcut for `.plan().planLikeDynamic(...)` with the default planner. */
  planLikeDynamic(...a: Parameters<Plans["planLikeDynamic"]>): PendingPreprocessed {
    return this.plan().planLikeDynamic(...a);
  }
}

export class PendingPlans extends Pending<Plans> {
  preprocessLike(...a: Parameters<Plans["preprocessLike"]>): PendingPreprocessed {
    return new PendingPreprocessed(this.promise.then((p) => p.preprocessLike(...a)));
  }
  preprocess(...a: Parameters<Plans["preprocess"]>): PendingPreprocessed {
    return new PendingPreprocessed(this.promise.then((p) => p.preprocess(...a)));
  }
  planLikeDynamic(...a: Parameters<Plans["planLikeDynamic"]>): PendingPreprocessed {
    return new PendingPreprocessed(this.promise.then((p) => p.planLikeDynamic(...a)));
  }
}

export class PendingPreprocessed extends Pending<PreprocessedDataset> {
  finetune(opts?: FinetuneOptions): PendingRun {
    return new PendingRun(
      this.promise.then((p) => p.finetune(opts)),
      {},
    );
  }
  train(opts?: FinetuneOptions): PendingRun {
    return new PendingRun(
      this.promise.then((p) => p.train(opts)),
      {},
    );
  }
}

export class PendingRun extends Pending<TrainingRun> {
  constructor(
    promise: Promise<TrainingRun> | Step<TrainingRun>,
    readonly paths: Paths,
  ) {
    super(Promise.resolve(promise));
  }
  /** The trained model of this run, for prediction. */
  model(opts?: ModelLoadOptions): Promise<Model> {
    return this.promise.then((r) => modelOf(r, opts));
  }
}
