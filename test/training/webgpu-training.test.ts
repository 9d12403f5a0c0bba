// Training on the webgpu backend: a tiny run gives the losses the CPU backend gives and a checkpoint that predicts, and
// GPU memory stays flat over many steps. Runs on SwiftShader where there is no GPU (test/helpers/webgpu.ts).

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { tf } from "../../sdk/backend/index.js";
import { buildNetwork } from "../../sdk/networks/index.js";
import { dcAndCeLoss } from "../../sdk/training/loss.js";
import { SGD, clipGradNorm } from "../../sdk/training/optimizers.js";
import { train, type TrainingRun } from "../../sdk/training/run-training.js";
import { loadCheckpoint } from "../../sdk/training/checkpoint-io.js";
import { referenceBackend, useWebgpu, webgpuSkipReason } from "../helpers/webgpu.js";
import { writeSyntheticDataset, type SyntheticDataset } from "./helpers/synthetic-dataset.js";
import { randomArray } from "../backend/helpers.js";
import { tinyResEncArch } from "../helpers/networks.js";

/** SwiftShader runs these on the CPU, sharing it with other test files. */
const SLOW = 600_000;

describe.skipIf(webgpuSkipReason !== null)("training on the webgpu backend", () => {
  let ds: SyntheticDataset;
  beforeAll(async () => {
    ds = await writeSyntheticDataset(mkdtempSync(path.join(tmpdir(), "nnssl-webgpu-train-")), { numCases: 5, size: 10, patch: [8, 8, 8] });
  });

  it(
    "1 epoch x 2 iterations: the same losses as the CPU backend within 1e-3, and a checkpoint that predicts",
    async () => {
      const runOn = (backend: string, trainer: string): Promise<TrainingRun> =>
        train({
          dataset: ds.datasetName,
          configuration: "3d_fullres",
          fold: 0,
          trainer,
          backend,
          numEpochs: 1,
          numIterationsPerEpoch: 2,
          numValIterationsPerEpoch: 1,
          seed: 3,
          numWorkers: 0,
          paths: ds.paths,
          skipValidation: backend !== "webgpu",
        });
      // Two trainer names (same settings) so that the two runs write separate folders.
      const ref = await runOn(await referenceBackend(), "nnUNetTrainer_1epoch");
      const gpu = await runOn("webgpu", "nnUNetTrainer");
      expect(gpu.backend).toBe("webgpu");
      const losses = (r: TrainingRun) => [...r.logging.train_losses, ...r.logging.val_losses];
      expect(losses(gpu)).toHaveLength(2);
      losses(gpu).forEach((l, i) => expect(Math.abs(l - losses(ref)[i]!), `loss ${i}: webgpu ${l} vs ${losses(ref)[i]}`).toBeLessThan(1e-3));
      // The final validation predicted every held-out case with the trained weights (sliding window on the GPU).
      expect(gpu.validation).not.toBeNull();
      expect(gpu.validation!.metric_per_case.length).toBeGreaterThan(0);
      for (const c of gpu.validation!.metric_per_case) expect(Number.isFinite(c.metrics["1"]!.Dice) || Number.isNaN(c.metrics["1"]!.Dice)).toBe(true);
      const ck = await loadCheckpoint(gpu.checkpointFinal!);
      expect(ck.currentEpoch).toBe(1);
      // The saved weights are the GPU's weights (fetched before saving), not zeros or stale values.
      const weights = ck.networkWeights instanceof Map ? Object.fromEntries(ck.networkWeights) : ck.networkWeights;
      const w = weights["decoder.seg_layers.0.weight"] as { toFloat32(): Float32Array };
      expect(w.toFloat32().some((v) => v !== 0)).toBe(true);
    },
    SLOW,
  );

  it(
    "GPU memory stays flat over 20 training steps",
    async () => {
      await useWebgpu();
      const net = buildNetwork(
        tinyResEncArch(
          [
            [3, 3, 3],
            [3, 3, 3],
          ],
          [
            [1, 1, 1],
            [2, 2, 2],
          ],
        ),
        { inputChannels: 1, numClasses: 2, deepSupervision: false, seed: 1 },
      );
      const vars = net.namedParameters().map(([, v]) => v);
      const opt = new SGD(vars, { lr: 0.01 });
      const loss = dcAndCeLoss({ batchDice: false });
      const x = tf.tensor(randomArray([2, 1, 4, 4, 4], 5), [2, 1, 4, 4, 4]) as tf.Tensor5D;
      const labels = { data: new Int16Array(2 * 64).map((_, i) => (i % 7 === 0 ? 1 : 0)), shape: [2, 1, 4, 4, 4] };
      const live: number[] = [];
      const tensors: number[] = [];
      for (let step = 0; step < 20; step++) {
        const { value, grads } = tf.variableGrads(() => loss(net.forward(x) as tf.Tensor, labels), vars);
        const { grads: clipped } = clipGradNorm(
          vars.map((v) => grads[v.name] ?? null),
          12,
        );
        opt.step(clipped);
        await value.data();
        tf.dispose([value, ...clipped.filter((g): g is tf.Tensor => g !== null)]);
        const m = tf.memory() as tf.MemoryInfo & { numBytesInGPU: number };
        live.push(m.numBytesInGPU);
        tensors.push(m.numTensors);
      }
      // After the first step created the optimizer's momentum buffers, nothing may accumulate.
      expect(new Set(tensors.slice(1)).size, `tensor counts ${tensors}`).toBe(1);
      expect(new Set(live.slice(1)).size, `GPU bytes ${live}`).toBe(1);
      opt.dispose();
      net.dispose();
      x.dispose();
    },
    SLOW,
  );
});
