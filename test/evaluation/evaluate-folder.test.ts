import { describe, it, expect, beforeAll } from "vitest";
import { mkdtempSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { writeSeg } from "../../sdk/io/image-io.js";
import { computeMetricsOnFolder, computeMetricsOnFolder2 } from "../../sdk/evaluation/evaluate-folder.js";
import { parseArgs } from "../../sdk/cli/argparse.js";
import { spec, run } from "../../sdk/cli/commands/evaluate-folder.js";
import { RandomState } from "../../sdk/util/random-state.js";
import { pythonSkipReason, runPython } from "../helpers/python.js";
import { skipUnlessCI } from "../helpers/ci.js";

const SHAPE = [5, 6, 7];
const props = { spacing: [2, 1, 1], sitk_stuff: { spacing: [1, 1, 2], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] } };

/** Writes gt/ and pred/ with 4 cases of labels 0..3 (3 is rare), pred = gt with ~25 % of voxels changed. */
async function makeFolders(root: string, { dropLabel2InCase = 1 } = {}): Promise<void> {
  const rs = new RandomState(7);
  mkdirSync(path.join(root, "gt"), { recursive: true });
  mkdirSync(path.join(root, "pred"), { recursive: true });
  const n = SHAPE[0]! * SHAPE[1]! * SHAPE[2]!;
  for (let c = 0; c < 4; c++) {
    const gt = new Uint8Array(n),
      pred = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const u = rs.randomSample();
      gt[i] = u < 0.5 ? 0 : u < 0.75 ? 1 : u < 0.97 ? 2 : 3;
      if (c === dropLabel2InCase && gt[i] === 2) gt[i] = 0;
      pred[i] = rs.randomSample() < 0.25 ? rs.randint(0, 3) : gt[i]!;
      if (c === dropLabel2InCase && pred[i] === 2) pred[i] = 1;
    }
    await writeSeg(gt, SHAPE, path.join(root, "gt", `case_${c}.nii.gz`), props);
    await writeSeg(pred, SHAPE, path.join(root, "pred", `case_${c}.nii.gz`), props);
  }
}

const plansJson = {
  dataset_name: "Dataset001_T",
  plans_name: "nnUNetPlans",
  configurations: {},
  image_reader_writer: "SimpleITKIO",
  transpose_forward: [0, 1, 2],
  transpose_backward: [0, 1, 2],
};

// upstream's compute_metrics / compute_metrics_on_folder / save_summary_json, condensed, reading with nibabel
// (transposed like SimpleITK; voxel values are what matters here)
const UPSTREAM = `
import json, sys, os, numpy as np, nibabel as nib, warnings
warnings.simplefilter('ignore')
gt, pred, regions, ignore = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
regions = [tuple(r) if isinstance(r, list) else r for r in regions]
def mask(s, r):
    if np.isscalar(r): return s == r
    m = np.zeros_like(s, dtype=bool)
    for x in r: m[s == x] = True
    return m
res = []
for f in sorted(x for x in os.listdir(pred) if x.endswith('.nii.gz')):
    rf, pf = os.path.join(gt, f), os.path.join(pred, f)
    a = np.asanyarray(nib.load(rf).dataobj).astype(np.float32); b = np.asanyarray(nib.load(pf).dataobj).astype(np.float32)
    use = ~(a == ignore) if ignore is not None else np.ones_like(a, dtype=bool)
    out = {'reference_file': rf, 'prediction_file': pf, 'metrics': {}}
    for r in regions:
        mr, mp = mask(a, r), mask(b, r)
        tp = np.sum(mr & mp & use); fp = np.sum(~mr & mp & use); fn = np.sum(mr & ~mp & use); tn = np.sum(~mr & ~mp & use)
        m = {'Dice': 2 * tp / (2 * tp + fp + fn), 'IoU': tp / (tp + fp + fn), 'FP': fp, 'TP': tp, 'FN': fn, 'TN': tn, 'n_pred': fp + tp, 'n_ref': fn + tp}
        out['metrics'][r] = {k: (float(v) if k in ('Dice', 'IoU') else int(v)) for k, v in m.items()}
    res.append(out)
means = {r: {m: float(np.nanmean([c['metrics'][r][m] for c in res])) for m in res[0]['metrics'][regions[0]]} for r in regions}
fg = {m: float(np.mean([means[k][m] for k in means if k != 0 and k != '0'])) for m in res[0]['metrics'][regions[0]]}
conv = lambda d: {str(k): v for k, v in d.items()}
for c in res: c['metrics'] = conv(c['metrics'])
sys.stdout.write(json.dumps({'metric_per_case': res, 'mean': conv(means), 'foreground_mean': fg}, sort_keys=True, indent=4))
`;

describe("computeMetricsOnFolder2 (nnUNetv2_evaluate_folder)", () => {
  const root = mkdtempSync(path.join(tmpdir(), "eval-"));
  beforeAll(async () => {
    await makeFolders(root);
  });

  const cases: [string, Record<string, unknown>, (number | number[])[], number | null][] = [
    ["labels", { background: 0, a: 1, b: 2, c: 3 }, [1, 2, 3], null],
    ["ignore label", { background: 0, a: 1, b: 2, ignore: 3 }, [1, 2], 3],
    ["regions", { background: 0, ab: [1, 2], b: 2, abc: [1, 2, 3] }, [[1, 2], 2, [1, 2, 3]], null],
  ];
  const skip = pythonSkipReason(["numpy", "nibabel"]);

  /** Runs computeMetricsOnFolder2 for one case of the table; returns the summary and the summary.json it wrote. */
  async function evaluate(name: string, labels: Record<string, unknown>, regions: (number | number[])[]) {
    const dj = path.join(root, `dataset_${name.replace(/ /g, "_")}.json`);
    const isRegions = regions.some((r) => Array.isArray(r));
    writeFileSync(
      dj,
      JSON.stringify({ channel_names: { 0: "CT" }, labels, numTraining: 4, file_ending: ".nii.gz", ...(isRegions ? { regions_class_order: [1, 2, 3] } : {}) }),
    );
    writeFileSync(path.join(root, "plans.json"), JSON.stringify(plansJson));
    const out = path.join(root, `summary_${name.replace(/ /g, "_")}.json`);
    const s = await computeMetricsOnFolder2(path.join(root, "gt"), path.join(root, "pred"), dj, path.join(root, "plans.json"), {
      outputFile: out,
      numProcesses: 2,
    });
    return { s, out };
  }

  it.each(cases)("%s: one entry per case; a label absent from both files has NaN Dice, skipped by the mean", async (name, labels, regions) => {
    const { s } = await evaluate(name, labels, regions);
    expect(s.metric_per_case.length).toBe(4);
    expect(Object.keys(s.mean).sort()).toEqual(regions.map((r) => (Array.isArray(r) ? `(${r.join(", ")})` : String(r))).sort());
    // case 1 has no label 2 in either file: NaN Dice there, nanmean skips it
    if (name === "labels") {
      expect(s.metric_per_case[1]!.metrics["2"]!.Dice).toBeNaN();
      expect(Number.isNaN(s.mean["2"]!.Dice)).toBe(false);
    }
  });

  it.skipIf(skip !== null).each(cases)(`%s: summary.json is byte-identical to upstream's algorithm ${skip ?? ""}`, async (name, labels, regions, ignore) => {
    const { out } = await evaluate(name, labels, regions);
    const ref = runPython(UPSTREAM, [path.join(root, "gt"), path.join(root, "pred"), JSON.stringify(regions), JSON.stringify(ignore)]);
    expect(readFileSync(out, "utf8")).toBe(ref);
  });

  it("the CLI writes pred_folder/summary.json by default", async () => {
    writeFileSync(
      path.join(root, "dataset.json"),
      JSON.stringify({ channel_names: { 0: "CT" }, labels: { background: 0, a: 1, b: 2, c: 3 }, numTraining: 4, file_ending: ".nii.gz" }),
    );
    await run(
      parseArgs(spec, [
        path.join(root, "gt"),
        path.join(root, "pred"),
        "-djfile",
        path.join(root, "dataset.json"),
        "-pfile",
        path.join(root, "plans.json"),
        "-np",
        "1",
      ]),
    );
    const j = JSON.parse(readFileSync(path.join(root, "pred", "summary.json"), "utf8").replace(/NaN/g, "null"));
    expect(Object.keys(j)).toEqual(["foreground_mean", "mean", "metric_per_case"]);
    expect(Object.keys(j.mean)).toEqual(["1", "2", "3"]);
  });

  it("names the folder when predictions are missing, unless chill", async () => {
    const r2 = mkdtempSync(path.join(tmpdir(), "eval-missing-"));
    await makeFolders(r2);
    const { rmSync } = await import("node:fs");
    rmSync(path.join(r2, "pred", "case_2.nii.gz"));
    const opts = { suffix: ".nii.gz", regionsOrLabels: [1, 2] };
    await expect(computeMetricsOnFolder(path.join(r2, "gt"), path.join(r2, "pred"), opts)).rejects.toThrow(
      /pred: 1 reference case\(s\) have no prediction .*case_2\.nii\.gz/,
    );
    const s = await computeMetricsOnFolder(path.join(r2, "gt"), path.join(r2, "pred"), { ...opts, chill: true });
    expect(s.metric_per_case.map((c) => path.basename(c.prediction_file))).toEqual(["case_0.nii.gz", "case_1.nii.gz", "case_3.nii.gz"]);
  });

  it("rejects a prediction whose shape differs from the reference", async () => {
    const r3 = mkdtempSync(path.join(tmpdir(), "eval-shape-"));
    await makeFolders(r3);
    await writeSeg(new Uint8Array(4 * 6 * 7), [4, 6, 7], path.join(r3, "pred", "case_0.nii.gz"), props);
    await expect(computeMetricsOnFolder(path.join(r3, "gt"), path.join(r3, "pred"), { suffix: ".nii.gz", regionsOrLabels: [1] })).rejects.toThrow(
      /case_0\.nii\.gz: shape \[1,4,6,7\] differs from reference/,
    );
  });
});

describe("computeMetricsOnFolder in worker threads (compiled dist/)", () => {
  const distUrl = new URL("../../dist/sdk/evaluation/evaluate-folder.js", import.meta.url);
  const built =
    skipUnlessCI(
      (() => {
        try {
          statSync(distUrl);
          return true;
        } catch {
          return false;
        }
      })()
        ? null
        : "dist/ not built",
    ) === null;
  it.skipIf(!built)("gives the same summary as the in-process run (run `npm run build` first)", async () => {
    const r = mkdtempSync(path.join(tmpdir(), "eval-workers-"));
    await makeFolders(r);
    const dist = (await import(distUrl.href)) as typeof import("../../sdk/evaluation/evaluate-folder.js");
    const opts = { suffix: ".nii.gz", regionsOrLabels: [1, [1, 2], 3] as (number | number[])[], ignoreLabel: null };
    const inWorkers = await dist.computeMetricsOnFolder(path.join(r, "gt"), path.join(r, "pred"), { ...opts, numProcesses: 2 });
    const inProcess = await computeMetricsOnFolder(path.join(r, "gt"), path.join(r, "pred"), { ...opts, numProcesses: 1 });
    expect(JSON.stringify(inWorkers)).toBe(JSON.stringify(inProcess));
  });
});
