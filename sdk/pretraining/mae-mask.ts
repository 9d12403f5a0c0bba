// nnssl's MAE masking (BaseMAETrainer.create_blocky_mask): the patch is divided into cubic blocks; int(ratio * n)
// blocks, chosen by a random permutation, are zeroed in the input. Mask convention as nnssl: 1 = visible, 0 = masked.

import { ConfigError } from "../errors.js";
import type { RandomState } from "../util/random-state.js";

/**
 * One sample's mask (flattened C-order over `patch`), 1 where the input stays visible and 0 where it is masked.
 * @example createBlockyMask([64, 64, 64], 8, 0.75, new RandomState(1)) // 384 of 512 blocks masked
 */
export function createBlockyMask(patch: readonly number[], block: number, ratio: number, rs: RandomState): Float32Array {
  if (patch.some((p) => p % block !== 0)) {
    throw new ConfigError(`invalid --block: ${block} does not divide the patch size [${patch.join(", ")}]`);
  }
  if (!(ratio >= 0 && ratio < 1)) throw new ConfigError(`invalid --mask-ratio: ${ratio} (expected 0 <= ratio < 1)`);
  const grid = patch.map((p) => p / block);
  const nBlocks = grid.reduce((a, b) => a * b, 1);
  const small = new Uint8Array(nBlocks).fill(1);
  const perm = rs.permutation(nBlocks);
  const nMasked = Math.floor(ratio * nBlocks);
  for (let i = 0; i < nMasked; i++) small[perm[i]!] = 0;
  const [X, Y, Z] = patch as [number, number, number];
  const out = new Float32Array(X * Y * Z);
  for (let x = 0; x < X; x++) {
    const bx = Math.floor(x / block) * grid[1]! * grid[2]!;
    for (let y = 0; y < Y; y++) {
      const bxy = bx + Math.floor(y / block) * grid[2]!;
      const row = (x * Y + y) * Z;
      for (let z = 0; z < Z; z++) out[row + z] = small[bxy + Math.floor(z / block)]!;
    }
  }
  return out;
}
