// A preprocessed data folder ($nnUNet_preprocessed/DatasetXXX/<data_identifier>/): per case `<case>.npy` (float32,
// C x Z x Y x X), `<case>_seg.npy` (int16, 1 x Z x Y x X) and `<case>.json` (properties incl. class_locations).
// .npy instead of upstream's blosc2 so numpy reads the files and a loader can read patches at known offsets.
// With format "npz" the case is written as Python nnU-Net master's numpy dataset class stores it (`<case>.npz` with
// data/seg + `<case>.pkl`, see nnunet-format.ts); reading accepts either layout per case (a .npy beside a .npz is
// master's unpacked form and is preferred, as master prefers it) and master's default blosc2 layout too
// (`<case>.b2nd`, `<case>_seg.b2nd`, `<case>.pkl`; sdk/io/b2nd.ts).

import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { InputError } from "../errors.js";
import { readNpyFile, writeNpyFile, type NpyArray } from "../io/npy.js";
import { exists, readJson, writeFileAtomic } from "../util/fs.js";
import { codePointCompare } from "../dataset/raw.js";
import type { PreprocessedCase, PreprocessedProperties } from "./default-preprocessor.js";
import { parseB2nd } from "../io/b2nd.js";
import { formatNpz, formatPropertiesPickle, readNpzFile, readPropertiesPickle, type PreprocessedFormat } from "./nnunet-format.js";

const dataFile = (folder: string, id: string) => path.join(folder, `${id}.npy`);
const segFile = (folder: string, id: string) => path.join(folder, `${id}_seg.npy`);
const propertiesFile = (folder: string, id: string) => path.join(folder, `${id}.json`);
const npzFile = (folder: string, id: string) => path.join(folder, `${id}.npz`);
const pklFile = (folder: string, id: string) => path.join(folder, `${id}.pkl`);

/** True when all files of case `id` exist in `format` (a re-run skips such cases unless asked to overwrite). */
export async function preprocessedCaseExists(folder: string, id: string, format: PreprocessedFormat = "npy"): Promise<boolean> {
  const files = format === "npz" ? [npzFile(folder, id), pklFile(folder, id)] : [dataFile(folder, id), segFile(folder, id), propertiesFile(folder, id)];
  const all = await Promise.all(files.map(exists));
  return all.every(Boolean);
}

/** The case's properties from `<case>.json`, else from master's `<case>.pkl`. */
export async function readPreprocessedProperties(folder: string, id: string): Promise<PreprocessedProperties> {
  if (await exists(propertiesFile(folder, id))) return readJson<PreprocessedProperties>(propertiesFile(folder, id));
  if (await exists(pklFile(folder, id))) return readPropertiesPickle(pklFile(folder, id));
  throw new InputError(`no properties file (${id}.json, or ${id}.pkl as Python nnU-Net writes it)`, { file: propertiesFile(folder, id) });
}

/**
 * Data and seg of a case: `<case>.npy` / `<case>_seg.npy` when present (ours, or master's unpacked form), else the
 * `data` / `seg` arrays of master's `<case>.npz`.
 */
export async function readPreprocessedArrays(
  folder: string,
  id: string,
  { withSeg = true } = {},
): Promise<{ data: NpyArray; seg: NpyArray | null; dataFile: string; segFile: string }> {
  const [hasData, hasSeg] = await Promise.all([exists(dataFile(folder, id)), exists(segFile(folder, id))]);
  let npz: Map<string, NpyArray> | null = null;
  const b2nd = (k: string) => path.join(folder, `${id}${k === "seg" ? "_seg" : ""}.b2nd`);
  const fromNpz = async (key: string): Promise<NpyArray | null> => {
    if (!npz) {
      if (!(await exists(npzFile(folder, id)))) {
        if (await exists(b2nd(key))) return readB2ndFile(b2nd(key));
        if (key === "seg") return null;
        throw new InputError(`data file not found (nor ${id}.npz / ${id}.b2nd as Python nnU-Net writes them)`, { file: dataFile(folder, id) });
      }
      npz = await readNpzFile(npzFile(folder, id));
    }
    const a = npz.get(key);
    if (!a && key === "data") throw new InputError("the .npz holds no 'data' array", { file: npzFile(folder, id) });
    return a ?? null;
  };
  const data = hasData ? await readNpyFile(dataFile(folder, id)) : (await fromNpz("data"))!;
  const seg = !withSeg ? null : hasSeg ? await readNpyFile(segFile(folder, id)) : await fromNpz("seg");
  const other = async (k: string) => ((await exists(npzFile(folder, id))) ? npzFile(folder, id) : b2nd(k));
  return { data, seg, dataFile: hasData ? dataFile(folder, id) : await other("data"), segFile: hasSeg ? segFile(folder, id) : await other("seg") };
}

/**
 * Writes case `id` into `folder`. Each file goes to a temporary name and is renamed, and the properties file comes
 * last, so an interrupted run never leaves a case that looks finished.
 */
export async function savePreprocessedCase(folder: string, id: string, c: PreprocessedCase, format: PreprocessedFormat = "npy"): Promise<void> {
  await fsp.mkdir(folder, { recursive: true });
  const [, ...spatial] = c.shape;
  const seg = c.seg ?? new Int16Array(spatial.reduce((a, b) => a * b, 1));
  if (format === "npz") {
    const arrays = { data: { dtype: "float32" as const, shape: c.shape, data: c.data }, seg: { dtype: "int16" as const, shape: [1, ...spatial], data: seg } };
    await writeFileAtomic(npzFile(folder, id), formatNpz(arrays));
    await writeFileAtomic(pklFile(folder, id), formatPropertiesPickle(c.properties));
    // a stale .npy would be what master loads first (its unpacked form), and a .json makes its folder check fail
    await removeFiles([dataFile(folder, id), segFile(folder, id), propertiesFile(folder, id)]);
    return;
  }
  await writeNpyFile(dataFile(folder, id), { dtype: "float32", shape: c.shape, data: c.data });
  await writeNpyFile(segFile(folder, id), { dtype: "int16", shape: [1, ...spatial], data: seg });
  await writeFileAtomic(propertiesFile(folder, id), JSON.stringify(c.properties));
  await removeFiles([npzFile(folder, id), pklFile(folder, id)]);
}

/** Removes the other layout's files of a case just rewritten, so a folder never mixes stale arrays with new ones. */
async function removeFiles(files: string[]): Promise<void> {
  await Promise.all(files.map((f) => fsp.rm(f, { force: true })));
}

/** A .b2nd array (master's nnUNetDatasetBlosc2) as an NpyArray. */
async function readB2ndFile(file: string): Promise<NpyArray> {
  let b: Buffer;
  try {
    b = await fsp.readFile(file);
  } catch (err) {
    throw new InputError((err as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (err as Error).message, { file, cause: err });
  }
  const a = parseB2nd(new Uint8Array(b.buffer, b.byteOffset, b.length), file);
  return { dtype: a.dtype, shape: a.shape, data: a.data };
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
    return m[1]!
      .split(",")
      .map((x) => x.trim())
      .filter((x) => x.length > 0)
      .map(Number);
  } finally {
    await h.close();
  }
}

/** Properties and data shape of a stored case, without reading its arrays (for summaries of skipped cases). */
export async function readPreprocessedCaseInfo(folder: string, id: string): Promise<{ shape: number[]; properties: PreprocessedProperties }> {
  const shape = (await exists(dataFile(folder, id))) ? readNpyShape(dataFile(folder, id)) : readPreprocessedArrays(folder, id).then((a) => a.data.shape);
  const [s, properties] = await Promise.all([shape, readPreprocessedProperties(folder, id)]);
  return { shape: s, properties };
}

/**
 * Case identifiers with a properties file (.json, or master's .pkl) and a data file (.npy, or master's .npz / .b2nd) in
 * `folder`, sorted like Python sorts strings.
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
  const ids = new Set(names.filter((n) => (n.endsWith(".json") || n.endsWith(".pkl")) && !n.startsWith(".")).map((n) => n.slice(0, n.lastIndexOf("."))));
  return [...ids].filter((id) => set.has(`${id}.npy`) || set.has(`${id}.npz`) || set.has(`${id}.b2nd`)).sort(codePointCompare);
}

/** Loads case `id`: data (float32, [C, Z, Y, X]), seg (int16) and properties; shapes are checked against each other. */
export async function loadPreprocessedCase(folder: string, id: string): Promise<PreprocessedCase> {
  const [{ data, seg, dataFile: df, segFile: sf }, properties] = await Promise.all([
    readPreprocessedArrays(folder, id),
    readPreprocessedProperties(folder, id),
  ]);
  if (data.dtype !== "float32" || data.shape.length !== 4) {
    throw new InputError(`expected float32 data of shape [C, Z, Y, X], found ${data.dtype} [${data.shape}]`, { file: df });
  }
  if (seg && (!["int16", "int8"].includes(seg.dtype) || seg.shape.length !== 4 || seg.shape.slice(1).some((s, i) => s !== data.shape[i + 1]))) {
    throw new InputError(`expected int16 seg of shape [1, ${data.shape.slice(1)}], found ${seg.dtype} [${seg.shape}]`, { file: sf });
  }
  if (seg && seg.dtype === "int8") seg.data = Int16Array.from(seg.data as Int8Array);
  return { data: data.data as Float32Array, shape: data.shape, seg: seg ? (seg.data as Int16Array) : null, properties };
}
