// Each image format nnU-Net reads, end to end on a tiny dataset written by tools that are not ours (ITK through
// plastimatch for .mha/.nrrd, nibabel for a 4-d NIfTI with two channels in one file, Pillow for .png/.bmp, tifffile
// for 2-d and 3-d .tif): fingerprint, plan, preprocess, train 1 epoch x 2 iterations, the final validation (which
// exports predictions with the format's writer and scores them with its reader), and nnUNetv2_predict on imagesTs.
// The written predictions are read back by the other tool. Under CI=true a missing tool fails the test.

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { openRawDataset } from "../../sdk/dataset/raw.js";
import { extractFingerprint } from "../../sdk/fingerprint/extract-fingerprint.js";
import { planExperiment } from "../../sdk/planning/plan-experiment.js";
import { runPreprocessing } from "../../sdk/preprocessing/run-preprocessing.js";
import { train } from "../../sdk/training/run-training.js";
import { parseArgs } from "../../sdk/cli/argparse.js";
import { spec as predictSpec, run as predictRun } from "../../sdk/cli/commands/predict.js";
import { readSeg } from "../../sdk/io/image-io.js";
import { pythonSkipReason, runPython, runPythonJson } from "../helpers/python.js";

const ci = process.env.CI === "true";
const which = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const skip =
  [pythonSkipReason(["nibabel", "numpy", "PIL", "tifffile", "skimage"]), which("plastimatch") ? null : "plastimatch not found (apt-get install plastimatch)"]
    .filter(Boolean)
    .join("; ") || null;
if (ci && skip) throw new Error(`CI=true but the tools that write the datasets are missing: ${skip}`);

interface Kind {
  name: string;
  id: number;
  ending: string;
  configuration: "2d" | "3d_fullres";
  reader: string;
  channels: number;
}

const KINDS: Kind[] = [
  { name: "mha", id: 961, ending: ".mha", configuration: "3d_fullres", reader: "SimpleITKIO", channels: 1 },
  { name: "nrrd", id: 962, ending: ".nrrd", configuration: "3d_fullres", reader: "SimpleITKIO", channels: 1 },
  { name: "nifti4d", id: 963, ending: ".nii.gz", configuration: "3d_fullres", reader: "SimpleITKIO", channels: 2 },
  { name: "png", id: 964, ending: ".png", configuration: "2d", reader: "NaturalImage2DIO", channels: 3 },
  { name: "bmp", id: 965, ending: ".bmp", configuration: "2d", reader: "NaturalImage2DIO", channels: 1 },
  { name: "tif2d", id: 966, ending: ".tif", configuration: "2d", reader: "NaturalImage2DIO", channels: 1 },
  { name: "tif3d", id: 967, ending: ".tif", configuration: "3d_fullres", reader: "Tiff3DIO", channels: 1 },
];

// Writes Dataset<id>_<name> with 5 training cases and 1 test case: a bright block labelled 1 in noise.
const MAKE = `
import sys, os, json, subprocess, numpy as np, nibabel as nib, tifffile
from PIL import Image
raw, kind, did, ending = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
d = f"{raw}/Dataset{did:03d}_{kind}"
for sub in ("imagesTr", "labelsTr", "imagesTs"): os.makedirs(f"{d}/{sub}", exist_ok=True)
rng = np.random.RandomState(did)
def case(k):
    if kind in ("png", "bmp", "tif2d"):
        lab = np.zeros((20, 24), np.uint8); lab[4 + k % 3:12 + k % 3, 6:16] = 1
        img = (rng.rand(20, 24) * 60 + lab * 120).astype(np.uint8)
    else:
        lab = np.zeros((10, 16, 18), np.uint8); lab[2:7, 4 + k % 3:11 + k % 3, 5:13] = 1
        img = (rng.rand(10, 16, 18) * 100 + lab * 200).astype(np.int16)
    return img, lab
chan = {"png": ["R", "G", "B"], "nifti4d": ["T1", "T2"]}.get(kind, ["x"])
aff = np.array([[0, -0.8, 0, 10], [1.2, 0, 0, -4], [0, 0, 2.5, 3], [0, 0, 0, 1]])
def write(img, lab, name, labfile):
    if kind in ("mha", "nrrd"):
        for arr, out in ((img, name + "_0000" + ending), (lab, labfile)):
            if out is None: continue
            tmp = out + ".tmp.nii.gz"
            nib.save(nib.Nifti1Image(arr.transpose(2, 1, 0).copy(), aff), tmp)
            subprocess.run(["plastimatch", "convert", "--input", tmp, "--output-img", out], check=True, capture_output=True)
            os.remove(tmp)
    elif kind == "nifti4d":
        both = np.stack([img, (img * 0.5 + 7).astype(np.int16)], -1).transpose(2, 1, 0, 3).copy()
        nib.save(nib.Nifti1Image(both, aff), name + "_0000.nii.gz")
        if labfile: nib.save(nib.Nifti1Image(lab.transpose(2, 1, 0).copy(), aff), labfile)
    elif kind == "png":
        rgb = np.stack([img, 255 - img, img // 2], -1)
        Image.fromarray(rgb).save(name + "_0000.png")
        if labfile: Image.fromarray(lab).save(labfile)
    elif kind == "bmp":
        Image.fromarray(img).save(name + "_0000.bmp")
        if labfile: Image.fromarray(lab).save(labfile)
    elif kind == "tif2d":
        tifffile.imwrite(name + "_0000.tif", img)
        if labfile: tifffile.imwrite(labfile, lab)
    elif kind == "tif3d":
        tifffile.imwrite(name + "_0000.tif", img, compression="zlib")
        json.dump({"spacing": [2.5, 1.0, 0.75]}, open(name + ".json", "w"))
        if labfile:
            tifffile.imwrite(labfile, lab)
            json.dump({"spacing": [2.5, 1.0, 0.75]}, open(labfile[:-4] + ".json", "w"))
for k in range(5):
    img, lab = case(k)
    write(img, lab, f"{d}/imagesTr/c{k}", f"{d}/labelsTr/c{k}{ending}")
img, lab = case(7)
write(img, lab, f"{d}/imagesTs/t0", None)
json.dump({"channel_names": {str(i): c for i, c in enumerate(chan)}, "labels": {"background": 0, "block": 1}, "numTraining": 5, "file_ending": ending},
          open(f"{d}/dataset.json", "w"))
print(d)
`;

/** Reads a written segmentation with the other side's tool and returns its shape and label set. */
function externalRead(kind: Kind, file: string): { shape: number[]; labels: number[] } {
  if (kind.name === "mha" || kind.name === "nrrd") {
    const nii = `${file}.check.nii.gz`;
    execFileSync("plastimatch", ["convert", "--input", file, "--output-img", nii], { stdio: "ignore" });
    file = nii;
  }
  return runPythonJson(
    `
import sys, json, numpy as np, nibabel as nib, tifffile
from skimage import io
f = sys.argv[1]
a = np.asarray(nib.load(f).dataobj) if f.endswith('.nii.gz') else tifffile.imread(f) if f.endswith('.tif') else io.imread(f)
print(json.dumps({"shape": list(a.shape), "labels": sorted(int(x) for x in np.unique(a))}))`,
    [file],
  );
}

describe.skipIf(skip)(`every image format trains and predicts end to end${skip ? ` (skipped: ${skip})` : ""}`, () => {
  const root = mkdtempSync(path.join(tmpdir(), "nnssl-formats-e2e-"));
  const paths = { nnUNet_raw: path.join(root, "raw"), nnUNet_preprocessed: path.join(root, "pre"), nnUNet_results: path.join(root, "res") };

  it.each(KINDS)(
    "$name ($reader, $configuration)",
    async (kind) => {
      const folder = runPython(MAKE, [paths.nnUNet_raw, kind.name, String(kind.id), kind.ending]).trim();
      const ds = await openRawDataset(folder);
      expect(ds.readerWriter).toBe(kind.reader);
      await extractFingerprint(ds, { numProcesses: 1, verifyDatasetIntegrity: true, paths });
      const plans = await planExperiment(ds, { paths });
      expect(plans.image_reader_writer).toBe(kind.reader);
      // NaturalImage2DIO's fake z axis makes a 2-d dataset: upstream plans no 3d configuration for it
      expect("3d_fullres" in plans.configurations).toBe(kind.configuration === "3d_fullres");
      await runPreprocessing(ds, plans, kind.configuration, { numWorkers: 1, paths });
      const run = await train({
        dataset: kind.id,
        configuration: kind.configuration,
        fold: 0,
        numEpochs: 1,
        numIterationsPerEpoch: 2,
        numValIterationsPerEpoch: 1,
        seed: 3,
        numWorkers: 0,
        paths,
      });
      expect(Number.isFinite(run.logging.train_losses[0])).toBe(true);
      // the final validation wrote the held-out case in the dataset's format and scored it with our reader
      const val = path.join(run.outputFolder, "validation");
      const summary = JSON.parse(readFileSync(path.join(val, "summary.json"), "utf8"));
      expect(summary.metric_per_case).toHaveLength(1);
      const valCase = path.basename(summary.metric_per_case[0].prediction_file);
      expect(valCase.endsWith(kind.ending)).toBe(true);
      const ref = await readSeg(path.join(folder, "labelsTr", valCase), ds.readerWriter);
      const pred = await readSeg(path.join(val, valCase), ds.readerWriter);
      expect(pred.shape).toEqual(ref.shape);
      if (kind.reader === "Tiff3DIO") expect(existsSync(path.join(val, valCase.replace(/\.tif$/, ".json")))).toBe(true);

      const out = path.join(root, `pred_${kind.name}`);
      const old = { ...process.env };
      Object.assign(process.env, paths);
      try {
        await predictRun(
          parseArgs(predictSpec, [
            "-i",
            path.join(folder, "imagesTs"),
            "-o",
            out,
            "-d",
            String(kind.id),
            "-c",
            kind.configuration,
            "-f",
            "0",
            "--disable_tta",
            "-npp",
            "1",
            "-nps",
            "1",
            "--disable_progress_bar",
          ]),
        );
      } finally {
        for (const k of Object.keys(paths))
          if (old[k] === undefined) delete process.env[k];
          else process.env[k] = old[k];
      }
      const written = path.join(out, `t0${kind.ending}`);
      const ours = await readSeg(written, ds.readerWriter);
      const img = ds.readerWriter === "Tiff3DIO" ? null : await readSeg(path.join(folder, "imagesTs", `t0_0000${kind.ending}`), ds.readerWriter);
      if (img) {
        expect(ours.shape.slice(1)).toEqual(img.shape.slice(1));
        if (img.properties.sitk_stuff && kind.name !== "nifti4d") expect(ours.properties.sitk_stuff).toEqual(img.properties.sitk_stuff);
      }
      const ext = externalRead(kind, written);
      const spatial =
        kind.configuration === "2d"
          ? ours.shape.slice(2)
          : kind.name === "mha" || kind.name === "nrrd" || kind.name === "nifti4d"
            ? ours.shape.slice(1).reverse()
            : ours.shape.slice(1);
      expect(ext.shape).toEqual(spatial);
      expect(ext.labels.every((l) => l === 0 || l === 1)).toBe(true);
    },
    600_000,
  );
});
