// nnUNetv2_plan_like_dynamic on Dataset900_Tiny with the ResEncMini checkpoint, against nnU-Net master's
// plan_like_dynamic reproduced line by line in Python (json.load of the base plans, torch.load of the checkpoint,
// batchgenerators' save_json = json.dump(sort_keys=True, indent=4)): the ptPlans_dynamic file must be byte-identical.
// The data is preprocessed under the base plans' data identifier, so it must equal the fork's nnUNetPlans_3d_fullres.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import { planLikeDynamic } from "../../sdk/preprocessing/plan-like-dynamic.js";
import { formatPythonJson, parsePythonJson } from "../../sdk/util/python-json.js";
import { loadPreprocessedCase, listPreprocessedCases } from "../../sdk/preprocessing/preprocessed-dataset.js";
import { DATA_TOL, EXPECTED, TINY, makeTinyRoots, maxAbsDiff, readNpy } from "./helpers.js";
import { pythonSkipReason, runPython } from "../helpers/python.js";

const FIXTURES = path.resolve(TINY, "../..");
const BIN = path.resolve(FIXTURES, "../../bin/nnUNetv2_plan_like_dynamic.js");
const NNSSL_ADAPT = path.resolve(FIXTURES, "../../bin/nnssl-adapt.js");

/** master's plan_like_dynamic without the preprocessing: prints the plans file text save_json would write. */
const MASTER_ORACLE = String.raw`
import json, sys, torch
from copy import deepcopy
plans_file, pt_ckpt, pretrain_name = sys.argv[1:4]
plans = json.load(open(plans_file))
# master passes weights_only=True; Debian's torch 1.13 weights-only unpickler lacks BINFLOAT, and the fixture is trusted
loaded_pretrain_ckpt = torch.load(pt_ckpt, map_location="cpu")
adaptation_plan = loaded_pretrain_ckpt["nnssl_adaptation_plan"]
citations = loaded_pretrain_ckpt.get("citations", [])
config = list(adaptation_plan["pretrain_plan"]["configurations"].keys())[0]
adapted_plans = deepcopy(plans)
adapted_plans["pretrain_info"] = {
    "checkpoint_path": pt_ckpt,
    "checkpoint_name": pretrain_name,
    "key_to_encoder": adaptation_plan["key_to_encoder"],
    "key_to_stem": adaptation_plan["key_to_stem"],
    "keys_to_in_proj": adaptation_plan["keys_to_in_proj"],
    "key_to_lpe": adaptation_plan["key_to_lpe"],
    "pt_num_in_channels": adaptation_plan["pretrain_num_input_channels"],
    "pt_used_patchsize": adaptation_plan["pretrain_plan"]["configurations"][config]["patch_size"],
    "pt_recommended_downstream_patchsize": adaptation_plan["recommended_downstream_patchsize"],
    "citations": citations,
    "pt_architecture_kwargs": adaptation_plan.get("architecture_kwargs", {}),
}
adapted_plans["configurations"] = {"3d_fullres": deepcopy(plans["configurations"]["3d_fullres"])}
adapted_plans["plans_name"] = f"ptPlans_dynamic__{pretrain_name}"
sys.stdout.write(json.dumps(adapted_plans, sort_keys=True, indent=4))
`;

const reason = pythonSkipReason(["torch"]);
let root: string;
let cwd: string;
const paths = () => ({ nnUNet_raw: path.join(root, "raw"), nnUNet_preprocessed: path.join(root, "pre") });

beforeAll(() => {
  root = makeTinyRoots("plan-like-dynamic-", ["nnUNetPlans.json", "nnUNetResEncUNetLPlans.json", "dataset_fingerprint.json"]);
  cwd = process.cwd();
  process.chdir(FIXTURES);
});

afterAll(() => {
  process.chdir(cwd);
  rmSync(root, { recursive: true, force: true });
});

describe("parsePythonJson keeps Python floats", () => {
  it("re-formats a plans file byte for byte", () => {
    for (const f of ["nnUNetPlans.json", "nnUNetResEncUNetLPlans.json", "dataset_fingerprint.json"]) {
      const text = readFileSync(EXPECTED + f, "utf8");
      expect(formatPythonJson(parsePythonJson(text), { indent: 4 }), f).toBe(text);
    }
    expect(formatPythonJson(parsePythonJson('{"a": [1.0, 1e-05, -2, NaN, -Infinity], "b": "\\u00e9"}'), { indent: 0 })).toBe(
      '{\n"a": [\n1.0,\n1e-05,\n-2,\nNaN,\n-Infinity\n],\n"b": "\\u00e9"\n}',
    );
    expect(() => parsePythonJson('{"a": 1,}')).toThrow(/offset/);
  });
});

describe.skipIf(reason !== null && process.env.CI !== "true")(`planLikeDynamic equals master's plan_like_dynamic ${reason ?? ""}`, () => {
  it("SDK, base nnUNetPlans: plans byte-identical, data equal to nnUNetPlans_3d_fullres", async () => {
    const res = await planLikeDynamic(900, "nnssl/nnssl_ResEncMini.pth", { name: "ResEncMini_public", numWorkers: 1, paths: paths() });
    expect(path.basename(res.plansFile)).toBe("ptPlans_dynamic__ResEncMini_public.json");
    const base = path.join(paths().nnUNet_preprocessed, "Dataset900_Tiny", "nnUNetPlans.json");
    const expected = runPython(MASTER_ORACLE, [base, "nnssl/nnssl_ResEncMini.pth", "ResEncMini_public"]);
    expect(readFileSync(res.plansFile, "utf8")).toBe(expected);
    expect(res.plans.configurations["3d_fullres"]!.patch_size).toEqual([20, 48, 48]);
    const folder = path.join(paths().nnUNet_preprocessed, "Dataset900_Tiny", "nnUNetPlans_3d_fullres");
    const ids = await listPreprocessedCases(folder);
    expect(ids).toHaveLength(5);
    for (const id of ids) {
      const got = await loadPreprocessedCase(folder, id);
      const exp = readNpy(path.join(EXPECTED, "nnUNetPlans_3d_fullres", `${id}.npy`));
      expect(got.shape).toEqual(exp.shape);
      expect(maxAbsDiff(got.data, exp.data as Float32Array).max, id).toBeLessThanOrEqual(DATA_TOL);
    }
    expect(existsSync(path.join(paths().nnUNet_preprocessed, "Dataset900_Tiny", "gt_segmentations", "Tiny_000.nii.gz"))).toBe(true);
  });

  it("CLI, -pl nnUNetResEncUNetLPlans: overwrites the file of the same name (master's naming) and reuses the data", () => {
    const out = execFileSync(
      process.execPath,
      [BIN, "-d", "900", "-n", "ResEncMini_public", "-pc", "nnssl/nnssl_ResEncMini.pth", "-pl", "nnUNetResEncUNetLPlans", "-np", "1"],
      {
        env: { ...process.env, ...paths() },
        encoding: "utf8",
      },
    );
    expect(out).toContain("nnUNetv2_train_pretrained 900 3d_fullres FOLD -p ptPlans_dynamic__ResEncMini_public -tr DynamicPretrainedTrainer");
    expect(out).toContain("5 case(s), 5 already preprocessed");
    const pre = path.join(paths().nnUNet_preprocessed, "Dataset900_Tiny");
    const expected = runPython(MASTER_ORACLE, [path.join(pre, "nnUNetResEncUNetLPlans.json"), "nnssl/nnssl_ResEncMini.pth", "ResEncMini_public"]);
    expect(readFileSync(path.join(pre, "ptPlans_dynamic__ResEncMini_public.json"), "utf8")).toBe(expected);
    expect(expected).toContain("ResidualEncoderUNet");
  });

  it("checkpoint transfer reads the plans' relative checkpoint_path against the working directory, as upstream", () => {
    const args = [NNSSL_ADAPT, "checkpoint", "transfer", "-d", "900", "-p", "ptPlans_dynamic__ResEncMini_public", "-tr", "DynamicPretrainedTrainer", "--json"];
    const j = JSON.parse(execFileSync(process.execPath, args, { env: { ...process.env, ...paths() }, encoding: "utf8" }));
    expect(j.checkpoint).toBe("nnssl/nnssl_ResEncMini.pth");
    // ResEncL widths (32-256) differ from the checkpoint's (8-64): nothing transferred, nothing crashed
    expect(j.tensors.every((t: { source: string }) => t.source === "init")).toBe(true);
    let err: { status: number; stderr: string } | null = null;
    try {
      execFileSync(process.execPath, args, { env: { ...process.env, ...paths() }, encoding: "utf8", stdio: "pipe", cwd: root });
    } catch (e) {
      err = e as { status: number; stderr: string };
    }
    expect(err?.status).not.toBe(0);
    // (tfjs' pure-JS backend may print its banner first)
    expect(err!.stderr.split("\n").filter((l) => l.startsWith("nnssl-adapt: error"))).toEqual([
      "nnssl-adapt: error: nnssl/nnssl_ResEncMini.pth: file not found",
    ]);
  });

  it("a missing -pl base plans file is one line naming it, exit code non-zero", () => {
    let err: { status: number; stderr: string } | null = null;
    try {
      execFileSync(process.execPath, [BIN, "-d", "900", "-n", "x", "-pc", "nnssl/nnssl_ResEncMini.pth", "-pl", "nnUNetResEncUNetXLPlans"], {
        env: { ...process.env, ...paths() },
        encoding: "utf8",
        stdio: "pipe",
      });
    } catch (e) {
      err = e as { status: number; stderr: string };
    }
    expect(err?.status).not.toBe(0);
    expect(err!.stderr.trim().split("\n")).toHaveLength(1);
    expect(err!.stderr).toContain("nnUNetResEncUNetXLPlans.json");
    expect(existsSync(path.join(paths().nnUNet_preprocessed, "Dataset900_Tiny", "ptPlans_dynamic__x.json"))).toBe(false);
  });
});
