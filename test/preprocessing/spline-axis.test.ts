// The strided spline pass fills columns of +0 at the edges of a plane from one precomputed line instead of filtering
// them. That must give the bytes filtering gives (including the sign of zeros), which is checked here against the same
// column filtered between two nonzero neighbours (where nothing is skipped).

import { describe, expect, it } from "vitest";
import { splineAlongAxis } from "../../sdk/preprocessing/spline-axis.js";

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
}

const bytes = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe("splineAlongAxis with +0 edge columns", () => {
  for (const [n, nOut, order] of [
    [40, 27, 3],
    [17, 31, 2],
    [75, 40, 4],
    [9, 9, 5],
    [130, 61, 3],
  ] as const) {
    it(`n ${n} -> ${nOut}, order ${order}`, () => {
      const rnd = lcg(n * 7 + order);
      const w = 150; // wider than a block, so skipped and filtered columns meet inside and across blocks
      const [lead, trail] = [70, 9];
      const src = new Float32Array(2 * n * w);
      for (let i = 0; i < src.length; i++) {
        const x = i % w;
        src[i] = x < lead || x >= w - trail ? 0 : rnd() - 0.5;
      }
      src.fill(-0, n * w + 3, n * w + 4); // a -0 at the edge of the second plane stops the skip there
      // into a reused buffer full of NaN, so that a value the pass fails to write shows
      const out = splineAlongAxis(src, [2, n, w], 1, nOut, order, new Float64Array(2 * nOut * w + 5).fill(NaN));
      for (const [o, x] of [
        [0, 0],
        [0, 69],
        [0, w - 1],
        [1, 3],
        [1, 2],
        [1, 100],
      ] as const) {
        const col = new Float32Array(n * 3);
        for (let s = 0; s < n; s++) col.set([rnd() + 1, src[(o * n + s) * w + x]!, rnd() + 1], 3 * s);
        const ref = splineAlongAxis(col, [1, n, 3], 1, nOut, order);
        const got = new Float64Array(nOut);
        const want = new Float64Array(nOut);
        for (let k = 0; k < nOut; k++) {
          got[k] = out[(o * nOut + k) * w + x]!;
          want[k] = ref[3 * k + 1]!;
        }
        expect(bytes(got).equals(bytes(want))).toBe(true);
      }
    });
  }
});
