// The preprocessed configuration folder under faults: bad options are refused before anything is deleted, an
// overwrite that fails keeps the previous data (the new folder is built beside it and swapped in), a folder locked by
// another live process is refused with one line naming it and the process, and temporary files of killed runs go.

import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync, copyFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, InputError, LockError } from "../../sdk/errors.js";
import { openRawDataset, type RawDataset } from "../../sdk/dataset/raw.js";
import { loadPlans, type Plans } from "../../sdk/planning/plans.js";
import { runPreprocessing } from "../../sdk/preprocessing/run-preprocessing.js";
import { preprocessLikeNnssl } from "../../sdk/preprocessing/like-nnssl.js";
import { lockFileOf } from "../../sdk/util/lock.js";
import { Dataset } from "../../sdk/facade.js";
import { checkPreprocessedFolder } from "../../sdk/training/preprocessed-check.js";
import { EXPECTED, NNSSL_CKPT, TINY } from "./helpers.js";

let root: string;
let paths: { nnUNet_raw: string; nnUNet_preprocessed: string };
let ds: RawDataset;
let plans: Plans;
let folder: string;
const snapshot = (dir: string) =>
  Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((n) => [n, readFileSync(path.join(dir, n)).toString("base64")]),
  );

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), "pp-faults-"));
  const raw = path.join(root, "raw", "Dataset900_Tiny");
  cpSync(TINY, raw, { recursive: true, filter: (src) => !src.includes(`${path.sep}expected`) });
  const pre = path.join(root, "pre", "Dataset900_Tiny");
  mkdirSync(pre, { recursive: true });
  for (const f of ["nnUNetPlans.json", "dataset_fingerprint.json"]) copyFileSync(EXPECTED + f, path.join(pre, f));
  copyFileSync(TINY + "dataset.json", path.join(pre, "dataset.json"));
  paths = { nnUNet_raw: path.join(root, "raw"), nnUNet_preprocessed: path.join(root, "pre") };
  ds = await openRawDataset(900, paths);
  plans = await loadPlans(path.join(pre, "nnUNetPlans.json"));
  folder = path.join(pre, "nnUNetPlans_3d_fullres");
  await runPreprocessing(ds, plans, "3d_fullres", { numWorkers: 1, overwrite: true, paths });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("preprocessing a configuration folder under faults", () => {
  it("writes every case", () => {
    expect(readdirSync(folder)).toHaveLength(15);
  });

  it.each([NaN, "abc", 0, -2])("numWorkers %s is refused before anything is deleted", async (n) => {
    const before = snapshot(folder);
    const err = await runPreprocessing(ds, plans, "3d_fullres", { numWorkers: n as number, overwrite: true, paths }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(`invalid numWorkers: ${typeof n === "string" ? `"${n}"` : n} (expected an integer >= 1)`);
    await expect(preprocessLikeNnssl(ds, NNSSL_CKPT, { name: "X", numWorkers: n as number, overwrite: true, paths })).rejects.toThrow(/^invalid numWorkers: /);
    await expect(preprocessLikeNnssl(ds, NNSSL_CKPT, { name: "X", mode: "fixed", overrideSpacing: [0, -1, 1], paths })).rejects.toThrow(
      "invalid overrideSpacing: entry 0 is 0, entry 1 is -1 (expected 3 numbers > 0, one per axis)",
    );
    // the issue's call through the fluent SDK: it used to settle never, exit 0 and leave the folder empty
    await expect(
      Dataset.load(900, { paths })
        .plan()
        .preprocessLike(NNSSL_CKPT, { numWorkers: n as number, overwrite: true }),
    ).rejects.toBeInstanceOf(ConfigError);
    expect(snapshot(folder)).toEqual(before);
  });

  it("an overwrite that fails on a corrupt case keeps the previous folder, byte for byte, and leaves no temporary folder", async () => {
    const before = snapshot(folder);
    const img = ds.cases["Tiny_003"]!.images[0]!;
    const good = readFileSync(img);
    writeFileSync(img, Buffer.from("this is not an image"));
    try {
      const err = await runPreprocessing(ds, plans, "3d_fullres", { numWorkers: 1, overwrite: true, paths }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toMatch(new RegExp(`^${img}: `));
    } finally {
      writeFileSync(img, good);
    }
    expect(snapshot(folder)).toEqual(before);
    expect(readdirSync(path.dirname(folder)).filter((n) => n.startsWith("."))).toEqual([]);
  });

  it("refuses a folder locked by another live process, naming the folder and the pid, and changes nothing", async () => {
    const before = snapshot(folder);
    const sleeper = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      writeFileSync(
        lockFileOf(folder),
        JSON.stringify({ pid: sleeper.pid, host: hostname(), command: "nnUNetv2_preprocess -d 900", started: "2026-01-01T00:00:00.000Z", token: "x" }),
      );
      const err = await runPreprocessing(ds, plans, "3d_fullres", { numWorkers: 1, overwrite: true, paths }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LockError);
      expect((err as Error).message).toBe(
        `${folder}: in use by process ${sleeper.pid} (nnUNetv2_preprocess -d 900, since 2026-01-01T00:00:00.000Z); wait for it to finish or stop it, then run again`,
      );
    } finally {
      sleeper.kill("SIGKILL");
      rmSync(lockFileOf(folder), { force: true });
    }
    expect(snapshot(folder)).toEqual(before);
  });

  it("training's check names the cases of the raw dataset that the folder lacks", async () => {
    const saved = readFileSync(path.join(folder, "Tiny_001.npy"));
    rmSync(path.join(folder, "Tiny_001.npy"));
    try {
      const input = { dataFolder: folder, preprocessedDatasetFolder: path.dirname(folder), datasetName: ds.name, datasetJson: ds.datasetJson, paths };
      await expect(checkPreprocessedFolder({ ...input, plansIdentifier: "nnUNetPlans", configuration: "3d_fullres" })).rejects.toThrow(
        `${folder}: preprocessed data incomplete: 1 of 5 case(s) of the raw dataset ${ds.folder} missing or partial: Tiny_001 (no Tiny_001.npy); ` +
          "complete it with: nnUNetv2_preprocess -d 900 -plans_name nnUNetPlans -c 3d_fullres",
      );
    } finally {
      writeFileSync(path.join(folder, "Tiny_001.npy"), saved);
    }
  });

  it("removes the temporary files a killed run left (its pid is gone) and finishes the partial folder", async () => {
    const before = snapshot(folder);
    const dead = spawnSync(process.execPath, ["-e", ""]).pid!;
    const leftovers = [
      path.join(folder, `.Tiny_001.npy.tmp-${dead}-0badf00d`),
      path.join(path.dirname(folder), `.nnUNetPlans_3d_fullres.tmp-${dead}-12345678`),
    ];
    writeFileSync(leftovers[0]!, "partial");
    mkdirSync(leftovers[1]!);
    rmSync(path.join(folder, "Tiny_002.json"));
    rmSync(path.join(folder, "Tiny_004_seg.npy"));
    const rows = await runPreprocessing(ds, plans, "3d_fullres", { numWorkers: 1, overwrite: false, paths });
    expect(rows.filter((r) => !r.skipped).map((r) => r.identifier)).toEqual(["Tiny_002", "Tiny_004"]);
    expect(snapshot(folder)).toEqual(before);
    expect(readdirSync(path.dirname(folder)).filter((n) => n.startsWith("."))).toEqual([]);
  });
});
