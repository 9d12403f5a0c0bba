// Shared helpers for the preprocessing tests: fixture paths, .npy reading and array comparison with the location of
// the largest difference.

import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseNpy, type NpyArray } from "../../sdk/io/npy.js";

export const TINY = fileURLToPath(new URL("../fixtures/datasets/Dataset900_Tiny/", import.meta.url));
export const EXPECTED = TINY + "expected/";
export const NNSSL_CKPT = fileURLToPath(new URL("../fixtures/nnssl/nnssl_ResEncMini.pth", import.meta.url));

/** Tolerances of test/fixtures/README.md (section 7): float32 preprocessed data 1e-4 absolute, segmentations exact. */
export const DATA_TOL = 1e-4;

/**
 * A temporary `raw/` + `pre/` pair for Dataset900_Tiny: raw links to the fixture, pre holds the expected `files`
 * (plans, fingerprint) and dataset.json, as plan_and_preprocess would have left them. Returns the root folder.
 */
export function makeTinyRoots(prefix: string, files: readonly string[]): string {
  const root = mkdtempSync(path.join(os.tmpdir(), prefix));
  mkdirSync(path.join(root, "raw"));
  symlinkSync(path.resolve(TINY), path.join(root, "raw", "Dataset900_Tiny"));
  const pre = path.join(root, "pre", "Dataset900_Tiny");
  mkdirSync(pre, { recursive: true });
  for (const f of files) copyFileSync(EXPECTED + f, path.join(pre, f));
  copyFileSync(TINY + "dataset.json", path.join(pre, "dataset.json"));
  return root;
}

/** Reads a .npy file through a private copy of its bytes (a pooled Node Buffer must not leak into the array). */
export function readNpy(file: string): NpyArray {
  return parseNpy(new Uint8Array(readFileSync(file)), file);
}

export function readJsonFile<T = any>(file: string): T {
  return JSON.parse(readFileSync(file, "utf8")) as T;
}

/** Largest absolute difference and the flat index where it occurs (NaN counts as a difference). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; at: number } {
  let max = 0,
    at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= max)) {
      max = d;
      at = i;
    }
  }
  return { max, at };
}
