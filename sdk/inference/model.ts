// The notebook-facing model: `await Model.load(folder | {dataset, trainer, plans, configuration, folds})`, then
// `await model.predict(image)`, which returns labels in the source image's geometry. A thin shell over
// NnUNetPredictor (the work lives there and in export.ts).

import type { Paths } from "../config/env.js";
import { InputError } from "../errors.js";
import { readImages, writeSeg, type ImageProperties, type ImageVolume } from "../io/image-io.js";
import type { LabelValue } from "../dataset/labels.js";
import { runCase } from "../preprocessing/default-preprocessor.js";
import type { ProgressCallback } from "../util/progress.js";
import { planReaderWriter } from "./export.js";
import { getOutputFolder } from "./model-folder.js";
import { NnUNetPredictor } from "./predictor.js";

export interface ModelLoadOptions {
  /** Folds to ensemble; default: every fold_N with the checkpoint. */
  folds?: (number | "all")[];
  checkpoint?: string;
  /** Test-time mirroring; default true. */
  tta?: boolean;
  stepSize?: number;
  tilesPerBatch?: number;
  onProgress?: ProgressCallback;
}

export interface ModelSource extends ModelLoadOptions {
  dataset: number | string;
  trainer?: string;
  plans?: string;
  configuration?: string;
  paths?: Paths;
}

/** A predicted label map in the geometry of the image it came from. */
export interface LabelledVolume {
  /** Labels, C-order over `shape` (nnU-Net axis order: the file's axes reversed). */
  data: Uint8Array | Uint16Array;
  shape: number[];
  /** Spacing and the reader's geometry (sitk_stuff / nibabel_stuff), so `save` writes a file aligned with the input. */
  properties: ImageProperties;
  /** dataset.json labels: name -> value (or region). */
  labels: Record<string, LabelValue>;
  /** Softmax / sigmoid probabilities [H, ...shape] when asked for. */
  probabilities?: Float32Array;
  /** Writes the labels as NIfTI with the source geometry. */
  save(file: string): Promise<void>;
}

export class Model {
  private constructor(
    readonly predictor: NnUNetPredictor,
    readonly folder: string,
  ) {}

  /**
   * Loads a trained model: a model folder (with plans.json, dataset.json, fold_N/checkpoint_final.pth), or the
   * trained configuration of a dataset under $nnUNet_results.
   * @example const model = await Model.load({ dataset: 4, configuration: "3d_fullres", folds: [0] });
   */
  static async load(source: string | ModelSource, opts: ModelLoadOptions = {}): Promise<Model> {
    const o = typeof source === "string" ? opts : { ...source, ...opts };
    const folder = typeof source === "string" ? source : await getOutputFolder(source);
    const predictor = new NnUNetPredictor({
      useMirroring: o.tta ?? true,
      ...(o.stepSize !== undefined ? { tileStepSize: o.stepSize } : {}),
      ...(o.tilesPerBatch !== undefined ? { tilesPerBatch: o.tilesPerBatch } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
    await predictor.initializeFromTrainedModelFolder(folder, o.folds ?? null, o.checkpoint ?? "checkpoint_final.pth");
    return new Model(predictor, folder);
  }

  get labels(): Record<string, LabelValue> {
    return this.predictor.datasetJson.labels;
  }

  get numInputChannels(): number {
    return Object.keys(this.predictor.datasetJson.channel_names ?? this.predictor.datasetJson.modality ?? {}).length;
  }

  /**
   * Segments one case: channel files (channel 0 first), one file for single-channel models, or an image already read
   * with readImages. Preprocessing, sliding window, fold ensemble and export are upstream's.
   */
  async predict(input: string | string[] | ImageVolume, { probabilities = false }: { probabilities?: boolean } = {}): Promise<LabelledVolume> {
    const p = this.predictor;
    const rw = planReaderWriter(p.plans);
    const image = typeof input === "string" || Array.isArray(input) ? await readImages(typeof input === "string" ? [input] : input, rw) : input;
    if (image.shape[0] !== this.numInputChannels) {
      const what = typeof input === "string" ? input : Array.isArray(input) ? input.join(", ") : "image";
      throw new InputError(`the model takes ${this.numInputChannels} channel(s), got ${image.shape[0]}`, { file: what });
    }
    const pre = await runCase(image, null, p.plans, p.configurationName, p.datasetJson);
    const properties = pre.properties;
    const r = await p.predictPreprocessedToSegmentation(pre.data, pre.shape, properties, { returnProbabilities: probabilities });
    const imgProps = image.properties;
    return {
      data: r.segmentation,
      shape: r.shape,
      properties: imgProps,
      labels: this.labels,
      ...(r.probabilities ? { probabilities: r.probabilities } : {}),
      save: (file: string) => writeSeg(r.segmentation, r.shape, file, imgProps, rw),
    };
  }

  dispose(): void {
    this.predictor.dispose();
  }
}
