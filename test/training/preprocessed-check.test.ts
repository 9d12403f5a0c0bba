// Training refuses a partial or inconsistent preprocessed folder before it starts (and before splits_final.json is
// written), naming the missing cases and the command that completes the folder; it refuses bad numeric options and a
// results fold another process is writing. Before, it trained on the subset and stored the subset in the splits.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync, mkdirSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, InputError, LockError } from "../../sdk/errors.js";
import { formatNpy } from "../../sdk/io/npy.js";
import { train } from "../../sdk/training/run-training.js";
import { lockFileOf } from "../../sdk/util/lock.js";
import { writeSyntheticDataset, type SyntheticDataset } from "./helpers/synthetic-dataset.js";

let ds: SyntheticDataset;
let data: string;
let base: string;
const FAST = {
  configuration: "3d_fullres",
  fold: 0 as const,
  numEpochs: 1,
  numIterationsPerEpoch: 1,
  numValIterationsPerEpoch: 0,
  numWorkers: 0,
  seed: 1,
  skipValidation: true,
};
const run = (extra: Record<string, unknown> = {}) => train({ dataset: ds.datasetName, paths: ds.paths, ...FAST, ...extra }).catch((e: unknown) => e);
const COMMAND = "complete it with: nnUNetv2_preprocess -d 994 -plans_name nnUNetPlans -c 3d_fullres";

beforeEach(async () => {
  ds = await writeSyntheticDataset(mkdtempSync(path.join(tmpdir(), "pp-check-")), { id: 994, numCases: 6, size: 10 });
  base = path.join(ds.paths.nnUNet_preprocessed, ds.datasetName);
  data = path.join(base, "nnUNetPlans_3d_fullres");
});
afterEach(() => rmSync(ds.root, { recursive: true, force: true }));

describe("training checks the preprocessed folder first", () => {
  it("refuses a missing properties file (partial case) and writes no splits_final.json", async () => {
    rmSync(path.join(data, "synth_002.json"));
    const err = await run();
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toBe(`${data}: preprocessed data incomplete: 1 of 6 case(s) missing or partial: synth_002 (no synth_002.json); ${COMMAND}`);
    expect(existsSync(path.join(base, "splits_final.json"))).toBe(false);
  });

  it("refuses fewer complete cases than dataset.json's numTraining when the raw data is gone", async () => {
    for (const c of ["synth_001", "synth_004"]) for (const s of [".npy", "_seg.npy", ".json"]) rmSync(path.join(data, c + s));
    const err = await run();
    expect((err as Error).message).toBe(`${data}: preprocessed data incomplete: 4 case(s) found but dataset.json says numTraining 6; ${COMMAND}`);
    expect(existsSync(path.join(base, "splits_final.json"))).toBe(false);
  });

  it("uses splits_final.json to name the missing cases", async () => {
    writeFileSync(
      path.join(base, "splits_final.json"),
      JSON.stringify([{ train: ["synth_000", "synth_001", "synth_002", "synth_003"], val: ["synth_004", "synth_005"] }]),
    );
    for (const s of [".npy", "_seg.npy", ".json"]) rmSync(path.join(data, "synth_005" + s));
    rmSync(path.join(data, "synth_003_seg.npy"));
    const err = await run();
    expect((err as Error).message).toBe(
      `${data}: preprocessed data incomplete: 2 of 6 case(s) of ${path.join(base, "splits_final.json")} missing or partial: synth_003 (no synth_003_seg.npy), synth_005; ${COMMAND}`,
    );
  });

  it("refuses truncated arrays and arrays whose shapes disagree", async () => {
    truncateSync(path.join(data, "synth_001.npy"), 1000);
    writeFileSync(path.join(data, "synth_003_seg.npy"), formatNpy({ dtype: "int16", shape: [1, 10, 10, 9], data: new Int16Array(900) }));
    const err = await run();
    expect((err as Error).message).toBe(
      `${data}: preprocessed data inconsistent in 2 place(s): synth_001.npy: truncated (1000 of 8128 bytes), ` +
        `synth_003_seg.npy: shape [1,10,10,9] does not match the data [2,10,10,10]; rewrite it with: nnUNetv2_preprocess -d 994 -plans_name nnUNetPlans -c 3d_fullres`,
    );
  });

  it("refuses a folder another process is preprocessing, and a results fold another process is writing", async () => {
    const sleeper = spawn("sleep", ["30"], { stdio: "ignore" });
    const holder = JSON.stringify({
      pid: sleeper.pid,
      host: hostname(),
      command: "nnUNetv2_train 994 3d_fullres 0",
      started: "2026-01-01T00:00:00.000Z",
      token: "x",
    });
    try {
      writeFileSync(lockFileOf(data), holder);
      await expect(run()).resolves.toMatchObject({
        message: `${data}: being written by process ${sleeper.pid} (nnUNetv2_train 994 3d_fullres 0, since 2026-01-01T00:00:00.000Z); training has to wait until it has finished`,
      });
      rmSync(lockFileOf(data));
      const fold = path.join(ds.paths.nnUNet_results, ds.datasetName, "nnUNetTrainer__nnUNetPlans__3d_fullres", "fold_0");
      mkdirSync(path.dirname(fold), { recursive: true });
      writeFileSync(lockFileOf(fold), holder);
      const err = await run();
      expect(err).toBeInstanceOf(LockError);
      expect((err as Error).message).toBe(
        `${fold}: in use by process ${sleeper.pid} (nnUNetv2_train 994 3d_fullres 0, since 2026-01-01T00:00:00.000Z); wait for it to finish or stop it, then run again`,
      );
    } finally {
      sleeper.kill("SIGKILL");
    }
  });

  it.each([
    [{ numWorkers: NaN }, "invalid numWorkers: NaN (expected an integer >= 0)"],
    [{ numWorkers: "abc" }, 'invalid numWorkers: "abc" (expected an integer >= 0)'],
    [{ numEpochs: -5 }, "invalid numEpochs: -5 (expected an integer >= 1)"],
    [{ numIterationsPerEpoch: 2.5 }, "invalid numIterationsPerEpoch: 2.5 (expected an integer >= 1)"],
    [{ initialLr: 0 }, "invalid initialLr: 0 (expected a number > 0)"],
    [{ seed: -1 }, "invalid seed: -1 (expected an integer between 0 and 4294967295)"],
  ])("refuses %j before any work with a ConfigError", async (opt, msg) => {
    const err = await run(opt);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(msg);
    expect(existsSync(path.join(ds.paths.nnUNet_results, ds.datasetName))).toBe(false);
  });

  it("trains on a complete folder (and writes splits_final.json from all six cases)", async () => {
    const r = await run();
    expect(r).toMatchObject({ epochsRun: 1 });
    const splits = JSON.parse((await import("node:fs")).readFileSync(path.join(base, "splits_final.json"), "utf8")) as { train: string[]; val: string[] }[];
    expect(new Set([...splits[0]!.train, ...splits[0]!.val]).size).toBe(6);
  });
});
