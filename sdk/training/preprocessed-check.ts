// Before a training starts: is the preprocessed folder complete? A folder left partial by a killed or failed
// preprocessing run (or one being rewritten right now) would otherwise train silently on the subset, and that subset
// would be written into splits_final.json and stay there after the data is repaired. So every case the dataset has
// must have its data, seg and properties files, with array shapes that agree with each other and with dataset.json.

import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { lookupPath, type Paths } from "../config/env.js";
import { InputError } from "../errors.js";
import { channelNames, codePointCompare, openRawDataset, type DatasetJson } from "../dataset/raw.js";
import { exists, ioError, readJson, TEMP_NAME_PATTERN } from "../util/fs.js";
import { assertNotLocked } from "../util/lock.js";

/**
 * The files of one preprocessed case, per layout: ours (sdk/preprocessing/preprocessed-dataset.ts writes it) and the
 * three Python nnU-Net master writes or unpacks (blosc2, its numpy dataset class, and unpacked .npy with a .pkl).
 */
const LAYOUTS: readonly { name: string; suffixes: readonly string[] }[] = [
  { name: "npy", suffixes: ["_seg.npy", ".npy", ".json"] },
  { name: "master npz", suffixes: [".npz", ".pkl"] },
  { name: "master b2nd", suffixes: ["_seg.b2nd", ".b2nd", ".pkl"] },
  { name: "master npy", suffixes: ["_seg.npy", ".npy", ".pkl"] },
];
/** Every suffix, longest first so that `_seg.npy` is not taken for `.npy`. */
const SUFFIXES = [...new Set(LAYOUTS.flatMap((l) => l.suffixes))].sort((a, b) => b.length - a.length);

/** The layout a case's files complete, or the closest one and what it lacks. */
function caseLayout(have: ReadonlySet<string>): { complete: string | null; missing: string[] } {
  const done = LAYOUTS.find((l) => l.suffixes.every((x) => have.has(x)));
  if (done) return { complete: done.name, missing: [] };
  const closest = [...LAYOUTS].sort((a, b) => b.suffixes.filter((x) => have.has(x)).length - a.suffixes.filter((x) => have.has(x)).length)[0]!;
  return { complete: null, missing: closest.suffixes.filter((x) => !have.has(x)) };
}

export interface PreprocessedCheckInput {
  /** `$nnUNet_preprocessed/DatasetXXX/<data_identifier>` */
  dataFolder: string;
  /** `$nnUNet_preprocessed/DatasetXXX` */
  preprocessedDatasetFolder: string;
  datasetName: string;
  datasetJson: DatasetJson;
  /** Plans identifier (file name without .json) and configuration, for the command that completes the folder. */
  plansIdentifier: string;
  configuration: string;
  paths?: Paths;
}

/** Reads dtype and shape from the first bytes of a .npy file, and checks that the file holds all its data. */
async function npyInfo(file: string): Promise<{ dtype: string; shape: number[] } | string> {
  let h: fsp.FileHandle;
  try {
    h = await fsp.open(file, "r");
  } catch (err) {
    throw ioError(err, "read", file);
  }
  try {
    const buf = new Uint8Array(4096);
    const { bytesRead } = await h.read(buf, 0, buf.length, 0);
    const size = (await h.stat()).size;
    if (bytesRead < 10 || buf[0] !== 0x93 || String.fromCharCode(...buf.subarray(1, 6)) !== "NUMPY") return "not a .npy file";
    const dv = new DataView(buf.buffer);
    const hlen = buf[6] === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
    const hstart = buf[6] === 1 ? 10 : 12;
    const header = new TextDecoder("latin1").decode(buf.subarray(hstart, Math.min(bytesRead, hstart + hlen)));
    const descr = /'descr':\s*'[<>|=]?(\w\d+)'/.exec(header);
    const m = /'shape':\s*\(([^)]*)\)/.exec(header);
    if (!descr || !m) return "unreadable .npy header";
    const shape = m[1]!
      .split(",")
      .map((x) => x.trim())
      .filter((x) => x.length > 0)
      .map(Number);
    const itemsize = Number(descr[1]!.slice(1));
    const need = hstart + hlen + shape.reduce((a, b) => a * b, 1) * itemsize;
    if (size < need) return `truncated (${size} of ${need} bytes)`;
    const dtype = { f4: "float32", f8: "float64", i2: "int16", u1: "uint8", i1: "int8", i4: "int32", u2: "uint16" }[descr[1]!] ?? descr[1]!;
    return { dtype, shape };
  } finally {
    await h.close();
  }
}

/** The cases a complete folder must have: the raw dataset's, else those splits_final.json names, else unknown. */
async function expectedCases(i: PreprocessedCheckInput): Promise<{ ids: string[]; source: string } | null> {
  if (lookupPath("nnUNet_raw", i.paths) !== undefined) {
    try {
      const ds = await openRawDataset(i.datasetName, i.paths);
      return { ids: ds.identifiers.slice(), source: `the raw dataset ${ds.folder}` };
    } catch {
      // raw data moved or deleted after preprocessing: upstream trains without it, so the checks below use the rest
    }
  }
  const splitsFile = path.join(i.preprocessedDatasetFolder, "splits_final.json");
  if (await exists(splitsFile)) {
    const splits = await readJson<{ train?: unknown; val?: unknown }[]>(splitsFile);
    if (Array.isArray(splits)) {
      const ids = new Set<string>();
      for (const s of splits) for (const id of [...(Array.isArray(s?.train) ? s.train : []), ...(Array.isArray(s?.val) ? s.val : [])]) ids.add(String(id));
      if (ids.size) return { ids: [...ids].sort(codePointCompare), source: splitsFile };
    }
  }
  return null;
}

/** The command that (re)writes the folder. */
function completeCommand(i: PreprocessCheckInputLike): string {
  const id = /^Dataset(\d+)_/.exec(i.datasetName)?.[1];
  return `nnUNetv2_preprocess -d ${id ? Number(id) : i.datasetName} -plans_name ${i.plansIdentifier} -c ${i.configuration}`;
}
type PreprocessCheckInputLike = Pick<PreprocessedCheckInput, "datasetName" | "plansIdentifier" | "configuration">;

const list = (xs: readonly string[], n = 10) => `${xs.slice(0, n).join(", ")}${xs.length > n ? `, ... (${xs.length - n} more)` : ""}`;

/**
 * Checks the preprocessed folder a training would read and returns its case identifiers (sorted like Python sorts
 * strings). Throws one InputError naming the folder when it is being written by another run, when cases of the dataset
 * are missing or partial (listed, with the command that completes the folder), or when a case's arrays disagree with
 * each other or with dataset.json.
 * @example
 * const ids = await checkPreprocessedFolder({ dataFolder, preprocessedDatasetFolder, datasetName, datasetJson,
 *   plansIdentifier: "nnUNetPlans", configuration: "3d_fullres" })
 */
export async function checkPreprocessedFolder(i: PreprocessedCheckInput): Promise<string[]> {
  const folder = i.dataFolder;
  await assertNotLocked(folder, "training");
  let names: string[];
  try {
    names = await fsp.readdir(folder);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new InputError(`preprocessed data folder not found; create it with: ${completeCommand(i)}`, { file: folder, cause: err });
    }
    throw ioError(err, "read the folder", folder);
  }
  const files = new Map<string, Set<string>>();
  for (const n of names) {
    if (n.startsWith(".") || TEMP_NAME_PATTERN.test(n)) continue;
    const suffix = SUFFIXES.find((x) => n.endsWith(x));
    if (!suffix) continue;
    const id = n.slice(0, -suffix.length);
    if (!files.has(id)) files.set(id, new Set());
    files.get(id)!.add(suffix);
  }

  const expected = await expectedCases(i);
  const layouts = new Map([...files].map(([id, have]) => [id, caseLayout(have)] as const));
  const complete = [...layouts]
    .filter(([, l]) => l.complete !== null)
    .map(([id]) => id)
    .sort(codePointCompare);
  const problems: string[] = [];
  const want = expected?.ids ?? [...files.keys()].sort(codePointCompare);
  for (const id of want) {
    const l = layouts.get(id);
    if (!l) problems.push(id);
    else if (l.complete === null) problems.push(`${id} (no ${l.missing.map((x) => id + x).join(", ")})`);
  }
  if (problems.length) {
    throw new InputError(
      `preprocessed data incomplete: ${problems.length} of ${want.length} case(s)${expected ? ` of ${expected.source}` : ""} ` +
        `missing or partial: ${list(problems)}; ` +
        `complete it with: ${completeCommand(i)}`,
      { file: folder },
    );
  }
  if (!expected && complete.length < i.datasetJson.numTraining) {
    throw new InputError(
      `preprocessed data incomplete: ${complete.length} case(s) found but dataset.json says numTraining ${i.datasetJson.numTraining}; ` +
        `complete it with: ${completeCommand(i)}`,
      { file: folder },
    );
  }
  if (complete.length === 0) throw new InputError(`no preprocessed cases found; create them with: ${completeCommand(i)}`, { file: folder });

  const channels = Object.keys(channelNames(i.datasetJson)).length;
  const bad: string[] = [];
  // Our own layout is checked here; master's arrays are checked by their readers when a case is loaded.
  for (const id of complete.filter((c) => layouts.get(c)!.complete === "npy")) {
    const data = await npyInfo(path.join(folder, `${id}.npy`));
    const seg = await npyInfo(path.join(folder, `${id}_seg.npy`));
    const props = await fsp.stat(path.join(folder, `${id}.json`));
    if (typeof data === "string") bad.push(`${id}.npy: ${data}`);
    else if (data.dtype !== "float32" || data.shape.length !== 4 || data.shape[0] !== channels) {
      bad.push(`${id}.npy: ${data.dtype} [${data.shape}] (expected float32 [${channels}, Z, Y, X] for ${channels} channel(s) in dataset.json)`);
    }
    if (typeof seg === "string") bad.push(`${id}_seg.npy: ${seg}`);
    else if (typeof data !== "string" && (seg.shape.length !== 4 || seg.shape[0] !== 1 || seg.shape.slice(1).some((s, k) => s !== data.shape[k + 1]))) {
      bad.push(`${id}_seg.npy: shape [${seg.shape}] does not match the data [${typeof data === "string" ? "?" : data.shape}]`);
    }
    if (props.size === 0) bad.push(`${id}.json: empty`);
  }
  if (bad.length) {
    throw new InputError(`preprocessed data inconsistent in ${bad.length} place(s): ${list(bad, 5)}; rewrite it with: ${completeCommand(i)}`, { file: folder });
  }
  return complete;
}
