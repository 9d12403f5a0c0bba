// What nnUNetv2_predict and nnUNetv2_predict_from_modelfolder do after parsing flags: pick the device, load the
// model folder, predict a folder of raw images. Kept out of the CLI modules so both commands share it.

import { backendInfo, initBackend } from "../backend/index.js";
import { setOnednnPrecision, type OnednnPrecision } from "../backend/onednn.js";
import { ConfigError } from "../errors.js";
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
  tilesPerBatch?: number;
  /** `--precision`: "bf16" runs the convolutions in bf16 on cpu-onednn where the CPU has bf16 instructions (else fp32 with a notice). */
  precision?: OnednnPrecision;
  /** Receives one-line notices (e.g. that bf16 is not available); default: stderr. */
  onNotice?: (line: string) => void;
  onProgress?: ProgressCallback;
  /** Called when a case's files are written. */
  onCase?: (id: string, done: number, total: number) => void;
}

/** Checks `-device` against the backends present; "gpu"/"cuda" needs tfjs-node-gpu, "mps" has no tfjs backend. */
export async function selectDevice(device: string | undefined): Promise<string> {
  const name = await initBackend();
  if (device === undefined || device === "cpu") return name;
  if (device === "gpu" || device === "cuda") {
    const info = await backendInfo();
    if (info.provider !== "@tensorflow/tfjs-node-gpu") {
      throw new ConfigError(`-device ${device}: no GPU backend (install @tensorflow/tfjs-node-gpu); using ${name} would be -device cpu`);
    }
    return name;
  }
  throw new ConfigError(`-device must be cpu or gpu, got ${device}`);
}

/** Predicts `input` into `output` with the model in `modelFolder`; returns the identifiers predicted. */
export async function runPrediction(modelFolder: string, o: RunPredictionOptions): Promise<string[]> {
  await selectDevice(o.device);
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
