// Two writers at once. A run whose lock is held (its renames slowed down by strace, so the overlap is certain)
// makes the second run refuse with one line naming the folder and the first process; the first finishes with the
// uninterrupted result. Started together without slowing down, each run either finishes or refuses, never both
// "succeed" over a broken folder. Training refuses a folder being preprocessed and a fold being trained.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lockFileOf } from "../../sdk/util/lock.js";
import { writeSyntheticDataset, type SyntheticDataset } from "../training/helpers/synthetic-dataset.js";
import { PREPROCESS_ARGS, ROOT, faultSuiteRuns, leftovers, runBin, snapshot, tinyRoots, traceCommand, type Env } from "./helpers.js";

const RUNS = faultSuiteRuns(import.meta.url);

/** Starts bin/<name>.js in the background (renames slowed down by `delayRenames` microseconds). */
function start(name: string, args: string[], env: Env, delayRenames?: number) {
  const [cmd, ...rest] = traceCommand([process.execPath, path.join(ROOT, "bin", `${name}.js`), ...args], delayRenames === undefined ? {} : { delayRenames });
  const child = spawn(cmd!, rest, { env: { ...process.env, ...env, UV_THREADPOOL_SIZE: "1" }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdout.resume();
  const done = new Promise<{ status: number | null; stderr: string }>((resolve) => child.on("close", (status) => resolve({ status, stderr })));
  return { child, done };
}

async function waitFor(cond: () => boolean, what: string, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const holderPid = (folder: string) => (JSON.parse(readFileSync(lockFileOf(folder), "utf8")) as { pid: number }).pid;

describe.skipIf(!RUNS)("two writers of one preprocessed folder", () => {
  let t: ReturnType<typeof tinyRoots>;
  let reference: Record<string, string>;
  beforeAll(() => {
    t = tinyRoots("faults-concurrent-");
    const r = runBin("nnUNetv2_preprocess", PREPROCESS_ARGS, t.env);
    expect(r.status, r.stderr).toBe(0);
    reference = snapshot(t.preBase);
  });
  afterAll(() => rmSync(t.root, { recursive: true, force: true }));

  it("the second run refuses in one line naming the folder and the first process; training refuses the folder too", { timeout: 120_000 }, async () => {
    const first = start("nnUNetv2_preprocess", PREPROCESS_ARGS, t.env, 300_000);
    await waitFor(() => existsSync(lockFileOf(t.dataFolder)), "the first run's lock");
    const pid = holderPid(t.dataFolder);
    const second = runBin("nnUNetv2_preprocess", PREPROCESS_ARGS, t.env);
    expect(second.status).toBe(1);
    expect(second.stderr).toMatch(
      new RegExp(
        `^nnUNetv2_preprocess: error: ${t.dataFolder}: in use by process ${pid} \\(nnUNetv2_preprocess -d 900 -c 3d_fullres -np 1, since [^)]+\\); wait for it to finish or stop it, then run again\\n$`,
      ),
    );
    const training = runBin("nnUNetv2_train", ["900", "3d_fullres", "0", "--num_epochs", "1"], t.env);
    expect(training.status).toBe(1);
    expect(training.stderr).toMatch(
      new RegExp(`^nnUNetv2_train: error: ${t.dataFolder}: being written by process ${pid} \\(.*\\); training has to wait until it has finished\\n$`),
    );
    const r = await first.done;
    expect(r.status, r.stderr).toBe(0);
    expect(snapshot(t.preBase)).toEqual(reference);
    expect(leftovers(t.root)).toEqual([]);
  });

  it("started together (three times), each run finishes or refuses, and the folder ends complete", { timeout: 120_000 }, async () => {
    for (let k = 0; k < 3; k++) {
      const results = await Promise.all([start("nnUNetv2_preprocess", PREPROCESS_ARGS, t.env).done, start("nnUNetv2_preprocess", PREPROCESS_ARGS, t.env).done]);
      for (const r of results) {
        if (r.status !== 0) expect(r.stderr).toMatch(new RegExp(`^nnUNetv2_preprocess: error: ${t.dataFolder}: in use by process \\d+ `));
      }
      expect(results.some((r) => r.status === 0)).toBe(true);
      expect(snapshot(t.preBase)).toEqual(reference);
      expect(leftovers(t.root)).toEqual([]);
    }
  });
});

describe.skipIf(!RUNS)("two trainings of one fold", () => {
  let ds: SyntheticDataset;
  beforeAll(async () => {
    ds = await writeSyntheticDataset(mkdtempSync(path.join(tmpdir(), "faults-concurrent-train-")), { id: 997, numCases: 5, size: 10 });
  });
  afterAll(() => rmSync(ds.root, { recursive: true, force: true }));

  it("the second refuses while the first holds the fold; the first finishes", { timeout: 180_000 }, async () => {
    const args = [
      "997",
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
      "3",
    ];
    const fold = path.join(ds.paths.nnUNet_results, ds.datasetName, "nnUNetTrainer__nnUNetPlans__3d_fullres", "fold_0");
    const first = start("nnUNetv2_train", args, ds.paths, 500_000);
    await waitFor(() => existsSync(lockFileOf(fold)), "the first training's lock");
    const pid = holderPid(fold);
    const second = runBin("nnUNetv2_train", [...args, "--c"], ds.paths);
    expect(second.status).toBe(1);
    expect(second.stderr).toMatch(
      new RegExp(
        `^nnUNetv2_train: error: ${fold}: in use by process ${pid} \\(nnUNetv2_train 997 3d_fullres 0 .*\\); wait for it to finish or stop it, then run again\\n$`,
      ),
    );
    const r = await first.done;
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(path.join(fold, "checkpoint_final.pth"))).toBe(true);
    expect(leftovers(ds.root)).toEqual([]);
  });
});
