// Separate-z resampling of float32 data takes each slice's clip range from the first spline pass, which reads the
// values in another order than a plain scan. That matters only for a zero bound: with +0 and -0 in a slice, skimage's
// np.clip bound is the zero met first in C order, and overshooting spline values are clipped to it, sign included.
// Checked here against resize + a plain ordered range scan, byte for byte.

import { describe, expect, it } from "vitest";
import { resampleDataOrSegToShape } from "../../sdk/preprocessing/resample.js";
import { resize } from "../../sdk/preprocessing/zoom.js";

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
}

/** Reference: every slice resized in float64, clipped to its own [min, max] found in C order, cast to float32. */
function reference(data: Float32Array, shape: number[], newShape: number[]): Float32Array {
  const [z, y, x] = shape as [number, number, number];
  const planeOut = newShape[1]! * newShape[2]!;
  const out = new Float32Array(z * planeOut);
  for (let s = 0; s < z; s++) {
    const slice = data.subarray(s * y * x, (s + 1) * y * x);
    let lo = Infinity,
      hi = -Infinity;
    for (const v of slice) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const r = resize(Float64Array.from(slice), [1, y, x], [1, newShape[1]!, newShape[2]!], 3, { clip: false });
    for (let i = 0; i < planeOut; i++) {
      const v = r[i]!;
      out[s * planeOut + i] = v < lo ? lo : v > hi ? hi : v;
    }
  }
  return out;
}

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe("separate-z float32 resampling, zero clip bounds", () => {
  for (const [sign, name] of [
    [1, "non-negative"],
    [-1, "non-positive"],
  ] as const) {
    it(`${name} slices with +0 and -0 (either first)`, () => {
      const rnd = lcg(sign > 0 ? 3 : 4);
      const shape = [6, 23, 71]; // wider than a block, with zero edge columns the pass skips
      const n = shape[0]! * shape[1]! * shape[2]!;
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const s = Math.floor(i / (shape[1]! * shape[2]!)),
          col = i % shape[2]!;
        // slices 0-2: +0 comes first (column 0), slices 3-5: -0 first; sharp steps make the spline overshoot
        const zero = col === 0 ? (s < 3 ? 0 : -0) : rnd() < 0.5 ? 0 : -0;
        data[i] = col < 5 || col > 60 || rnd() < 0.3 ? zero : sign * (rnd() < 0.5 ? 0.001 : 50);
      }
      data.fill(0, 2 * 23 * 71, 3 * 23 * 71); // an all-zero slice
      const newShape = [6, 31, 40];
      const got = resampleDataOrSegToShape(data, [1, ...shape], newShape, [4, 1, 1], [4, 0.74, 1.8], { order: 3, orderZ: 0, forceSeparateZ: null });
      expect(bytes(got).equals(bytes(reference(data, shape, newShape)))).toBe(true);
    });
  }
});
