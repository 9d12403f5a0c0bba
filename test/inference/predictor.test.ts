import { describe, it, expect } from "vitest";
import { tf } from "../../sdk/backend/index.js";
import { NnUNetPredictor, type PredictorNetwork } from "../../sdk/inference/predictor.js";
import type { Plans } from "../../sdk/planning/plans.js";
import type { DatasetJson } from "../../sdk/dataset/raw.js";
import type { StateDictInput } from "../../sdk/networks/index.js";

await tf.setBackend("cpu");

const plans = {
  dataset_name: "Dataset001_T",
  plans_name: "nnUNetPlans",
  transpose_forward: [0, 1, 2],
  transpose_backward: [0, 1, 2],
  image_reader_writer: "SimpleITKIO",
  configurations: {
    "3d_fullres": {
      patch_size: [4, 4, 4],
      spacing: [1, 1, 1],
      architecture: { network_class_name: "fake", arch_kwargs: {}, _kw_requires_import: [] },
      resampling_fn_probabilities_kwargs: { is_seg: false, order: 1, order_z: 0, force_separate_z: null },
    },
  },
} as unknown as Plans;
const datasetJson = { channel_names: { "0": "CT" }, labels: { background: 0, a: 1, b: 2 }, numTraining: 1, file_ending: ".nii.gz" } as DatasetJson;

/** Logits h = x * (h + 1) + bias[h] + (depth position within the tile when `ramp`), with per-fold bias. */
class FakeNet implements PredictorNetwork {
  bias = [0, 0, 0];
  loads = 0;
  calls = 0;
  constructor(private readonly ramp = false) {}
  async loadStateDict(sd: StateDictInput): Promise<void> {
    this.bias = (sd as Record<string, number[]>).bias!;
    this.loads++;
  }
  forward(x: tf.Tensor): tf.Tensor {
    this.calls++;
    const d = x.shape[2]!;
    const heads = this.bias.map((b, h) => tf.add(tf.mul(x, h + 1), b));
    const y = tf.concat(heads, 1);
    return this.ramp ? tf.add(y, tf.range(0, d).reshape([1, 1, d, 1, 1])) : y;
  }
}

const shape = [1, 6, 5, 7];
const data = Float32Array.from({ length: 6 * 5 * 7 }, (_, i) => Math.cos(i));
const n = data.length;

describe("NnUNetPredictor.predictLogitsFromPreprocessedData", () => {
  it("averages the logits of the folds", async () => {
    const net = new FakeNet();
    const p = new NnUNetPredictor({ useMirroring: false }).manualInitialization({
      network: net,
      plans,
      configurationName: "3d_fullres",
      datasetJson,
      parameters: [{ bias: [1, 0, 0] }, { bias: [0, 3, -2] }],
    });
    const logits = await p.predictLogitsFromPreprocessedData(data, shape);
    expect(net.loads).toBe(2);
    for (const i of [0, 17, n - 1]) {
      expect(logits[i]).toBeCloseTo(data[i]! + 0.5, 5);
      expect(logits[n + i]).toBeCloseTo(2 * data[i]! + 1.5, 5);
      expect(logits[2 * n + i]).toBeCloseTo(3 * data[i]! - 1, 5);
    }
    // and the ensemble equals the mean of the single-fold predictions
    const single = async (bias: number[]) =>
      new NnUNetPredictor({ useMirroring: false })
        .manualInitialization({
          network: new FakeNet(),
          plans,
          configurationName: "3d_fullres",
          datasetJson,
          parameters: [{ bias }],
        })
        .predictLogitsFromPreprocessedData(data, shape);
    const [a, b] = [await single([1, 0, 0]), await single([0, 3, -2])];
    let maxErr = 0;
    for (let i = 0; i < logits.length; i++) maxErr = Math.max(maxErr, Math.abs(logits[i]! - (a[i]! + b[i]!) / 2));
    expect(maxErr).toBeLessThan(1e-6);
  });

  it("mirrors over the checkpoint's axes only when TTA is on", async () => {
    const run = async (useMirroring: boolean, axes: number[] | null) => {
      const net = new FakeNet(true);
      const p = new NnUNetPredictor({ useMirroring, tilesPerBatch: 64 }).manualInitialization({
        network: net,
        plans,
        configurationName: "3d_fullres",
        datasetJson,
        inferenceAllowedMirroringAxes: axes,
      });
      return { logits: await p.predictLogitsFromPreprocessedData(data, shape), calls: net.calls };
    };
    const on = await run(true, [0, 1, 2]);
    const off = await run(false, [0, 1, 2]);
    const none = await run(true, null);
    expect(on.calls).toBe(8);
    expect(off.calls).toBe(1);
    expect(none.calls).toBe(1);
    // with mirroring along depth the ramp 0..3 averages to 1.5 everywhere
    expect(on.logits[0]).toBeCloseTo(data[0]! + 1.5, 5);
    expect(off.logits[0]).toBeCloseTo(data[0]!, 5);
    expect(Array.from(off.logits)).toEqual(Array.from(none.logits));
  });

  it("rejects a step size outside (0, 1]", () => {
    expect(() => new NnUNetPredictor({ tileStepSize: 1.5 })).toThrow("invalid tileStepSize: 1.5 (expected a number > 0 and <= 1)");
    expect(() => new NnUNetPredictor({ tileStepSize: NaN })).toThrow("invalid tileStepSize: NaN (expected a number > 0 and <= 1)");
    expect(() => new NnUNetPredictor({ tilesPerBatch: 0 })).toThrow("invalid tilesPerBatch: 0 (expected an integer >= 1)");
  });
});
