// nnssl-adapt public API. Named exports only, grouped by concept; internals stay importable by path from dist/.
// Notebook display helpers are a separate entry point: "nnssl-adapt/kernel-extensions".

// fluent facade
export { Dataset, Plans, PreprocessedDataset, modelOf, PendingDataset, PendingPlans, PendingPreprocessed, PendingRun } from "./facade.js";
export type { DatasetLoadOptions, FinetuneOptions } from "./facade.js";

// backend
export { tf, initBackend, backendInfo } from "./backend/index.js";
export type { BackendInfo } from "./backend/index.js";
export { registerOnednnBackend } from "./backend/onednn.js";
export type { OnednnStatus, RegisterOnednnOptions } from "./backend/onednn.js";

// configuration, errors, warnings, progress
export { requirePath, lookupPath, resolvePaths, PATH_NAMES } from "./config/env.js";
export type { Paths, PathName } from "./config/env.js";
export { rawDatasetFolder, preprocessedDatasetFolder, modelFolder, modelFolderName, foldFolderName, pretrainedModelFolder } from "./config/folders.js";
export { ENVIRONMENT } from "./config/switches.js";
export { ANISO_THRESHOLD } from "./config/constants.js";
export { NnsslAdaptError, InputError, CheckpointError, ConfigError } from "./errors.js";
export { didYouMean } from "./util/did-you-mean.js";
export { warn, consumeWarnings, onWarning } from "./warnings.js";
export type { ProgressEvent, ProgressCallback } from "./util/progress.js";
export { RandomState } from "./util/random-state.js";
export { encodePng } from "./util/png.js";

// io: images, npy, torch files
export { readImages, readSeg, writeSeg, READER_WRITER_NAMES } from "./io/image-io.js";
export type { ReaderWriterName, ImageProperties, ImageVolume } from "./io/image-io.js";
export { parseNifti, readNifti, writeNifti, formatNifti1 } from "./io/nifti/index.js";
export type { NiftiImage, NiftiHeader, NiftiDtype } from "./io/nifti/index.js";
export { parseNpy, formatNpy, readNpyFile, writeNpyFile } from "./io/npy.js";
export type { NpyArray, NpyDtype } from "./io/npy.js";
export {
  TorchTensor,
  PyTuple,
  PyFloat,
  pyFloat,
  orderedDict,
  isOrderedDict,
  TorchDevice,
  TorchDtype,
  NumpyArray,
  loadTorchFile,
  parseTorch,
  saveTorchFile,
  formatTorch,
} from "./io/torch/index.js";
export type { TorchDtypeName, TorchStorage, LoadTorchOptions, FormatTorchOptions } from "./io/torch/index.js";

// raw datasets
export { openRawDataset, convertIdToDatasetName, maybeConvertToDatasetName, verifyDatasetIntegrity, loadDatasetJson } from "./dataset/raw.js";
export type { DatasetJson, RawDataset, RawCase, VerifyOptions } from "./dataset/raw.js";
export { LabelManager } from "./dataset/labels.js";
export { generateExampleDataset, generateSyntheticDataset, EXAMPLE_DATASET_SPEC, SYNTHETIC_PRESETS } from "./dataset/synthetic.js";
export type { SyntheticDatasetSpec } from "./dataset/synthetic.js";

// checkpoints (nnssl, Hugging Face)
export { Checkpoint, resolveCheckpointPath } from "./checkpoint/checkpoint.js";
export type { AdaptationPlan, ArchitecturePlans, PretrainPlan, PretrainConfigurationPlan, CheckpointLoadOptions } from "./checkpoint/checkpoint.js";
export { summarizeCheckpoint } from "./checkpoint/inspect.js";
export type { CheckpointSummary, TensorSummary } from "./checkpoint/inspect.js";

// fingerprint and planning
export { cropToNonzero } from "./fingerprint/crop-to-nonzero.js";
export { extractFingerprint } from "./fingerprint/extract-fingerprint.js";
export type { ExtractFingerprintOptions } from "./fingerprint/extract-fingerprint.js";
export { Fingerprint } from "./fingerprint/fingerprint.js";
export { planExperiment } from "./planning/plan-experiment.js";
export type { PlanExperimentOptions } from "./planning/plan-experiment.js";
export { ExperimentPlanner } from "./planning/experiment-planner.js";
export { ResEncUNetPlanner, nnUNetPlannerResEncM, nnUNetPlannerResEncL, nnUNetPlannerResEncXL } from "./planning/resenc-planners.js";
export { PLANNERS, getPlanner, defaultPlansName } from "./planning/planners.js";
export { loadPlans, savePlans, resolveConfiguration } from "./planning/plans.js";
export type { Plans as PlansJson, ConfigurationPlan } from "./planning/plans.js";
export { getPoolAndConvProps } from "./planning/network-topology.js";

// preprocessing
export { computeNewShape, determineDoSeparateZAndAxis, resampleDataOrSegToShape } from "./preprocessing/resample.js";
export { runCase } from "./preprocessing/default-preprocessor.js";
export type { PreprocessedCase, PreprocessedProperties } from "./preprocessing/default-preprocessor.js";
export { preprocess } from "./preprocessing/preprocess.js";
export { preprocessLikeNnssl, compareAdaptationModes } from "./preprocessing/like-nnssl.js";
export { planLikeDynamic, buildDynamicPlans } from "./preprocessing/plan-like-dynamic.js";
export type { PlanLikeDynamicOptions, PlanLikeDynamicResult } from "./preprocessing/plan-like-dynamic.js";
export type { PreprocessLikeNnsslOptions, PreprocessLikeNnsslResult, AdaptationModeComparison } from "./preprocessing/like-nnssl.js";
export { ADAPTATION_MODES } from "./preprocessing/adapted-plans.js";
export type { AdaptationMode } from "./preprocessing/adapted-plans.js";
export { listPreprocessedCases, loadPreprocessedCase, savePreprocessedCase } from "./preprocessing/preprocessed-dataset.js";
export type { PreprocessedFormat } from "./preprocessing/nnunet-format.js";
export { normalizationScheme, NORMALIZATION_SCHEMES } from "./preprocessing/normalization.js";
export type { NormalizationFn } from "./preprocessing/normalization.js";
export { sampleForegroundLocations } from "./preprocessing/class-locations.js";
export type { ClassLocations } from "./preprocessing/class-locations.js";
export { buildAdaptedPlans, newSpacingFromMode } from "./preprocessing/adapted-plans.js";
export { caseTargetSpacing } from "./preprocessing/default-preprocessor.js";
export type { ResampleOptions } from "./preprocessing/resample.js";
export type { PreprocessOptions } from "./preprocessing/preprocess.js";

// networks
export { buildNetwork, countParameters, stateDictShapes, SUPPORTED_ARCHITECTURES, Network, loadPretrainedWeights } from "./networks/index.js";
export type {
  ArchitectureBlock,
  BuildOptions,
  TransferKeys,
  StateDictInput,
  TensorLike,
  PretrainedCheckpoint,
  TransferOptions,
  TransferReport,
} from "./networks/index.js";

// training
export { trainPretrained, train } from "./training/run-training.js";
export type { TrainOptions, TrainingRun } from "./training/run-training.js";
export type { EpochEndEvent, IterationEvent } from "./training/trainer.js";
export { TRAINERS, resolveTrainer, trainerRows } from "./training/trainers.js";
export type { TrainerSpec, TrainerRow } from "./training/trainers.js";
export type { NnsslTrainerFields, TrainerNetworkKind } from "./training/trainers-nnssl.js";
export { loadPretrainedWeightsDynamic, WeightTransferReport } from "./networks/dynamic-transfer.js";
export type { DynamicTransferOptions, TransferredTensor, SkippedTensor, TransferSource, TransferTableRow } from "./networks/dynamic-transfer.js";
export { checkpointTransfer } from "./training/checkpoint-transfer.js";
export type { CheckpointTransferOptions, CheckpointTransferResult, TransferTensorJson } from "./training/checkpoint-transfer.js";
export { generateCrossvalSplit } from "./training/splits.js";
export type { Fold } from "./training/splits.js";

// inference and evaluation
export { Model } from "./inference/model.js";
export type { ModelLoadOptions, ModelSource, LabelledVolume } from "./inference/model.js";
export { NnUNetPredictor, autoDetectAvailableFolds } from "./inference/predictor.js";
export type { PredictorOptions, PredictorNetwork, ManualInitialization } from "./inference/predictor.js";
export { predictFromFiles } from "./inference/predict-from-files.js";
export type { PredictFromFilesOptions } from "./inference/predict-from-files.js";
export { predictSlidingWindowReturnLogits } from "./inference/sliding-window.js";
export { computeStepsForSlidingWindow } from "./inference/sliding-window-geometry.js";
export { computeGaussian } from "./inference/compute-gaussian.js";
export { convertPredictedLogitsToSegmentationWithCorrectShape, exportPredictionFromLogits } from "./inference/export.js";
export type { ExportProperties, SegmentationResult } from "./inference/export.js";
export { getOutputFolder } from "./inference/model-folder.js";
export { computeMetricsOnFolder, computeMetricsOnFolder2 } from "./evaluation/evaluate-folder.js";
export { computeMetrics } from "./evaluation/metrics.js";
export type { LabelOrRegion, Metrics } from "./evaluation/metrics.js";
export type { EvaluationSummary, CaseMetrics } from "./evaluation/summary.js";

// pretraining (nnssl MAE)
export { pretrainMae } from "./pretraining/mae-trainer.js";
export type { PretrainOptions, PretrainResult } from "./pretraining/mae-trainer.js";
