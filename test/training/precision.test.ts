// `--precision bf16` for training on cpu-onednn: bf16 convolutions (forward and both backward passes) with fp32
// accumulation, fp32 master weights, optimizer state, loss and checkpoints. Two seeded runs of the same budget, fp32 and
// bf16, see the same batches (data loading and augmentation are seeded and independent of the weights), so their losses
// differ only through bf16 rounding.
//
// Tolerance: bf16 keeps 8 significant bits (relative rounding 2^-9 = 0.2% per operand); with fp32 accumulation a
// convolution's output then differs from fp32 by a few tenths of a percent (test/backend/onednn-bf16.test.ts bounds it
// at 1%), and the loss averages such differences over the patch: the first iteration (same weights, same batch) differs
// by the forward pass only, its loss within 0.5% (measured: 0.02%). The following SGD steps add the rounded gradients'
// drift to the weights, so later losses are held to 2% (measured: at most 0.15% over these 8 steps), plus 0.01
// absolute for losses near zero - far tighter than the loss's own change over these iterations (about 0.65), which
// the test also checks, so a bf16 path that learned nothing or diverged would fail.

import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { tf } from "../../sdk/backend/index.js";
import { cpuHasBf16, ONEDNN_BACKEND_NAME, registerOnednnBackend } from "../../sdk/backend/onednn.js";
import { getConvPrecision, getTrainingConvPrecision } from "../../sdk/backend/onednn-kernels.js";
import { train, type TrainOptions } from "../../sdk/training/run-training.js";
import { loadCheckpoint } from "../../sdk/training/checkpoint-io.js";
import { parseArgs } from "../../sdk/cli/argparse.js";
import { spec as trainSpec } from "../../sdk/cli/commands/train.js";
import { toTrainOptions } from "../../sdk/cli/commands/train-pretrained.js";
import { writeSyntheticDataset, type SyntheticDataset } from "./helpers/synthetic-dataset.js";
import { pythonSkipReason, runPythonJson } from "../helpers/python.js";
import { skipUnlessCI } from "../helpers/ci.js";

const status = await registerOnednnBackend();
const onednnSkip = skipUnlessCI(status.available ? null : `the oneDNN addon is not built (${status.reason ?? "unknown"})`);
const bf16 = status.available && cpuHasBf16();

describe.skipIf(onednnSkip !== null)(`training with --precision bf16 ${onednnSkip ?? ""}`, () => {
  let ds: SyntheticDataset;
  beforeAll(async () => {
    ds = await writeSyntheticDataset(mkdtempSync(path.join(tmpdir(), "nnssl-precision-")), { size: 16, patch: [16, 16, 16], id: 993 });
  });

  const run = async (precision: "fp32" | "bf16", results: string, extra: Partial<TrainOptions> = {}) => {
    const losses: number[] = [];
    const log: string[] = [];
    const r = await train({
      dataset: ds.datasetName,
      configuration: "3d_fullres",
      fold: 0,
      trainer: "nnUNetTrainer",
      numEpochs: 2,
      numIterationsPerEpoch: 4,
      numValIterationsPerEpoch: 1,
      seed: 11,
      numWorkers: 0,
      skipValidation: true,
      backend: ONEDNN_BACKEND_NAME,
      precision,
      paths: { ...ds.paths, nnUNet_results: path.join(ds.root, results) },
      onIteration: (e) => {
        if (e.phase === "train") losses.push(e.loss);
      },
      onLog: (line) => log.push(line),
      ...extra,
    });
    return { r, losses, log };
  };

  it.skipIf(!bf16)("bf16 losses stay within 0.5% (first step) and 2% (later steps) of fp32's; the checkpoint is fp32", async () => {
    const ref = await run("fp32", "results-fp32");
    const half = await run("bf16", "results-bf16");
    expect(ref.r.precision).toBe("fp32");
    expect(half.r.precision).toBe("bf16");
    expect(half.log.some((l) => /Precision: bf16 convolutions with fp32 accumulation/.test(l))).toBe(true);
    // the switch is reset when the run ends
    expect([getConvPrecision(), getTrainingConvPrecision()]).toEqual(["fp32", "fp32"]);
    expect(half.losses).toHaveLength(8);
    expect(half.losses[0]).not.toBe(ref.losses[0]); // bf16 really ran
    expect(Math.abs(half.losses[0]! - ref.losses[0]!)).toBeLessThanOrEqual(0.005 * Math.abs(ref.losses[0]!));
    for (let i = 1; i < ref.losses.length; i++) {
      expect(Math.abs(half.losses[i]! - ref.losses[i]!), `iteration ${i}`).toBeLessThanOrEqual(0.02 * Math.abs(ref.losses[i]!) + 0.01);
    }
    // both learned: the loss moved by more than the tolerance
    expect(ref.losses[0]! - Math.min(...ref.losses.slice(4))).toBeGreaterThan(0.1);
    expect(half.losses[0]! - Math.min(...half.losses.slice(4))).toBeGreaterThan(0.1);

    const ck = await loadCheckpoint(half.r.checkpointFinal!);
    const weights = ck.networkWeights as unknown as Record<string, { dtype: string }> | Map<string, { dtype: string }>;
    const entries = weights instanceof Map ? [...weights] : Object.entries(weights);
    expect(entries.length).toBeGreaterThan(0);
    for (const [name, t] of entries) expect(t.dtype, name).toBe("float32");
    const debug = JSON.parse(readFileSync(path.join(half.r.outputFolder, "debug.json"), "utf8"));
    expect(debug.precision).toBe("bf16");
  });

  const torchSkip = pythonSkipReason(["torch"]);
  it.skipIf(!bf16 || torchSkip !== null)(`the bf16 run's checkpoint_final.pth loads in torch with float32 weights and state ${torchSkip ?? ""}`, () => {
    const file = path.join(ds.root, "results-bf16", ds.datasetName, "nnUNetTrainer__nnUNetPlans__3d_fullres", "fold_0", "checkpoint_final.pth");
    const out = runPythonJson<{ weights: string[]; state: string[] }>(
      `
import json, sys, torch
ck = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
w = sorted({str(v.dtype) for v in ck["network_weights"].values()})
s = sorted({str(v.dtype) for st in ck["optimizer_state"]["state"].values() for v in st.values() if torch.is_tensor(v)})
print(json.dumps({"weights": w, "state": s}))
`,
      [file],
    );
    expect(out).toEqual({ weights: ["torch.float32"], state: ["torch.float32"] });
  });

  it("without bf16 instructions (or with NNSSL_ADAPT_BF16=0 where the CPU has them) the run stays fp32 with a one-line notice", async () => {
    process.env.NNSSL_ADAPT_BF16 = "0";
    try {
      const r = await run("bf16", "results-nobf16", { numEpochs: 1, numIterationsPerEpoch: 1 });
      expect(r.r.precision).toBe("fp32");
      expect(r.log).toContain(
        bf16
          ? "--precision bf16: NNSSL_ADAPT_BF16=0 turns the CPU's bf16 instructions off; computing in fp32"
          : "--precision bf16: this CPU has no bf16 instructions (avx512_bf16 or amx_bf16); computing in fp32",
      );
      expect(getTrainingConvPrecision()).toBe("fp32");
    } finally {
      delete process.env.NNSSL_ADAPT_BF16;
    }
  });

  it("on the plain cpu backend the run stays fp32 with a one-line notice", async () => {
    try {
      const r = await run("bf16", "results-cpu", { backend: "cpu", numEpochs: 1, numIterationsPerEpoch: 1, disableCheckpointing: true });
      expect(r.r.precision).toBe("fp32");
      expect(r.log).toContain("--precision bf16: the cpu backend has no bf16 kernels (cpu-onednn has); computing in fp32");
      expect(getTrainingConvPrecision()).toBe("fp32");
    } finally {
      await tf.setBackend(ONEDNN_BACKEND_NAME);
    }
  });

  it("--precision reaches TrainOptions (fp32 by default, other values refused)", async () => {
    await expect(run("fp16" as never, "results-fp16")).rejects.toThrow('invalid precision: "fp16" (expected "fp32" or "bf16")');
    const parseTrainArgs = (argv: string[]) => toTrainOptions(trainSpec.prog, parseArgs(trainSpec, argv));
    expect(parseTrainArgs(["991", "3d_fullres", "0", "--precision", "bf16"]).precision).toBe("bf16");
    expect(parseTrainArgs(["991", "3d_fullres", "0"]).precision).toBeUndefined();
    expect(() => parseTrainArgs(["991", "3d_fullres", "0", "--precision", "fp16"])).toThrow(/--precision: invalid choice: 'fp16'/);
  });
});
