// Raw nnU-Net datasets ($nnUNet_raw/DatasetXXX_Name): dataset.json, case discovery and verify_dataset_integrity
// (nnunetv2/utilities/utils.py, dataset_name_id_conversion.py, experiment_planning/verify_dataset_integrity.py).

import { existsSync, promises as fsp, readFileSync } from "node:fs";
import * as path from "node:path";
import { requirePath, lookupPath, type Paths } from "../config/env.js";
import { InputError, ConfigError } from "../errors.js";
import { READER_WRITER_NAMES, SUPPORTED_FILE_ENDINGS, type ReaderWriterName } from "../io/image-io.js";
import { tiffArrayShape } from "../io/tiff.js";
import { mapInWorkers } from "../util/pool.js";
import { exists, readJson } from "../util/fs.js";
import { warn } from "../warnings.js";
import { LabelManager, type LabelValue } from "./labels.js";
import type { CaseCheckInput, CaseCheckResult } from "./verify-case.js";
import { checkOptionalInt } from "../util/check-options.js";

export interface DatasetJson {
  channel_names?: Record<string, string>;
  /** Legacy name of channel_names (nnU-Net v1). */
  modality?: Record<string, string>;
  labels: Record<string, LabelValue>;
  regions_class_order?: number[];
  numTraining: number;
  file_ending: string;
  overwrite_image_reader_writer?: string;
  /** Explicit case list: paths relative to the dataset folder, environment variables expanded. */
  dataset?: Record<string, { images: string[]; label?: string }>;
  [key: string]: unknown;
}

export interface RawCase {
  images: string[];
  /** Absolute path of the label file, or null when it does not exist. */
  label: string | null;
}

export interface RawDataset {
  id: number;
  /** DatasetXXX_Name */
  name: string;
  folder: string;
  datasetJson: DatasetJson;
  /** Folder form: sorted like np.unique; `dataset` dict form: the dict's key order (as upstream iterates it). */
  identifiers: string[];
  cases: Record<string, RawCase>;
  readerWriter: ReaderWriterName;
}

const NAME_RE = /^Dataset(\d{3})_(.+)$/;

/** Python's sorted() / np.unique order for str: by code point. */
export function codePointCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** os.path.expandvars: $VAR and ${VAR} are replaced when VAR is set, left as they are otherwise. */
export function expandVars(p: string): string {
  return p.replace(/\$(\w+|\{[^}]*\})/g, (m, name: string) => {
    const key = name.startsWith("{") ? name.slice(1, -1) : name;
    return process.env[key] ?? m;
  });
}

async function listDir(folder: string): Promise<string[]> {
  try {
    return (await fsp.readdir(folder, { withFileTypes: true })).filter((d) => d.isFile() || d.isSymbolicLink()).map((d) => d.name);
  } catch {
    return [];
  }
}

/** Dataset names DatasetXXX_* for an id found in $nnUNet_raw, $nnUNet_preprocessed and $nnUNet_results. */
export async function findCandidateDatasets(id: number, paths: Paths = {}): Promise<string[]> {
  const prefix = `Dataset${String(id).padStart(3, "0")}_`;
  const found = new Set<string>();
  for (const key of ["nnUNet_preprocessed", "nnUNet_raw", "nnUNet_results"] as const) {
    const root = lookupPath(key, paths);
    if (!root) continue;
    try {
      for (const d of await fsp.readdir(root, { withFileTypes: true })) if (d.isDirectory() && d.name.startsWith(prefix)) found.add(d.name);
    } catch {
      /* a configured folder that does not exist yet holds no datasets */
    }
  }
  return [...found].sort(codePointCompare);
}

/** nnU-Net's convert_id_to_dataset_name: the unique DatasetXXX_Name with this id. */
export async function convertIdToDatasetName(id: number, paths: Paths = {}): Promise<string> {
  const c = await findCandidateDatasets(id, paths);
  if (c.length > 1) throw new ConfigError(`more than one dataset name found for dataset id ${id}: ${c.join(", ")}; make sure each id is unique`);
  if (c.length === 0) {
    const where = ["nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results"].map((k) => `${k}=${lookupPath(k as "nnUNet_raw", paths) ?? "(unset)"}`).join(", ");
    throw new ConfigError(`could not find a dataset with id ${id} (looked in ${where})`);
  }
  return c[0]!;
}

/** maybe_convert_to_dataset_name: "Dataset123_X" stays, 123 / "123" is looked up. */
export async function maybeConvertToDatasetName(idOrName: number | string, paths: Paths = {}): Promise<string> {
  if (typeof idOrName === "string" && idOrName.startsWith("Dataset")) return idOrName;
  const id = typeof idOrName === "number" ? idOrName : Number(idOrName);
  if (!Number.isInteger(id) || id < 0) throw new ConfigError(`invalid dataset: ${JSON.stringify(idOrName)} (expected an id, DatasetXXX_Name or a folder)`);
  return convertIdToDatasetName(id, paths);
}

/** Reads and checks the keys of dataset.json that every later step relies on. */
export async function loadDatasetJson(file: string): Promise<DatasetJson> {
  const j = await readJson<DatasetJson>(file);
  if (!j || typeof j !== "object" || Array.isArray(j)) throw new InputError("dataset.json must be a JSON object", { file });
  const missing = ["labels", "numTraining", "file_ending"].filter((k) => !(k in j));
  if (!("channel_names" in j) && !("modality" in j)) missing.unshift("channel_names");
  if (missing.length) throw new InputError(`missing required key(s): ${missing.join(", ")}`, { file });
  const ch = j.channel_names ?? j.modality;
  if (!ch || typeof ch !== "object" || Object.keys(ch).length === 0) throw new InputError('channel_names must be a non-empty dict {"0": "CT", ...}', { file });
  if (typeof j.file_ending !== "string" || !j.file_ending.startsWith("."))
    throw new InputError(`file_ending must be a string like ".nii.gz" (got ${JSON.stringify(j.file_ending)})`, { file });
  if (!Number.isInteger(j.numTraining) || j.numTraining < 0)
    throw new InputError(`numTraining must be a non-negative integer (got ${JSON.stringify(j.numTraining)})`, { file });
  if (!j.labels || typeof j.labels !== "object" || Array.isArray(j.labels)) throw new InputError('labels must be a dict {"background": 0, ...}', { file });
  return j;
}

/** The channel names (channel_names, or the legacy modality). */
export function channelNames(j: DatasetJson): Record<string, string> {
  return (j.channel_names ?? j.modality)!;
}

/**
 * The reader nnU-Net would use (determine_reader_writer_from_dataset_json): overwrite_image_reader_writer, else the
 * first reader in upstream's order whose supported endings hold file_ending and that can read `example` (upstream
 * tries to read it): so `.nii` goes to NibabelIO (SimpleITKIO does not list it), and a `.tif` whose first image is
 * 2-d (or RGB) to NaturalImage2DIO, a 3-d one to Tiff3DIO. `file` names the source in errors.
 */
export function determineReaderWriter(j: DatasetJson, file?: string, example?: string): ReaderWriterName {
  const o = j.overwrite_image_reader_writer;
  if (o !== undefined && o !== null && o !== "None") {
    if ((READER_WRITER_NAMES as readonly string[]).includes(o)) return o as ReaderWriterName;
    throw new InputError(`overwrite_image_reader_writer ${JSON.stringify(o)} is not supported (supported: ${READER_WRITER_NAMES.join(", ")})`, { file });
  }
  const ending = j.file_ending.toLowerCase();
  const candidates = SUPPORTED_FILE_ENDINGS.filter(([, endings]) => endings.includes(ending)).map(([rw]) => rw);
  if (candidates.length === 0) {
    const all = [...new Set(SUPPORTED_FILE_ENDINGS.flatMap(([, e]) => e))].filter((e) => e !== ".gipl");
    throw new InputError(`file_ending ${JSON.stringify(j.file_ending)} is not supported (supported: ${all.join(", ")})`, { file });
  }
  if (ending === ".gipl") throw new InputError('file_ending ".gipl" is not supported (convert the images to .mha or .nii.gz)', { file });
  if (ending === ".tif" && candidates[0] === "NaturalImage2DIO" && example !== undefined && existsSync(example)) {
    // NaturalImage2DIO accepts (h, w) and (h, w, 3|4); anything else falls through to Tiff3DIO, as upstream's trial read does.
    const shape = tiffArrayShape(new Uint8Array(readFileSync(example)), example);
    const natural = shape.length === 2 || (shape.length === 3 && (shape[2] === 3 || shape[2] === 4));
    return natural ? "NaturalImage2DIO" : "Tiff3DIO";
  }
  return candidates[0]!;
}

/** get_identifiers_from_splitted_dataset_folder: names ending in `<_XXXX><file_ending>` with the suffix cut, unique, sorted. */
export async function getIdentifiersFromSplittedDatasetFolder(folder: string, fileEnding: string): Promise<string[]> {
  const crop = fileEnding.length + 5;
  const ids = new Set((await listDir(folder)).filter((f) => f.endsWith(fileEnding) && f.length > crop).map((f) => f.slice(0, -crop)));
  return [...ids].sort(codePointCompare);
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** create_lists_from_splitted_dataset_folder: per identifier, its `<id>_XXXX<ending>` files sorted by name. */
export async function createListsFromSplittedDatasetFolder(folder: string, fileEnding: string, identifiers?: string[]): Promise<string[][]> {
  const ids = identifiers ?? (await getIdentifiersFromSplittedDatasetFolder(folder, fileEnding));
  const files = (await listDir(folder)).filter((f) => f.endsWith(fileEnding)).sort(codePointCompare);
  return ids.map((id) => {
    const re = new RegExp(`^${escapeRe(id)}_\\d\\d\\d\\d${escapeRe(fileEnding)}$`);
    return files.filter((f) => re.test(f)).map((f) => path.join(folder, f));
  });
}

/** get_filenames_of_train_images_and_targets, with label = null where the label file is missing. */
export async function getFilenamesOfTrainImagesAndTargets(folder: string, j: DatasetJson): Promise<Record<string, RawCase>> {
  const cases: Record<string, RawCase> = {};
  if (j.dataset) {
    const resolve = (p: string) => {
      const e = expandVars(p);
      return path.isAbsolute(e) ? e : path.resolve(folder, e);
    };
    for (const [id, c] of Object.entries(j.dataset)) {
      const label = c.label === undefined || c.label === null ? null : resolve(c.label);
      cases[id] = { images: (c.images ?? []).map(resolve), label: label && (await exists(label)) ? label : null };
    }
    return cases;
  }
  const imagesTr = path.join(folder, "imagesTr");
  const ids = await getIdentifiersFromSplittedDatasetFolder(imagesTr, j.file_ending);
  const images = await createListsFromSplittedDatasetFolder(imagesTr, j.file_ending, ids);
  const labels = new Set(await listDir(path.join(folder, "labelsTr")));
  ids.forEach((id, k) => {
    const name = id + j.file_ending;
    cases[id] = { images: images[k]!, label: labels.has(name) ? path.join(folder, "labelsTr", name) : null };
  });
  return cases;
}

/**
 * Opens a raw dataset by id (123), name ("Dataset123_X", looked up in $nnUNet_raw) or folder path (anything with a
 * path separator, or an existing folder holding dataset.json).
 */
export async function openRawDataset(idOrNameOrPath: number | string, paths: Paths = {}): Promise<RawDataset> {
  let folder: string;
  if (
    typeof idOrNameOrPath === "string" &&
    (idOrNameOrPath.includes("/") || idOrNameOrPath.includes(path.sep) || (await exists(path.join(idOrNameOrPath, "dataset.json"))))
  ) {
    folder = path.resolve(idOrNameOrPath);
  } else {
    const name = await maybeConvertToDatasetName(idOrNameOrPath, paths);
    folder = path.join(requirePath("nnUNet_raw", paths), name);
  }
  const name = path.basename(folder);
  const jsonFile = path.join(folder, "dataset.json");
  if (!(await exists(jsonFile))) {
    throw new InputError((await exists(folder)) ? "no dataset.json in this dataset folder" : "dataset folder not found", {
      file: (await exists(folder)) ? jsonFile : folder,
    });
  }
  const datasetJson = await loadDatasetJson(jsonFile);
  const cases = await getFilenamesOfTrainImagesAndTargets(folder, datasetJson);
  const m = NAME_RE.exec(name);
  return {
    id: m ? Number(m[1]) : NaN,
    name,
    folder,
    datasetJson,
    identifiers: Object.keys(cases),
    cases,
    readerWriter: determineReaderWriter(datasetJson, jsonFile, Object.values(cases)[0]?.images[0]),
  };
}

export interface VerifyOptions {
  /** Worker threads for reading cases (upstream's -np); default: number of cores. */
  numWorkers?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Upstream's verify_dataset_integrity: folders, required keys, numTraining, every channel and a label per case,
 * consecutive labels and the ignore-label rules, only declared label values, no NaN/Inf, and equal shape / spacing /
 * geometry between a case's channels and its label. Collects every problem and throws one InputError listing them,
 * one line each naming the file. Returns the warnings (also sent to warn()).
 */
export async function verifyDatasetIntegrity(ds: RawDataset, opts: VerifyOptions = {}): Promise<{ warnings: string[] }> {
  checkOptionalInt(opts.numWorkers, "numWorkers", { min: 1 });
  const problems: string[] = [];
  const j = ds.datasetJson;
  const jsonFile = path.join(ds.folder, "dataset.json");
  if (!j.dataset) {
    for (const sub of ["imagesTr", "labelsTr"]) {
      const p = path.join(ds.folder, sub);
      if (!(await exists(p))) problems.push(`${p}: folder not found (needed unless dataset.json has a "dataset" dict)`);
    }
  }
  if (!j.channel_names) problems.push(`${jsonFile}: missing required key channel_names (the legacy key modality is used instead)`);
  const numChannels = Object.keys(channelNames(j)).length;
  if (ds.identifiers.length !== j.numTraining) {
    problems.push(`${jsonFile}: numTraining is ${j.numTraining} but ${ds.identifiers.length} training case(s) were found`);
  }

  let expectedLabels: number[] | null = null;
  try {
    const lm = new LabelManager(j.labels, j.regions_class_order, { file: jsonFile });
    expectedLabels = lm.allLabels.slice();
    if (lm.hasIgnoreLabel) expectedLabels.push(lm.ignoreLabel!);
    const gaps = expectedLabels.slice(1).filter((v, i) => v - expectedLabels![i]! !== 1);
    if (gaps.length) problems.push(`${jsonFile}: labels must be consecutive (0, 1, 2, ...); ${JSON.stringify(gaps)} do not follow their predecessor`);
  } catch (err) {
    problems.push((err as Error).message);
  }

  const checks: CaseCheckInput[] = [];
  for (const id of ds.identifiers) {
    const c = ds.cases[id]!;
    let complete = true;
    if (j.dataset) {
      for (const f of c.images)
        if (!(await exists(f))) {
          problems.push(`${f}: image file of case ${id} not found`);
          complete = false;
        }
      if (c.label === null) {
        const declared = j.dataset[id]?.label;
        problems.push(
          `${declared ? path.resolve(ds.folder, expandVars(declared)) : jsonFile}: label file of case ${id} ${declared ? "not found" : "not declared"}`,
        );
        complete = false;
      }
    } else {
      const name = (k: number) => path.join(ds.folder, "imagesTr", `${id}_${String(k).padStart(4, "0")}${j.file_ending}`);
      const all = Array.from({ length: numChannels }, (_, k) => name(k));
      // One file can hold several channels (RGB pictures, 4-d images), so trailing channel files may be absent; the
      // channel count of what is read is checked per case (checkCase), as upstream checks it.
      const present = all.filter((f) => c.images.includes(f));
      const last = present.length ? all.indexOf(present[present.length - 1]!) : numChannels - 1;
      for (const f of all.slice(0, last + 1))
        if (!c.images.includes(f)) {
          problems.push(`${f}: channel file of case ${id} not found`);
          complete = false;
        }
      for (const f of c.images)
        if (!all.includes(f)) {
          problems.push(`${f}: unexpected channel (dataset.json declares ${numChannels} channel(s))`);
          complete = false;
        }
      if (c.label === null) {
        problems.push(`${path.join(ds.folder, "labelsTr", id + j.file_ending)}: label file of case ${id} not found`);
        complete = false;
      }
    }
    if (complete && expectedLabels) {
      checks.push({ identifier: id, images: c.images, label: c.label!, numChannels, readerWriter: ds.readerWriter, expectedLabels });
    }
  }
  const results = await mapInWorkers<CaseCheckInput, CaseCheckResult>(
    new URL(import.meta.url.endsWith(".ts") ? "./verify-case.ts" : "./verify-case.js", import.meta.url),
    "checkCase",
    checks,
    {
      numWorkers: opts.numWorkers,
      // Always pass a callback: pool.ts counts finished tasks inside `opts.onProgress?.(++done, total)`, which does not
      // evaluate `++done` when the callback is missing, so the worker path would never resolve.
      onProgress: (done, total) => opts.onProgress?.(done, total),
    },
  );
  const warnings: string[] = [];
  for (const r of results) {
    problems.push(...r.problems);
    warnings.push(...r.warnings);
  }
  for (const w of warnings) warn(w);
  if (problems.length) {
    throw new InputError(`dataset integrity check failed with ${problems.length} problem(s):\n${problems.join("\n")}`, { file: ds.folder });
  }
  return { warnings };
}
