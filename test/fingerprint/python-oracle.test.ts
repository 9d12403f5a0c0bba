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
import { writeNifti } from "../../sdk/io/nifti/index.js";
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

const reason = !existsSync(path.join(EXAMPLE, "dataset.json"))
  ? "datasets-examples/Dataset001_Example not present"
  : pythonSkipReason(["numpy", "scipy", "nibabel"]);

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
      for (const [planner, file] of [
        ["ExperimentPlanner", "nnUNetPlans.json"],
        ["nnUNetPlannerResEncM", "nnUNetResEncUNetMPlans.json"],
      ] as const) {
        expect(formatPlans(await planExperiment(ds, { paths, planner }))).toBe(readFileSync(path.join(GOLDEN, file), "utf8"));
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 600_000);
});

/** Three small 2-channel cases; the second has no foreground label (upstream then reduces in float64). */
async function writeTwoChannelDataset(folder: string): Promise<void> {
  const { mkdirSync, writeFileSync } = await import("node:fs");
  mkdirSync(path.join(folder, "imagesTr"), { recursive: true });
  mkdirSync(path.join(folder, "labelsTr"), { recursive: true });
  writeFileSync(
    path.join(folder, "dataset.json"),
    JSON.stringify({
      channel_names: { 0: "T2", 1: "ADC" },
      labels: { background: 0, a: 1 },
      numTraining: 3,
      file_ending: ".nii.gz",
    }),
  );
  const dims: [number, number, number][] = [
    [21, 18, 9],
    [16, 20, 7],
    [24, 17, 11],
  ];
  for (let c = 0; c < 3; c++) {
    const [X, Y, Z] = dims[c]!;
    const n = X * Y * Z;
    const img = [new Float32Array(n), new Float32Array(n)];
    const lbl = new Uint8Array(n);
    for (let z = 0, i = 0; z < Z; z++)
      for (let y = 0; y < Y; y++)
        for (let x = 0; x < X; x++, i++) {
          const r = ((x - X / 2) / (0.4 * X)) ** 2 + ((y - Y / 2) / (0.45 * Y)) ** 2 + ((z - Z / 2) / (0.5 * Z)) ** 2;
          if (r < 1) {
            img[0]![i] = 100 + 3.7 * x - 1.3 * y + 0.21 * z * z;
            img[1]![i] = 0.001 * (i % 97) + 1.5;
            if (c !== 1 && r < 0.3) lbl[i] = 1;
          }
        }
    const affine = [
      [0.9, 0, 0, 0],
      [0, 0.8, 0, 0],
      [0, 0, 2.5 + c * 0.5, 0],
      [0, 0, 0, 1],
    ];
    const id = `case_${c}`;
    for (const ch of [0, 1]) await writeNifti(path.join(folder, "imagesTr", `${id}_000${ch}.nii.gz`), img[ch]!, [X, Y, Z], affine);
    await writeNifti(path.join(folder, "labelsTr", `${id}.nii.gz`), lbl, [X, Y, Z], affine);
  }
}

const reason2 = pythonSkipReason(["numpy", "scipy", "nibabel"]);
describe.skipIf(reason2 !== null)(`extractFingerprint on two channels with an empty case ${reason2 ?? ""}`, () => {
  it("extractFingerprint(two channels, one case without foreground) equals the numpy/scipy oracle", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "fp-2ch-"));
    try {
      const paths = { nnUNet_raw: path.join(root, "raw"), nnUNet_preprocessed: path.join(root, "pre") };
      await writeTwoChannelDataset(path.join(paths.nnUNet_raw, "Dataset991_TwoChannel"));
      const ds = await openRawDataset(991, paths);
      const fp = await extractFingerprint(ds, { paths, numProcesses: 1 });
      const oracle = JSON.parse(runPython(ORACLE, [ds.folder], { timeoutMs: 600_000 }));
      expect(fp.toJSON()).toEqual(oracle);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 600_000);
});
