// A preprocessed data folder ($nnUNet_preprocessed/DatasetXXX/<data_identifier>/): per case `<case>.npy` (float32,
// C x Z x Y x X), `<case>_seg.npy` (int16, 1 x Z x Y x X) and `<case>.json` (properties incl. class_locations).
// .npy instead of upstream's blosc2 so numpy reads the files and a loader can read patches at known offsets.

import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { InputError } from "../errors.js";
import { readNpyFile, writeNpyFile } from "../io/npy.js";
import { exists, readJson, writeFileAtomic } from "../util/fs.js";
import { codePointCompare } from "../dataset/raw.js";
import type { PreprocessedCase, PreprocessedProperties } from "./default-preprocessor.js";

const dataFile = (folder: string, id: string) => path.join(folder, `${id}.npy`);
const segFile = (folder: string, id: string) => path.join(folder, `${id}_seg.npy`);
const propertiesFile = (folder: string, id: string) => path.join(folder, `${id}.json`);

/** True when all three files of case `id` exist (a re-run skips such cases unless asked to overwrite). */
export async function preprocessedCaseExists(folder: string, id: string): Promise<boolean> {
  const all = await Promise.all([dataFile(folder, id), segFile(folder, id), propertiesFile(folder, id)].map(exists));
  return all.every(Boolean);
}

/**
 * Writes case `id` into `folder`. Each file goes to a temporary name and is renamed, and the properties file comes
 * last, so an interrupted run never leaves a case that looks finished.
 */
export async function savePreprocessedCase(folder: string, id: string, c: PreprocessedCase): Promise<void> {
  await fsp.mkdir(folder, { recursive: true });
  const [, ...spatial] = c.shape;
  await writeNpyFile(dataFile(folder, id), { dtype: "float32", shape: c.shape, data: c.data });
  const seg = c.seg ?? new Int16Array(spatial.reduce((a, b) => a * b, 1));
  await writeNpyFile(segFile(folder, id), { dtype: "int16", shape: [1, ...spatial], data: seg });
  await writeFileAtomic(propertiesFile(folder, id), JSON.stringify(c.properties));
}

/** Shape from a .npy header, reading only the first bytes of the file. */
async function readNpyShape(file: string): Promise<number[]> {
  const h = await fsp.open(file, "r");
  try {
    const buf = new Uint8Array(4096);
    const { bytesRead } = await h.read(buf, 0, buf.length, 0);
    const header = new TextDecoder("latin1").decode(buf.subarray(0, bytesRead));
    const m = /'shape':\s*\(([^)]*)\)/.exec(header);
    if (!m) throw new InputError("not a .npy file (no shape in the header)", { file });
    return m[1]!.split(",").map((x) => x.trim()).filter((x) => x.length > 0).map(Number);
  } finally {
    await h.close();
  }
}

/** Properties and data shape of a stored case, without reading its arrays (for summaries of skipped cases). */
export async function readPreprocessedCaseInfo(folder: string, id: string): Promise<{ shape: number[]; properties: PreprocessedProperties }> {
  const [shape, properties] = await Promise.all([readNpyShape(dataFile(folder, id)), readJson<PreprocessedProperties>(propertiesFile(folder, id))]);
  return { shape, properties };
}

/**
 * Case identifiers with a properties file and a data file in `folder`, sorted like Python sorts strings.
 * @example await listPreprocessedCases(`${pre}/Dataset900_Tiny/nnUNetPlans_3d_fullres`) // ["Tiny_000", ...]
 */
export async function listPreprocessedCases(folder: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fsp.readdir(folder);
  } catch (err) {
    throw new InputError("preprocessed data folder not found (run nnUNetv2_preprocess or nnUNetv2_preprocess_like_nnssl first)", { file: folder, cause: err });
  }
  const set = new Set(names);
  return names
    .filter((n) => n.endsWith(".json") && !n.startsWith("."))
    .map((n) => n.slice(0, -5))
    .filter((id) => set.has(`${id}.npy`))
    .sort(codePointCompare);
}

/** Loads case `id`: data (float32, [C, Z, Y, X]), seg (int16) and properties; shapes are checked against each other. */
export async function loadPreprocessedCase(folder: string, id: string): Promise<PreprocessedCase> {
  const [data, seg, properties] = await Promise.all([
    readNpyFile(dataFile(folder, id)),
    (async () => ((await exists(segFile(folder, id))) ? readNpyFile(segFile(folder, id)) : null))(),
    readJson<PreprocessedProperties>(propertiesFile(folder, id)),
  ]);
  if (data.dtype !== "float32" || data.shape.length !== 4) {
    throw new InputError(`expected float32 data of shape [C, Z, Y, X], found ${data.dtype} [${data.shape}]`, { file: dataFile(folder, id) });
  }
  if (seg && (seg.dtype !== "int16" || seg.shape.length !== 4 || seg.shape.slice(1).some((s, i) => s !== data.shape[i + 1]))) {
    throw new InputError(`expected int16 seg of shape [1, ${data.shape.slice(1)}], found ${seg.dtype} [${seg.shape}]`, { file: segFile(folder, id) });
  }
  return { data: data.data as Float32Array, shape: data.shape, seg: seg ? (seg.data as Int16Array) : null, properties };
}
