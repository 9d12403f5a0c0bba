// Every folder rule of the pipeline, in one place: where a raw dataset, its preprocessed files, a trained model and a
// downloaded pretrained checkpoint live. The names follow nnU-Net (nnunetv2/paths.py, get_output_folder in
// nnunetv2/utilities/file_path_utilities.py) and nnssl's Hub download (maybe_download_pretrained_weights in the nnssl
// fork's like_nnssl.py), so folders written by either tool are found by the other.
//
//   $nnUNet_raw/DatasetXXX_Name/                                          raw images, labels, dataset.json
//   $nnUNet_preprocessed/DatasetXXX_Name/                                 fingerprint, plans, splits, gt_segmentations
//   $nnUNet_preprocessed/DatasetXXX_Name/<data_identifier>/               preprocessed cases (<case>.npy, _seg.npy, .pkl/.json)
//   $nnUNet_results/DatasetXXX_Name/<trainer>__<plans>__<configuration>/  model folder (plans.json, dataset.json)
//   .../<trainer>__<plans>__<configuration>/fold_<f>/                     checkpoints, logs, validation
//   $nnssl_pretrained_models/<org>_<repo>/                                a checkpoint downloaded from Hugging Face

import * as path from "node:path";
import { requirePath, type Paths } from "./env.js";

/** `$nnUNet_raw/<DatasetXXX_Name>` */
export function rawDatasetFolder(datasetName: string, paths?: Paths): string {
  return path.join(requirePath("nnUNet_raw", paths), datasetName);
}

/** `$nnUNet_preprocessed/<DatasetXXX_Name>`: dataset_fingerprint.json, plans files, splits_final.json, gt_segmentations/. */
export function preprocessedDatasetFolder(dataset: string | { readonly name: string }, paths?: Paths): string {
  return path.join(requirePath("nnUNet_preprocessed", paths), typeof dataset === "string" ? dataset : dataset.name);
}

/** `<trainer>__<plans>__<configuration>`, the model folder name of upstream's get_output_folder. */
export function modelFolderName(trainer: string, plans: string, configuration: string): string {
  return `${trainer}__${plans}__${configuration}`;
}

/** `$nnUNet_results/<DatasetXXX_Name>/<trainer>__<plans>__<configuration>` (upstream's get_output_folder without a fold). */
export function modelFolder(datasetName: string, trainer: string, plans: string, configuration: string, paths?: Paths): string {
  return path.join(requirePath("nnUNet_results", paths), datasetName, modelFolderName(trainer, plans, configuration));
}

/** `fold_<f>` (`fold_all` for the model trained on every case). */
export function foldFolderName(fold: number | "all"): string {
  return `fold_${fold}`;
}

/** Upstream treats a checkpoint argument as a Hugging Face Hub repository only when it starts with exactly this prefix. */
export const HF_URL_PREFIX = "https://huggingface.co/";

/** True for `https://huggingface.co/<org>/<repo>` (the only form upstream downloads). */
export function isHuggingFaceUrl(s: string): boolean {
  return s.startsWith(HF_URL_PREFIX);
}

/** `url.split("https://huggingface.co/")[-1].strip("/")`, as upstream: `<org>/<repo>`. */
export function hfRepoId(url: string): string {
  return url
    .split(HF_URL_PREFIX)
    .pop()!
    .replace(/^\/+|\/+$/g, "");
}

/** `<org>_<repo>`: the folder name a Hub checkpoint is downloaded to, also the default adapted-plans name. */
export function hfFolderName(url: string): string {
  return hfRepoId(url).replaceAll("/", "_");
}

/** `$nnssl_pretrained_models/<org>_<repo>` (absolute). */
export function pretrainedModelFolder(url: string, paths?: Paths): string {
  return path.resolve(requirePath("nnssl_pretrained_models", paths), hfFolderName(url));
}
