// What nnUNetv2_predict and nnUNetv2_predict_from_modelfolder do after parsing flags: pick the device, load the
// model folder, predict a folder of raw images. Kept out of the CLI modules so both commands share it.

import { backendInfo, checkDevice } from "../backend/index.js";
import { setOnednnPrecision, type OnednnPrecision } from "../backend/onednn.js";
import { ConfigError } from "../errors.js";
import { checkOptionalInt, checkOptionalNumber } from "../util/check-options.js";
import { probeWritable, removeStaleTempFiles } from "../util/fs.js";
import type { ProgressCallback } from "../util/progress.js";
import { predictFromFiles } from "./predict-from-files.js";
import { NnUNetPredictor } from "./predictor.js";

export interface RunPredictionOptions {
  input: string;
  output: string;
  /** Folds; null = every trained fold. */
  folds: (number | "all")[] | null;
  checkpoint?: string;
  tta?: boolean;
  stepSize?: number;
  saveProbabilities?: boolean;
  continuePrediction?: boolean;
  npp?: number;
  nps?: number;
  numParts?: number;
  partId?: number;
  /** "cpu" or "gpu"; undefined = the best backend present. */
  device?: string;
  /** Force a tfjs backend (webgpu, cpu-onednn, cpu, tensorflow), as --backend / NNSSL_ADAPT_BACKEND. */
  backend?: string;
  tilesPerBatch?: number;
  /** `--precision`: "bf16" runs the convolutions in bf16 on cpu-onednn where the CPU has bf16 instructions (else fp32 with a notice). */
  precision?: OnednnPrecision;
  /** Receives one-line notices (e.g. that bf16 is not available); default: stderr. */
  onNotice?: (line: string) => void;
  onProgress?: ProgressCallback;
  /** Called when a case's files are written. */
  onCase?: (id: string, done: number, total: number) => void;
}

/** Starts the backend (forced by `backend`, else the fastest) and checks `-device` against it (checkDevice). */
export async function selectDevice(device: string | undefined, backend?: string): Promise<string> {
  const info = await backendInfo(backend ? { backend } : {});
  checkDevice(device, info);
  return info.name;
}

/** Predicts `input` into `output` with the model in `modelFolder`; returns the identifiers predicted. */
export async function runPrediction(modelFolder: string, o: RunPredictionOptions): Promise<string[]> {
  checkOptionalNumber(o.stepSize, "stepSize", { gt: 0, max: 1 });
  checkOptionalInt(o.npp, "npp", { min: 1 });
  checkOptionalInt(o.nps, "nps", { min: 1 });
  const numParts = checkOptionalInt(o.numParts, "numParts", { min: 1 }) ?? 1;
  checkOptionalInt(o.partId, "partId", { min: 0, max: numParts - 1 });
  checkOptionalInt(o.tilesPerBatch, "tilesPerBatch", { min: 1 });
  await selectDevice(o.device, o.backend);
  // the output folder must be writable before the model is loaded and the first case predicted
  await probeWritable(o.output);
  await removeStaleTempFiles(o.output);
  const predictor = new NnUNetPredictor({
    useMirroring: o.tta ?? true,
    ...(o.stepSize !== undefined ? { tileStepSize: o.stepSize } : {}),
    ...(o.tilesPerBatch !== undefined ? { tilesPerBatch: o.tilesPerBatch } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  await predictor.initializeFromTrainedModelFolder(modelFolder, o.folds, o.checkpoint ?? "checkpoint_final.pth");
  const { notice } = setOnednnPrecision(o.precision ?? "fp32");
  if (notice) (o.onNotice ?? ((line: string) => process.stderr.write(`${line}\n`)))(notice);
  try {
    return await predictFromFiles(predictor, o.input, o.output, {
      saveProbabilities: o.saveProbabilities ?? false,
      overwrite: !o.continuePrediction,
      numProcessesPreprocessing: o.npp ?? 3,
      numProcessesSegmentationExport: o.nps ?? 3,
      numParts: o.numParts ?? 1,
      partId: o.partId ?? 0,
      ...(o.onCase ? { onCase: o.onCase } : {}),
    });
  } finally {
    setOnednnPrecision("fp32");
    predictor.dispose();
  }
}

/** Upstream's `-f 0 1 all` parsing: "all" stays, everything else must be an int. */
export function parseFolds(values: readonly (string | number)[]): (number | "all")[] {
  return values.map((v) => {
    if (v === "all") return "all";
    const n = typeof v === "number" ? v : Number(v);
    if (!Number.isInteger(n) || n < 0) throw new ConfigError(`invalid fold ${JSON.stringify(v)} (expected an integer or "all")`);
    return n;
  });
}
