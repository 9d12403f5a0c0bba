// The fused instance norm (+ activation) of cpu-onednn (native/src/instance-norm.cc) against the same op composed from
// tfjs ops on the pure-JS cpu backend: values and the gradients of x, gamma and beta, on odd shapes, 2D and 3D.
import { describe, expect, it } from "vitest";
import { hasFusedInstanceNorm, INSTANCE_NORM } from "../../sdk/backend/fused-norm.js";
import { tf } from "../../sdk/backend/index.js";
import { registerOnednnBackend } from "../../sdk/backend/onednn.js";
import { instanceNorm } from "../../sdk/networks/layers.js";

const status = await registerOnednnBackend();

interface Case {
  shape: number[];
  slope: number | null;
  /** Offset added to x: a large mean relative to the spread tests the statistics' precision. */
  offset: number;
}

const CASES: Case[] = [
  { shape: [2, 5, 6, 7, 3], slope: 0.01, offset: 0 },
  { shape: [1, 9, 4, 11, 16], slope: null, offset: 0 },
  { shape: [2, 3, 3, 3, 70], slope: 0, offset: 0 },
  { shape: [2, 17, 13, 5], slope: 0.01, offset: 0 }, // 2D (N, H, W, C)
  { shape: [1, 8, 8, 8, 4], slope: 0.2, offset: 100 },
  // Four voxels per channel (with two, the normalised output does not depend on x: dx is rounding noise).
  { shape: [1, 1, 2, 2, 1], slope: 0.01, offset: 0 },
];

/** Forward values and d(sum(y * w))/d(x, gamma, beta) for a fixed random w, on the current backend. */
function run(c: Case): Float32Array[] {
  return tf.tidy(() => {
    const ch = c.shape.at(-1)!;
    const x = tf.add(tf.randomNormal(c.shape, 0, 2, "float32", 1), c.offset);
    const gamma = tf.randomUniform([ch], 0.5, 1.5, "float32", 2);
    const beta = tf.randomUniform([ch], -0.5, 0.5, "float32", 3);
    const w = tf.randomNormal(c.shape, 0, 1, "float32", 4);
    const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(instanceNorm(a, g, b, 1e-5, c.slope), w));
    const grads = tf.grads(f)([x, gamma, beta]);
    return [instanceNorm(x, gamma, beta, 1e-5, c.slope), ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

describe.skipIf(!status.available)("fused instance norm (cpu-onednn) vs composed tfjs ops (cpu)", () => {
  it("is only registered on cpu-onednn", async () => {
    await tf.setBackend("cpu");
    expect(hasFusedInstanceNorm()).toBe(false);
    await tf.setBackend("cpu-onednn");
    expect(hasFusedInstanceNorm()).toBe(true);
  });

  it.each(CASES.map((c) => [`[${c.shape}] slope ${c.slope} offset ${c.offset}`, c] as const))("%s: y, dx, dgamma, dbeta", async (_name, c) => {
    await tf.setBackend("cpu");
    (tf.backend() as unknown as { firstUse: boolean }).firstUse = false; // no tfjs-node banner for the reference
    const ref = run(c);
    await tf.setBackend("cpu-onednn");
    const before = tf.memory().numTensors;
    const fast = run(c);
    expect(tf.memory().numTensors, "tensors leaked").toBe(before);
    for (const [i, what] of ["y", "dx", "dgamma", "dbeta"].entries()) {
      const r = ref[i]!,
        f = fast[i]!;
      expect(f.length, what).toBe(r.length);
      let scale = 0,
        worst = 0;
      for (let j = 0; j < r.length; j++) {
        scale = Math.max(scale, Math.abs(r[j]!));
        worst = Math.max(worst, Math.abs(f[j]! - r[j]!));
      }
      expect(scale, `${what} is all zeros`).toBeGreaterThan(0);
      // The composed reference computes in float32 (its sums in double); with offset 100 its centring loses ~1e-5.
      expect(worst / scale, `${what}: max |fused - composed| / max |composed|`).toBeLessThan(c.offset ? 1e-3 : 1e-4);
    }
  });

  it("rejects gamma of the wrong length with a message naming the op", async () => {
    await tf.setBackend("cpu-onednn");
    const x = tf.ones([1, 2, 2, 2, 3]);
    expect(() => tf.engine().runKernel(INSTANCE_NORM, { x, gamma: tf.ones([2]), beta: tf.zeros([3]) }, { eps: 1e-5, slope: 0.01 })).toThrow(
      /NnsslInstanceNorm: gamma must have 3 elements/,
    );
    tf.dispose(x);
  });
});
