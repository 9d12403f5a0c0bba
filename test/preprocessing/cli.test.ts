// nnUNetv2_preprocess / nnUNetv2_preprocess_like_nnssl: flags -> options, exit codes and one-line errors. Numerics
// are tested at the SDK level (run-case, like-nnssl tests). The binaries load dist/, so this runs after `npm run build`.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "../../sdk/cli/argparse.js";
import { spec as likeSpec } from "../../sdk/cli/commands/preprocess-like-nnssl.js";
import { spec as ppSpec } from "../../sdk/cli/commands/preprocess.js";
import { NNSSL_CKPT, makeTinyRoots } from "./helpers.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
let tmp: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  tmp = makeTinyRoots("pp-cli-", ["nnUNetPlans.json", "dataset_fingerprint.json"]);
  env = { ...process.env, nnUNet_raw: path.join(tmp, "raw"), nnUNet_preprocessed: path.join(tmp, "pre") };
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const bin = (name: string, args: string[]) =>
  spawnSync(process.execPath, [path.join(ROOT, "bin", `${name}.js`), ...args], { env, encoding: "utf8", timeout: 300_000 });

describe("nnUNetv2_preprocess_like_nnssl [flags]: parseArgs, exit codes, outputs", () => {
  it.each([
    [
      ["-d", "900", "-n", "X", "-pc", "c.pth"],
      { d: 900, pretraining_name: "X", pretrained_checkpoint: "c.pth", adaptation_mode: "default_nnunet", np: 4, verbose: false, overwrite_pp: false },
    ],
    [
      ["-d", "900", "--pretraining_name", "X", "--pretrained_checkpoint", "c.pth", "-am", "fixed", "-os", "2", "1", "1", "-np", "2", "--overwrite_pp"],
      { adaptation_mode: "fixed", override_spacing: [2, 1, 1], np: 2, overwrite_pp: true },
    ],
  ])("parseArgs(spec, %j)", (argv, expected) => {
    expect(parseArgs(likeSpec, argv)).toMatchObject(expected);
  });

  it("rejects an unknown adaptation mode with exit code 2", () => {
    const r = bin("nnUNetv2_preprocess_like_nnssl", ["-d", "900", "-n", "X", "-pc", NNSSL_CKPT, "-am", "bogus"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/argument -am\/--adaptation_mode: invalid choice: 'bogus'/);
  });

  it("names a missing checkpoint in one line and exits 1", () => {
    const r = bin("nnUNetv2_preprocess_like_nnssl", ["-d", "900", "-n", "X", "-pc", "/no/such/ckpt.pth"]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual(["nnUNetv2_preprocess_like_nnssl: error: /no/such/ckpt.pth: file not found"]);
  });

  it("requires three numbers for -am fixed", () => {
    const r = bin("nnUNetv2_preprocess_like_nnssl", ["-d", "900", "-n", "X", "-pc", NNSSL_CKPT, "-am", "fixed", "-os", "1", "2"]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(
      "nnUNetv2_preprocess_like_nnssl: error: argument -os/--override_spacing: expected 3 values (one per axis, transposed order), got 2",
    );
  });

  it("writes the ptPlans and the no_resample data in worker threads", () => {
    const r = bin("nnUNetv2_preprocess_like_nnssl", ["-d", "900", "-n", "Mini", "-pc", NNSSL_CKPT, "-am", "no_resample", "-np", "2"]);
    expect(r.stderr.replace(/^preprocess 3d_fullres: .*\n/gm, "")).toBe("");
    expect(r.status).toBe(0);
    const pre = path.join(tmp, "pre", "Dataset900_Tiny");
    expect(existsSync(path.join(pre, "ptPlans__Mini____Spacing__None_None_None___Norm__Z.json"))).toBe(true);
    expect(readdirSync(path.join(pre, "Spacing__None_None_None___Norm__Z")).filter((f) => f.endsWith(".json")).length).toBe(5);
    expect(readdirSync(path.join(pre, "gt_segmentations")).length).toBe(5);
    expect(r.stdout).toMatch(/next: nnUNetv2_train_pretrained 900 3d_fullres FOLD -p ptPlans__Mini____Spacing__None_None_None___Norm__Z/);
  });
});

describe("nnUNetv2_preprocess [flags]: parseArgs, exit codes, outputs", () => {
  it.each([
    [["-d", "900"], { d: [900], plans_name: "nnUNetPlans", c: ["2d", "3d_fullres", "3d_lowres"], np: [8, 4, 8] }],
    [["-d", "900", "901", "-plans_name", "P", "-c", "3d_fullres", "-np", "2"], { d: [900, 901], plans_name: "P", c: ["3d_fullres"], np: [2] }],
  ])("parseArgs(spec, %j)", (argv, expected) => {
    expect(parseArgs(ppSpec, argv)).toMatchObject(expected);
  });

  it("skips configurations the plans lack and preprocesses the others", () => {
    const r = bin("nnUNetv2_preprocess", ["-d", "900", "-c", "3d_fullres", "3d_lowres", "-np", "2"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/INFO: Configuration 3d_lowres not found in plans file nnUNetPlans.json of dataset Dataset900_Tiny. Skipping./);
    expect(readdirSync(path.join(tmp, "pre", "Dataset900_Tiny", "nnUNetPlans_3d_fullres")).filter((f) => f.endsWith("_seg.npy")).length).toBe(5);
  });

  it("rejects mismatched -np and -c lengths in one line", () => {
    const r = bin("nnUNetv2_preprocess", ["-d", "900", "-c", "2d", "3d_fullres", "3d_lowres", "-np", "1", "2"]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n").length).toBe(1);
    expect(r.stderr).toMatch(/num_processes must either have len 1 or as many elements as there are configurations/);
  });
});
