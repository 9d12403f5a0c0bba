import { describe, it, expect } from "vitest";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { formatNpy } from "../../sdk/io/npy.js";
import { train } from "../../sdk/training/run-training.js";
import { loadCheckpoint } from "../../sdk/training/checkpoint-io.js";
import { tf } from "../../sdk/backend/index.js";

// A 2d configuration: the loader crops one slice (patch (1, H, W)), the network is a 2D PlainConvUNet with deep
// supervision, mirroring on axes (0, 1).
describe("train() with a 2d configuration and deep supervision", () => {
  it("runs an epoch and stores 2D mirror axes", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "nnssl-2d-"));
    const name = "Dataset994_TwoD";
    const base = path.join(root, "pre", name);
    const data = path.join(base, "nnUNetPlans_2d");
    mkdirSync(data, { recursive: true });
    writeFileSync(
      path.join(base, "dataset.json"),
      JSON.stringify({ channel_names: { 0: "CT" }, labels: { background: 0, a: 1, b: 2 }, numTraining: 5, file_ending: ".nii.gz" }),
    );
    const arch = {
      network_class_name: "dynamic_network_architectures.architectures.unet.PlainConvUNet",
      arch_kwargs: {
        n_stages: 3,
        features_per_stage: [4, 8, 8],
        conv_op: "torch.nn.modules.conv.Conv2d",
        kernel_sizes: [
          [3, 3],
          [3, 3],
          [3, 3],
        ],
        strides: [
          [1, 1],
          [2, 2],
          [2, 2],
        ],
        n_conv_per_stage: [1, 1, 1],
        n_conv_per_stage_decoder: [1, 1],
        conv_bias: true,
        norm_op: "torch.nn.modules.instancenorm.InstanceNorm2d",
        norm_op_kwargs: { eps: 1e-5, affine: true },
        dropout_op: null,
        dropout_op_kwargs: null,
        nonlin: "torch.nn.LeakyReLU",
        nonlin_kwargs: { inplace: true },
      },
      _kw_requires_import: ["conv_op", "norm_op", "dropout_op", "nonlin"],
    };
    writeFileSync(
      path.join(base, "nnUNetPlans.json"),
      JSON.stringify({
        dataset_name: name,
        plans_name: "nnUNetPlans",
        configurations: {
          "2d": { data_identifier: "nnUNetPlans_2d", batch_size: 3, patch_size: [8, 8], use_mask_for_norm: [true], architecture: arch, batch_dice: true },
        },
      }),
    );
    for (let k = 0; k < 5; k++) {
      const seg = new Int16Array(4 * 10 * 12);
      const img = new Float32Array(4 * 10 * 12);
      const locs: Record<string, number[][]> = { 1: [], 2: [] };
      for (let z = 0; z < 4; z++)
        for (let y = 0; y < 10; y++)
          for (let x = 0; x < 12; x++) {
            const i = (z * 10 + y) * 12 + x;
            seg[i] = x < 2 ? -1 : y > 6 ? 2 : y > 3 && x > 5 ? 1 : 0;
            if (seg[i]! > 0) locs[String(seg[i])]!.push([0, z, y, x]);
            img[i] = seg[i]! + Math.sin(i + k);
          }
      writeFileSync(path.join(data, `c${k}.npy`), formatNpy({ dtype: "float32", shape: [1, 4, 10, 12], data: img }));
      writeFileSync(path.join(data, `c${k}_seg.npy`), formatNpy({ dtype: "int16", shape: [1, 4, 10, 12], data: seg }));
      writeFileSync(path.join(data, `c${k}.json`), JSON.stringify({ class_locations: locs }));
    }
    const paths = { nnUNet_raw: root, nnUNet_preprocessed: path.join(root, "pre"), nnUNet_results: path.join(root, "res") };
    await expect(train({ dataset: 994, configuration: "2d", fold: 0, warmupEpochs: 3, paths })).rejects.toThrow(/warmupEpochs: nnUNetTrainer has no warm-up/);
    const before = tf.memory().numTensors;
    const run = await train({
      dataset: 994,
      configuration: "2d",
      fold: 2,
      numEpochs: 1,
      numIterationsPerEpoch: 2,
      numValIterationsPerEpoch: 1,
      seed: 4,
      numWorkers: 0,
      skipValidation: true,
      paths,
    });
    // Network, optimizer buffers and every step's intermediates are freed once the run returns.
    expect(tf.memory().numTensors).toBe(before);
    expect(run.logging.train_losses).toHaveLength(1);
    expect(Number.isFinite(run.logging.train_losses[0])).toBe(true);
    expect(run.logging.dice_per_class_or_region[0]).toHaveLength(2);
    const ck = await loadCheckpoint(run.checkpointFinal!);
    expect(ck.currentEpoch).toBe(1);
    const { loadTorchFile } = await import("../../sdk/io/torch/index.js");
    const raw = (await loadTorchFile(run.checkpointFinal!)) as Record<string, unknown>;
    expect(Array.from(raw.inference_allowed_mirroring_axes as number[])).toEqual([0, 1]);
  });
});
