// Shared helpers for the preprocessing tests: fixture paths, .npy reading and array comparison with the location of
// the largest difference.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseNpy, type NpyArray } from "../../sdk/io/npy.js";

export const TINY = fileURLToPath(new URL("../fixtures/datasets/Dataset900_Tiny/", import.meta.url));
export const EXPECTED = TINY + "expected/";
export const NNSSL_CKPT = fileURLToPath(new URL("../fixtures/nnssl/nnssl_ResEncMini.pth", import.meta.url));

/** Tolerances of the fixtures README §7: float32 preprocessed data 1e-4 absolute, segmentations exact. */
export const DATA_TOL = 1e-4;

/** Reads a .npy file through a private copy of its bytes (a pooled Node Buffer must not leak into the array). */
export function readNpy(file: string): NpyArray {
  return parseNpy(new Uint8Array(readFileSync(file)), file);
}

export function readJsonFile<T = any>(file: string): T {
  return JSON.parse(readFileSync(file, "utf8")) as T;
}

/** Largest absolute difference and the flat index where it occurs (NaN counts as a difference). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; at: number } {
  let max = 0, at = -1;
  for (let i = 0; i < a.length; i++) { const d = Math.abs(a[i]! - b[i]!); if (!(d <= max)) { max = d; at = i; } }
  return { max, at };
}
