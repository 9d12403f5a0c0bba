// Cross-validation splits, as nnU-Net's `generate_crossval_split` (utilities/crossval_split.py) and
// `nnUNetTrainer.do_split` produce them. sklearn's KFold(n_splits=5, shuffle=True, random_state=12345) is
// `RandomState(12345).shuffle(arange(n))` followed by contiguous folds; both lists come out in sorted-id order.

import * as path from "node:path";
import { RandomState } from "../util/random-state.js";
import { exists, readJson, writeJsonAtomic } from "../util/fs.js";
import { InputError } from "../errors.js";

/** One entry of splits_final.json. */
export interface Split {
  train: string[];
  val: string[];
}

/** A fold as given on the command line: 0..n or "all". */
export type Fold = number | "all";

/** Sorts like np.sort on a str array (code-point order, which JS's default sort matches for BMP strings). */
function npSort(ids: readonly string[]): string[] {
  return [...ids].sort();
}

/**
 * The splits of `identifiers` into `nFolds` folds, exactly like upstream's generate_crossval_split (KFold, shuffled with
 * seed 12345). @example generateCrossvalSplit(["a", "b", "c", "d", "e"], 12345, 5)
 */
export function generateCrossvalSplit(identifiers: readonly string[], seed = 12345, nFolds = 5): Split[] {
  const keys = npSort(identifiers);
  const n = keys.length;
  if (n < nFolds) throw new InputError(`cannot split ${n} cases into ${nFolds} folds (need at least ${nFolds} training cases)`);
  const perm = Array.from({ length: n }, (_, i) => i);
  new RandomState(seed).shuffle(perm);
  const splits: Split[] = [];
  let start = 0;
  for (let f = 0; f < nFolds; f++) {
    // sklearn: the first n % k folds get one extra sample.
    const size = Math.floor(n / nFolds) + (f < n % nFolds ? 1 : 0);
    const isVal = new Uint8Array(n);
    for (let i = start; i < start + size; i++) isVal[perm[i]!] = 1;
    start += size;
    const train: string[] = [];
    const val: string[] = [];
    for (let i = 0; i < n; i++) (isVal[i] ? val : train).push(keys[i]!);
    splits.push({ train, val });
  }
  return splits;
}

/**
 * The training and validation identifiers of `fold`, as nnUNetTrainer.do_split: fold "all" trains and validates on
 * everything; a fold listed in `splits` uses it; a larger fold index is a random 80:20 split seeded with 12345 + fold.
 */
export function splitForFold(identifiers: readonly string[], splits: readonly Split[], fold: Fold): Split {
  const keys = npSort(identifiers);
  if (fold === "all") return { train: keys, val: [...keys] };
  if (fold < splits.length) return { train: [...splits[fold]!.train], val: [...splits[fold]!.val] };
  const rnd = new RandomState(12345 + fold);
  const idxTr = rnd.choice(keys.length, Math.floor(keys.length * 0.8), false);
  const inTr = new Uint8Array(keys.length);
  for (const i of idxTr) inTr[i] = 1;
  // Upstream keeps choice order for train and ascending order for val.
  return { train: Array.from(idxTr, (i) => keys[i]!), val: keys.filter((_, i) => !inTr[i]) };
}

/**
 * Reads `<preprocessedDatasetFolder>/splits_final.json`, creating it (5 folds, seed 12345) when absent, and returns
 * the split of `fold`. Like upstream, a fold beyond the file's folds falls back to a random 80:20 split.
 */
export async function doSplit(preprocessedDatasetFolder: string, identifiers: readonly string[], fold: Fold): Promise<Split> {
  if (fold === "all") return splitForFold(identifiers, [], "all");
  const file = path.join(preprocessedDatasetFolder, "splits_final.json");
  let splits: Split[];
  if (await exists(file)) {
    splits = await readJson<Split[]>(file);
    if (!Array.isArray(splits) || splits.some((s) => !Array.isArray(s?.train) || !Array.isArray(s?.val))) {
      throw new InputError('expected a list of {"train": [...], "val": [...]} objects', { file });
    }
  } else {
    splits = generateCrossvalSplit(identifiers, 12345, 5);
    await writeJsonAtomic(file, splits);
  }
  const split = splitForFold(identifiers, splits, fold);
  const known = new Set(identifiers);
  const missing = [...split.train, ...split.val].filter((id) => !known.has(id));
  if (missing.length) {
    throw new InputError(
      `fold ${fold} lists cases that are not in the preprocessed folder: ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", ..." : ""}`,
      { file },
    );
  }
  return split;
}
