// One case of DefaultPreprocessor.run (read -> runCase -> save), as a worker-thread task: the input and the returned
// summary are small and structured-cloneable; the volumes never leave the worker.

import { READER_WRITER_NAMES, readImages, readSeg, type ReaderWriterName } from "../io/image-io.js";
import type { DatasetJson } from "../dataset/raw.js";
import { NnsslAdaptError } from "../errors.js";
import { resolveConfiguration, type Plans } from "../planning/plans.js";
import { caseTargetSpacing, runCase } from "./default-preprocessor.js";
import type { PreprocessedFormat } from "./nnunet-format.js";
import { preprocessedCaseExists, readPreprocessedCaseInfo, savePreprocessedCase } from "./preprocessed-dataset.js";

export interface PreprocessCaseInput {
  identifier: string;
  images: string[];
  label: string | null;
  /** The data-identifier folder the case files go to. */
  outputFolder: string;
  plans: Plans;
  configurationName: string;
  datasetJson: DatasetJson;
  readerWriter: ReaderWriterName;
  /** false: a case whose three files exist is skipped. */
  overwrite: boolean;
  /** How the case is stored: ours (.npy + .json, the default) or Python nnU-Net master's numpy layout (.npz + .pkl). */
  format?: PreprocessedFormat;
}

/** What the per-case table reports (transposed axis order). */
export interface PreprocessCaseSummary {
  identifier: string;
  skipped: boolean;
  /** Spacing of the case after transpose. */
  originalSpacing: number[];
  /** Shape after cropping, before resampling. */
  originalShape: number[];
  targetSpacing: number[];
  /** Shape of the stored arrays (without the channel axis). */
  newShape: number[];
}

/** The reader named in the plans (`image_reader_writer`), else the dataset's. */
export function readerWriterFor(plans: Plans, fallback: ReaderWriterName): ReaderWriterName {
  return (READER_WRITER_NAMES as readonly string[]).includes(plans.image_reader_writer) ? (plans.image_reader_writer as ReaderWriterName) : fallback;
}

/**
 * Reads, preprocesses and stores one case, unless it is already complete and `overwrite` is false.
 * @example
 * await preprocessCaseTask({ identifier: "Tiny_000", images, label, outputFolder, plans, configurationName: "3d_fullres", datasetJson,
 *   readerWriter: "NibabelIO", overwrite: true })
 */
export async function preprocessCaseTask(input: PreprocessCaseInput): Promise<PreprocessCaseSummary> {
  const { identifier, outputFolder, overwrite } = input;
  if (!overwrite && (await preprocessedCaseExists(outputFolder, identifier, input.format))) {
    const { shape, properties } = await readPreprocessedCaseInfo(outputFolder, identifier);
    const originalSpacing = input.plans.transpose_forward.map((i) => properties.spacing[i]!);
    const targetSpacing = caseTargetSpacing(resolveConfiguration(input.plans, input.configurationName), originalSpacing);
    return {
      identifier,
      skipped: true,
      originalSpacing,
      originalShape: properties.shape_after_cropping_and_before_resampling,
      targetSpacing,
      newShape: shape.slice(1),
    };
  }
  const images = await readImages(input.images, input.readerWriter);
  const seg = input.label ? await readSeg(input.label, input.readerWriter) : null;
  let out: ReturnType<typeof runCase>;
  try {
    out = runCase(images, seg, input.plans, input.configurationName, input.datasetJson);
  } catch (err) {
    // runCase works on arrays and does not know the files: name the case's files (as the fingerprint does)
    if (err instanceof NnsslAdaptError && err.file === undefined) {
      const cls = err.constructor as typeof NnsslAdaptError;
      throw new cls(err.message, { file: [...input.images, ...(input.label ? [input.label] : [])].join(", "), cause: err });
    }
    throw err;
  }
  await savePreprocessedCase(outputFolder, identifier, out, input.format);
  const tf = input.plans.transpose_forward;
  const originalSpacing = tf.map((i) => images.properties.spacing[i]!);
  const originalShape = out.properties.shape_after_cropping_and_before_resampling;
  const targetSpacing = caseTargetSpacing(resolveConfiguration(input.plans, input.configurationName), originalSpacing);
  return { identifier, skipped: false, originalSpacing, originalShape, targetSpacing, newShape: out.shape.slice(1) };
}
