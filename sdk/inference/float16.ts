// IEEE half-precision rounding on float numbers, for the places where upstream stores values as torch.half and the
// rounding is visible in results (the Gaussian importance map; fp16 probabilities).

import { roundHalfEven } from "../util/python-math.js";

const TWO_M24 = 2 ** -24; // smallest subnormal half
const TWO_M14 = 2 ** -14; // smallest normal half
const MAX_HALF = 65504;

/** The value `x` takes after a cast to float16 (round to nearest, ties to even; overflow to ±Infinity). */
export function roundToFloat16(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  let q: number;
  if (a < TWO_M14) {
    q = TWO_M24;
  } else {
    let e = Math.floor(Math.log2(a));
    // log2 can be off by one ulp near powers of two
    if (2 ** e > a) e--;
    else if (2 ** (e + 1) <= a) e++;
    q = 2 ** (e - 10);
  }
  const r = roundHalfEven(a / q) * q;
  // values that round above the largest half (65520 and up) overflow
  const out = r > MAX_HALF ? Infinity : r;
  return x < 0 ? -out : out;
}
