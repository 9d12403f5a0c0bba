import { readFileSync, readdirSync, statSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { foldFolderName, hfFolderName, modelFolder, preprocessedDatasetFolder, pretrainedModelFolder, rawDatasetFolder } from "../../sdk/config/folders.js";
import {
  ENVIRONMENT,
  augmentationWorkers,
  backendOverride,
  debugErrors,
  defaultNumProcesses,
  keepFreedHeap,
  ompWaitPolicySet,
  predictionWorkers,
} from "../../sdk/config/switches.js";
import { defaultPlansName } from "../../sdk/planning/planners.js";

const paths = { nnUNet_raw: "/r", nnUNet_preprocessed: "/p", nnUNet_results: "/m", nnssl_pretrained_models: "/w" };

describe("config/folders: the nnU-Net / nnssl folder layout", () => {
  it("builds every folder from the four roots", () => {
    expect(rawDatasetFolder("Dataset001_A", paths)).toBe("/r/Dataset001_A");
    expect(preprocessedDatasetFolder("Dataset001_A", paths)).toBe("/p/Dataset001_A");
    expect(preprocessedDatasetFolder({ name: "Dataset001_A" }, paths)).toBe("/p/Dataset001_A");
    expect(modelFolder("Dataset001_A", "nnUNetTrainer", "nnUNetPlans", "3d_fullres", paths)).toBe("/m/Dataset001_A/nnUNetTrainer__nnUNetPlans__3d_fullres");
    expect(foldFolderName(0)).toBe("fold_0");
    expect(foldFolderName("all")).toBe("fold_all");
    expect(pretrainedModelFolder("https://huggingface.co/org/repo/", paths)).toBe("/w/org_repo");
    expect(hfFolderName("https://huggingface.co/org/repo")).toBe("org_repo");
  });
});

describe("config/switches: environment variables", () => {
  it("integer switches: default when unset or empty, the value when valid, a ConfigError naming the variable otherwise", () => {
    expect(defaultNumProcesses({})).toBe(8);
    expect(defaultNumProcesses({ nnUNet_def_n_proc: "" })).toBe(8);
    expect(defaultNumProcesses({ nnUNet_def_n_proc: "3" })).toBe(3);
    expect(() => defaultNumProcesses({ nnUNet_def_n_proc: "many" })).toThrow(/^nnUNet_def_n_proc must be an integer >= 1, got "many"$/);
    expect(() => defaultNumProcesses({ nnUNet_def_n_proc: "0" })).toThrow(/nnUNet_def_n_proc/);
    expect(predictionWorkers({ nnUNet_npp: "2" })).toEqual({ npp: 2, nps: 3 });
    expect(augmentationWorkers({})).toBeUndefined();
    expect(augmentationWorkers({ nnUNet_n_proc_DA: "0" })).toBe(0);
    expect(() => augmentationWorkers({ nnUNet_n_proc_DA: "-1" })).toThrow(/nnUNet_n_proc_DA/);
  });
  it("backend, allocator, OpenMP and debug switches", () => {
    expect(backendOverride({})).toBeUndefined();
    expect(backendOverride({ NNSSL_ADAPT_BACKEND: "cpu" })).toBe("cpu");
    expect(keepFreedHeap({})).toBe(true);
    expect(keepFreedHeap({ NNSSL_ADAPT_MALLOC: "default" })).toBe(false);
    expect(keepFreedHeap({ MALLOC_TRIM_THRESHOLD_: "0" })).toBe(false);
    expect(ompWaitPolicySet({})).toBe(false);
    expect(ompWaitPolicySet({ GOMP_SPINCOUNT: "0" })).toBe(true);
    expect(debugErrors({ NNSSL_ADAPT_DEBUG: "1" })).toBe(true);
  });
  it("every variable the sources read is documented in ENVIRONMENT, and only config/ reads process.env in sdk/", () => {
    const root = path.resolve(import.meta.dirname, "../..");
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const n of readdirSync(d)) {
        const f = path.join(d, n);
        if (statSync(f).isDirectory()) walk(f);
        else if (/\.(ts|js)$/.test(n)) files.push(f);
      }
    };
    for (const d of ["sdk", "kernel-extensions", "scripts"]) walk(path.join(root, d));
    const used = new Set<string>();
    const readers: string[] = [];
    for (const f of files) {
      const src = readFileSync(f, "utf8");
      for (const m of src.matchAll(/\b(?:env|process\.env)(?:\.(\w+)|\["(\w+)"\])/g)) used.add(m[1] ?? m[2]!);
      for (const m of src.matchAll(/\b(?:env|settings)\.(HF_\w+|NNSSL_ADAPT_\w+|nnUNet_\w+)/g)) used.add(m[1]!);
      const rel = path.relative(root, f);
      // raw.ts expands $VARS of dataset.json paths (os.path.expandvars); doctor passes the environment on to children.
      if (
        rel.startsWith("sdk/") &&
        !/^sdk\/config\//.test(rel) &&
        rel !== "sdk/cli/commands/doctor.ts" &&
        rel !== "sdk/dataset/raw.ts" &&
        /process\.env(\.|\[)/.test(src)
      )
        readers.push(rel);
    }
    const system = new Set([
      "CI",
      "OMP_NUM_THREADS",
      "GOMP_SPINCOUNT",
      "MALLOC_MMAP_MAX_",
      "MALLOC_TRIM_THRESHOLD_",
      "CPATH",
      "LIBRARY_PATH",
      "npm_config_node_gyp",
      "JUPYTER_DATA_DIR",
      "CHROMIUM",
      "PYDEVD_DISABLE_FILE_VALIDATION",
      "HUGGING_FACE_HUB_TOKEN",
      "OPENBLAS_NUM_THREADS",
      "MKL_NUM_THREADS",
    ]);
    const undocumented = [...used].filter((v) => /^[A-Za-z]/.test(v) && !(v in ENVIRONMENT) && !system.has(v) && /^(HF_|NNSSL_|nnUNet|nnssl|OMP_)/.test(v));
    expect(undocumented).toEqual([]);
    expect(readers).toEqual([]);
  });
  it("planners own their default plans names", () => {
    expect(defaultPlansName()).toBe("nnUNetPlans");
    expect(defaultPlansName("nnUNetPlannerResEncL")).toBe("nnUNetResEncUNetLPlans");
    expect(() => defaultPlansName("NoSuchPlanner")).toThrow(/unknown experiment planner/);
  });
});
