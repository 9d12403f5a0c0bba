// An independent oracle for the whole fingerprint: the same steps written with numpy / scipy / nibabel (crop to the
// hole-filled nonzero mask, RandomState(1234).choice per case, np.mean / np.std / np.percentile on the concatenation)
// run on datasets-examples/Dataset001_Example, compared with extractFingerprint and with the golden file.
import { describe, expect, it } from "vitest";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { openRawDataset } from "../../sdk/dataset/raw.js";
import { extractFingerprint } from "../../sdk/fingerprint/extract-fingerprint.js";
import { planExperiment } from "../../sdk/planning/plan-experiment.js";
import { formatPlans } from "../../sdk/planning/plans.js";
import { pythonSkipReason, runPython } from "../helpers/python.js";

const EXAMPLE = new URL("../../datasets-examples/Dataset001_Example/", import.meta.url).pathname;
const GOLDEN = new URL("./golden/Dataset001_Example/", import.meta.url).pathname;

const ORACLE = String.raw`
import json, sys, glob, os
import numpy as np, nibabel as nib
from scipy.ndimage import binary_fill_holes
folder = sys.argv[1]
dj = json.load(open(os.path.join(folder, 'dataset.json')))
fe = dj['file_ending']
ids = np.unique([os.path.basename(f)[:-(len(fe) + 5)] for f in glob.glob(os.path.join(folder, 'imagesTr', '*' + fe))])
nch = len(dj['channel_names'])
N = int(10e7 // len(ids))
def read(f):
    im = nib.load(f)
    return np.asarray(im.dataobj, dtype=np.float32).transpose(2, 1, 0), [float(z) for z in im.header.get_zooms()[::-1]]
shapes, spacings, rel, samples = [], [], [], [[] for _ in range(nch)]
for i in ids:
    chans = [read(os.path.join(folder, 'imagesTr', '%s_%04d%s' % (i, c, fe))) for c in range(nch)]
    data = np.stack([c[0] for c in chans]).astype(np.float32)
    seg = read(os.path.join(folder, 'labelsTr', i + fe))[0][None]
    mask = binary_fill_holes(np.any(data != 0, axis=0))
    nz = np.nonzero(mask)
    bbox = [[int(a.min()), int(a.max()) + 1] for a in nz] if len(nz[0]) else [[0, s] for s in mask.shape]
    sl = tuple(slice(a, b) for a, b in bbox)
    d = data[(slice(None),) + sl]; s = seg[(slice(None),) + sl].copy(); m = mask[sl][None]
    s[(s == 0) & ~m] = -1
    fg = s[0] > 0
    rs = np.random.RandomState(1234)
    for c in range(nch):
        px = d[c][fg]
        samples[c].append(rs.choice(px, N, replace=True) if len(px) else [])
    shapes.append(list(d.shape[1:])); spacings.append(chans[0][1]); rel.append(np.prod(d.shape[1:]) / np.prod(data.shape[1:]))
props = {}
for c in range(nch):
    a = np.concatenate(samples[c])
    p0, med, p99 = np.percentile(a, np.array((0.5, 50.0, 99.5)))
    props[str(c)] = dict(max=float(np.max(a)), mean=float(np.mean(a)), median=float(med), min=float(np.min(a)),
                         percentile_00_5=float(p0), percentile_99_5=float(p99), std=float(np.std(a)))
print(json.dumps(dict(foreground_intensity_properties_per_channel=props, median_relative_size_after_cropping=float(np.median(rel)),
                      shapes_after_crop=shapes, spacings=spacings)))
`;

const reason = !existsSync(path.join(EXAMPLE, "dataset.json")) ? "datasets-examples/Dataset001_Example not present" : pythonSkipReason(["numpy", "scipy", "nibabel"]);

describe.skipIf(reason !== null)(`extractFingerprint on Dataset001_Example ${reason ?? ""}`, () => {
  it("extractFingerprint(Dataset001_Example) equals the numpy/scipy oracle and the golden files", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "fp-example-"));
    try {
      const paths = { nnUNet_raw: path.join(root, "raw"), nnUNet_preprocessed: path.join(root, "pre") };
      cpSync(EXAMPLE, path.join(paths.nnUNet_raw, "Dataset001_Example"), { recursive: true });
      const ds = await openRawDataset("Dataset001_Example", paths);
      const fp = await extractFingerprint(ds, { paths, numProcesses: 1 });
      const oracle = JSON.parse(runPython(ORACLE, [ds.folder], { timeoutMs: 600_000 }));
      expect(fp.toJSON()).toEqual(oracle);
      expect(fp.format()).toBe(readFileSync(path.join(GOLDEN, "dataset_fingerprint.json"), "utf8"));
      for (const [planner, file] of [["ExperimentPlanner", "nnUNetPlans.json"], ["nnUNetPlannerResEncM", "nnUNetResEncUNetMPlans.json"]] as const) {
        expect(formatPlans(await planExperiment(ds, { paths, planner }))).toBe(readFileSync(path.join(GOLDEN, file), "utf8"));
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
