// The four folders nnU-Net and nnssl read from environment variables (nnunetv2/paths.py), declared once.
// Every SDK entry point also accepts them as options (`Paths`), which is how tests and notebooks override them.

import { ConfigError } from "../errors.js";

/** Folders used by the pipeline. Keys are upstream's environment variable names. */
export interface Paths {
  nnUNet_raw?: string;
  nnUNet_preprocessed?: string;
  nnUNet_results?: string;
  nnssl_pretrained_models?: string;
}

export type PathName = keyof Paths;

/** What each folder holds (part of ENVIRONMENT in switches.ts, and of the error when one is missing). */
export const PATH_MEANING: Readonly<Record<PathName, string>> = {
  nnUNet_raw: "the folder with raw datasets (DatasetXXX_Name/imagesTr, labelsTr, dataset.json)",
  nnUNet_preprocessed: "the folder where fingerprints, plans and preprocessed data are written",
  nnUNet_results: "the folder where trained models are written",
  nnssl_pretrained_models: "the folder where checkpoints downloaded from Hugging Face are kept",
};

export const PATH_NAMES: readonly PathName[] = ["nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results", "nnssl_pretrained_models"];

/** The value of one folder: the option if given, else the environment variable, else undefined. */
export function lookupPath(name: PathName, paths: Paths = {}): string | undefined {
  const v = paths[name] ?? process.env[name];
  return v === undefined || v === "" ? undefined : v;
}

/** Like lookupPath, but a missing value is an error that says which variable to set and what it is for. */
export function requirePath(name: PathName, paths: Paths = {}): string {
  const v = lookupPath(name, paths);
  if (v === undefined) {
    throw new ConfigError(`${name} is not set: export ${name}=/path/to/folder (${PATH_MEANING[name]}), or pass it as an option`);
  }
  return v;
}

/** All four folders as currently resolved (undefined where unset). */
export function resolvePaths(paths: Paths = {}): Paths {
  const out: Paths = {};
  for (const n of PATH_NAMES) out[n] = lookupPath(n, paths);
  return out;
}
