// Shared by the cpu-onednn kernel tests: seeded inputs, running one computation on both backends, and the 1e-4
// relative comparison the issue sets for every native kernel.
import { expect } from "vitest";
import { tf } from "../../sdk/backend/index.js";
import { onednnPrimitiveCount } from "../../sdk/backend/onednn.js";

/** mulberry32: a tiny seeded generator so every run draws the same "random" inputs. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomArray(shape: number[], seed: number): Float32Array {
  const next = seeded(seed);
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < out.length; i++) out[i] = next() * 2 - 1;
  return out;
}

/** Runs `fn` on the pure-JS cpu backend and on cpu-onednn; returns both results' values. */
export async function onBothBackends(fn: () => tf.Tensor[]): Promise<{ ref: Float32Array[]; fast: Float32Array[]; primitivesAdded: number }> {
  await tf.setBackend("cpu");
  // The pure-JS backend's first-use banner recommends tfjs-node; it is the reference here, not a choice.
  (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
  const refTensors = fn();
  const ref = refTensors.map((t) => t.dataSync() as Float32Array);
  tf.dispose(refTensors);
  await tf.setBackend("cpu-onednn");
  const before = onednnPrimitiveCount() ?? 0;
  const fastTensors = fn();
  const fast = fastTensors.map((t) => t.dataSync() as Float32Array);
  tf.dispose(fastTensors);
  return { ref, fast, primitivesAdded: (onednnPrimitiveCount() ?? 0) - before };
}

export function expectClose(fast: Float32Array, ref: Float32Array, what: string): void {
  expect(fast.length, what).toBe(ref.length);
  let scale = 0;
  for (const v of ref) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(fast[i] - ref[i]));
  expect(scale, `${what}: reference is all zeros, the case tests nothing`).toBeGreaterThan(0);
  expect(worst / scale, `${what}: max |onednn - cpu| / max |cpu|`).toBeLessThan(1e-4);
}
