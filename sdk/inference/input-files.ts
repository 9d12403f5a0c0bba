// Which raw images belong to which case when predicting a folder named like imagesTs (CASE_XXXX<ending>), with the
// checks upstream lacks: a wrong file ending, a missing channel or a stray file is a one-line error naming the file.
// Like nnU-Net's create_lists_from_splitted_dataset_folder (sdk/dataset/raw.ts has the plain port) and the output bookkeeping of
// nnUNetPredictor._manage_input_and_output_lists.

import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { InputError } from "../errors.js";

const IMAGE_ENDINGS = [".nii.gz", ".nii", ".mha", ".nrrd", ".png", ".bmp", ".tif", ".tiff", ".b2nd", ".npy"];

/** One case to predict: its identifier and its channel files (channel 0 first). */
export interface InputCase {
  id: string;
  files: string[];
}

/**
 * Groups `<folder>/<case>_XXXX<fileEnding>` into cases, sorted by identifier. Every case must have channels
 * 0000..numChannels-1 and nothing else.
 */
export async function listInputCases(folder: string, fileEnding: string, numChannels: number): Promise<InputCase[]> {
  let names: string[];
  try {
    names = (await fsp.readdir(folder, { withFileTypes: true })).filter((e) => e.isFile() && !e.name.startsWith(".")).map((e) => e.name);
  } catch (err) {
    throw new InputError((err as NodeJS.ErrnoException).code === "ENOENT" ? "input folder not found" : (err as Error).message, { file: folder, cause: err });
  }
  const matching = names.filter((n) => n.endsWith(fileEnding));
  if (matching.length === 0) {
    const other = names.find((n) => IMAGE_ENDINGS.some((e) => n.endsWith(e)));
    throw new InputError(
      other ? `no images ending with ${fileEnding} (the model's file_ending); found e.g. ${other}` : `no images ending with ${fileEnding} found`,
      { file: folder },
    );
  }
  const wrongEnding = names.find((n) => !n.endsWith(fileEnding) && IMAGE_ENDINGS.some((e) => n.endsWith(e)));
  if (wrongEnding) throw new InputError(`file ending differs from the model's file_ending ${fileEnding}`, { file: path.join(folder, wrongEnding) });
  const byCase = new Map<string, Map<number, string>>();
  const pattern = /^(.+)_(\d{4})$/;
  for (const n of matching.sort()) {
    const m = pattern.exec(n.slice(0, -fileEnding.length));
    if (!m) throw new InputError(`not named like CASE_XXXX${fileEnding} (XXXX = 4-digit channel index)`, { file: path.join(folder, n) });
    const [, id, ch] = m as unknown as [string, string, string];
    if (!byCase.has(id)) byCase.set(id, new Map());
    byCase.get(id)!.set(parseInt(ch, 10), path.join(folder, n));
  }
  const cases: InputCase[] = [];
  for (const id of [...byCase.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    const chans = byCase.get(id)!;
    const files: string[] = [];
    // Fewer files than channels is fine when no file follows: one file can hold several channels (RGB pictures,
    // 4-d images); preprocessTask checks the channel count once the images are read.
    const last = Math.max(...chans.keys());
    for (let c = 0; c < Math.min(numChannels, last + 1); c++) {
      const f = chans.get(c);
      if (!f) {
        throw new InputError(
          `case ${id} is missing channel ${c}: expected ${id}_${String(c).padStart(4, "0")}${fileEnding} (the model takes ${numChannels} channel(s))`,
          { file: folder },
        );
      }
      files.push(f);
    }
    const extra = [...chans.keys()].find((c) => c >= numChannels);
    if (extra !== undefined)
      throw new InputError(`channel ${extra} is not used by the model, which takes ${numChannels} channel(s)`, { file: chans.get(extra)! });
    cases.push({ id, files });
  }
  return cases;
}

/** Cases whose outputs (segmentation, and .npz when probabilities are saved) already exist: `--continue_prediction`. */
export async function isFinished(outputFileTruncated: string, fileEnding: string, saveProbabilities: boolean): Promise<boolean> {
  const has = async (f: string) =>
    fsp.access(f).then(
      () => true,
      () => false,
    );
  if (!(await has(outputFileTruncated + fileEnding))) return false;
  return !saveProbabilities || has(outputFileTruncated + ".npz");
}
