// nnUNetv2_train killed (SIGKILL, by strace) at each of its renames (splits, plans, debug.json, checkpoints,
// progress.png, validation outputs), then continued with --c: the final weights are bit-identical to an uninterrupted
// run and the validation outputs byte-identical, with no temporary or lock file left behind.

import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCheckpoint } from "../../sdk/training/checkpoint-io.js";
import { TorchTensor } from "../../sdk/io/torch/index.js";
import { writeSyntheticDataset, type SyntheticDataset } from "../training/helpers/synthetic-dataset.js";
import { countRenames, faultSuiteRuns, leftovers, runBin, snapshot, type Env } from "./helpers.js";

const RUNS = faultSuiteRuns(import.meta.url);
const ARGS = [
  "996",
  "3d_fullres",
  "0",
  "--num_epochs",
  "2",
  "--num_iterations_per_epoch",
  "1",
  "--num_val_iterations_per_epoch",
  "1",
  "--num_workers",
  "0",
  "--seed",
  "7",
];

/** sha256 over the names and bytes of every tensor of checkpoint_final.pth's network_weights. */
export async function weightsHash(file: string): Promise<string> {
  const ck = await loadCheckpoint(file);
  const h = createHash("sha256");
  const entries = ck.networkWeights instanceof Map ? [...ck.networkWeights] : Object.entries(ck.networkWeights);
  for (const [k, t] of entries) {
    const a = (t as TorchTensor).toTypedArray();
    h.update(k).update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  return h.digest("hex");
}

describe.skipIf(!RUNS)("nnUNetv2_train killed at each rename, continued with --c", () => {
  let ds: SyntheticDataset;
  let env: Env;
  let fold: string;
  let renames = 0;
  let reference: { weights: string; validation: Record<string, string>; epochs: number };
  const reset = () => {
    rmSync(ds.paths.nnUNet_results, { recursive: true, force: true });
    rmSync(path.join(ds.paths.nnUNet_preprocessed, ds.datasetName, "splits_final.json"), { force: true });
  };
  const outcome = async () => ({
    weights: await weightsHash(path.join(fold, "checkpoint_final.pth")),
    validation: snapshot(path.join(fold, "validation")),
    epochs: (await loadCheckpoint(path.join(fold, "checkpoint_final.pth"))).logging.train_losses.length,
  });

  beforeAll(async () => {
    ds = await writeSyntheticDataset(mkdtempSync(path.join(tmpdir(), "faults-train-")), { id: 996, numCases: 5, size: 10 });
    env = { ...ds.paths };
    fold = path.join(ds.paths.nnUNet_results, ds.datasetName, "nnUNetTrainer__nnUNetPlans__3d_fullres", "fold_0");
    const { count, run } = countRenames("nnUNetv2_train", ARGS, env, ds.root);
    expect(run.status, run.stderr).toBe(0);
    renames = count;
    reference = await outcome();
  }, 120_000);
  afterAll(() => rmSync(ds.root, { recursive: true, force: true }));

  it("an uninterrupted run renames splits, plans, dataset.json, debug.json, checkpoints, progress.png and validation files", () => {
    expect(renames).toBeGreaterThanOrEqual(10);
    expect(reference.epochs).toBe(2);
    expect(Object.keys(reference.validation)).toContain("summary.json");
  });

  it("a kill at rename N (every N), then --c, ends with the uninterrupted run's weights and validation", { timeout: 600_000 }, async () => {
    for (let n = 1; n <= renames; n++) {
      reset();
      const killed = runBin("nnUNetv2_train", ARGS, env, { killAtRename: n });
      expect(killed.signal, `rename ${n}: ${killed.stderr}`).toBe("SIGKILL");
      const again = runBin("nnUNetv2_train", [...ARGS, "--c"], env);
      expect(again.status, `--c after a kill at rename ${n}: ${again.stderr}`).toBe(0);
      expect(await outcome(), `after a kill at rename ${n}`).toEqual(reference);
      expect(leftovers(ds.root)).toEqual([]);
      const splits = JSON.parse(readFileSync(path.join(ds.paths.nnUNet_preprocessed, ds.datasetName, "splits_final.json"), "utf8")) as {
        train: string[];
        val: string[];
      }[];
      expect(splits[0]!.train.length + splits[0]!.val.length).toBe(5);
    }
  });
});
