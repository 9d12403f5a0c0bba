// cpu-onednn frees a native kernel's output buffer as soon as its last tensor is disposed (sdk/backend/onednn-memory.ts),
// except when the array was handed out (dataSync/data) or another tensor still holds a view of it.
import { beforeAll, describe, expect, it } from "vitest";
import { tf } from "../../sdk/backend/index.js";
import { ONEDNN_BACKEND_NAME, registerOnednnBackend } from "../../sdk/backend/onednn.js";

const status = await registerOnednnBackend();
// CI must not pass this file by skipping it: the addon is built there.
const mustRun = process.env.CI === "true";

/** The array a tensor's data entry holds, read without handing it out (what a kernel sees). */
function stored(t: tf.Tensor): Float32Array {
  const backend = tf.backend() as unknown as { data: { get(id: object): { values: Float32Array } } };
  return backend.data.get(t.dataId).values;
}

/** A 2 MB native output (above the 1 MB tracking threshold). */
function nativeOutput(seed: number): tf.Tensor {
  return tf.tidy(() => tf.add(tf.randomUniform([8, 64, 1024], -1, 1, "float32", seed), 1));
}

describe.skipIf(!status.available && !mustRun)(`cpu-onednn buffer release (${status.reason})`, () => {
  beforeAll(async () => {
    await tf.setBackend(ONEDNN_BACKEND_NAME);
  });

  it("frees a disposed native output at once", () => {
    const t = nativeOutput(1);
    const values = stored(t);
    expect(values.length).toBe(8 * 64 * 1024);
    t.dispose();
    expect(values.length).toBe(0);
  });

  it("keeps arrays that dataSync handed out", () => {
    const t = nativeOutput(2);
    const a = t.dataSync() as Float32Array;
    const copy = Float32Array.from(a);
    t.dispose();
    expect(a.length).toBe(copy.length);
    expect(a).toEqual(copy);
  });

  it("keeps a buffer while a reshape of it is alive; a slice is its own buffer", () => {
    const t = nativeOutput(3);
    const expected = Float32Array.from(stored(t));
    const r = tf.reshape(t, [8 * 64, 1024]);
    const s = tf.slice(t, [2, 0, 0], [4, 64, 1024]);
    t.dispose();
    expect(r.dataSync()).toEqual(expected);
    r.dispose();
    const sliceValues = stored(s);
    expect(sliceValues.length).toBe(4 * 64 * 1024);
    expect(Float32Array.from(sliceValues)).toEqual(expected.subarray(2 * 64 * 1024, 6 * 64 * 1024));
    s.dispose();
    expect(sliceValues.length).toBe(0);
  });
});
