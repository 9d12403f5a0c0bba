// `npm run bench fingerprint [--cases N] [--np N] [--shape X,Y,Z]`: seconds per case of fingerprint extraction
// (read, crop to the filled nonzero mask, sample 1e8 / n_cases foreground intensities with MT19937, dataset statistics)
// and of planning, on datasets-examples/Dataset001_Example (if present) and on a generated dataset of realistic size
// (default 20 cases of 250x250x200 file voxels, int16, uncompressed .nii, so the bench measures our work, not gunzip).
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { writeNifti } from "../../dist/sdk/io/nifti/index.js";
import { openRawDataset } from "../../dist/sdk/dataset/raw.js";
import { extractFingerprint } from "../../dist/sdk/fingerprint/extract-fingerprint.js";
import { planExperiment } from "../../dist/sdk/planning/plan-experiment.js";

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const CASES = Number(opt("cases", 20));
const NP = Number(opt("np", 2));
const SHAPE = opt("shape", "250,250,200").split(",").map(Number); // file order x, y, z

/** Writes DatasetXXX with `n` cases: an ellipsoidal body (0 outside) with smooth intensities and two nested labels. */
async function generateDataset(folder, n, [X, Y, Z]) {
  mkdirSync(path.join(folder, "imagesTr"), { recursive: true });
  mkdirSync(path.join(folder, "labelsTr"), { recursive: true });
  const { writeFileSync } = await import("node:fs");
  writeFileSync(
    path.join(folder, "dataset.json"),
    JSON.stringify(
      {
        channel_names: { 0: "CT" },
        labels: { background: 0, organ: 1, tumor: 2 },
        numTraining: n,
        file_ending: ".nii",
      },
      null,
      4,
    ),
  );
  const img = new Int16Array(X * Y * Z);
  const lbl = new Uint8Array(X * Y * Z);
  for (let c = 0; c < n; c++) {
    let s = 1000 + c;
    const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
    const rx = 0.35 + 0.1 * rnd(),
      ry = 0.35 + 0.1 * rnd(),
      rz = 0.4 + 0.05 * rnd();
    img.fill(0);
    lbl.fill(0);
    // NIfTI data is Fortran order: x fastest
    for (let z = 0, i = 0; z < Z; z++)
      for (let y = 0; y < Y; y++)
        for (let x = 0; x < X; x++, i++) {
          const u = (x - X / 2) / (rx * X),
            v = (y - Y / 2) / (ry * Y),
            w = (z - Z / 2) / (rz * Z);
          const r = u * u + v * v + w * w;
          if (r < 1) {
            img[i] = Math.round(40 + 300 * Math.sin(0.05 * x) * Math.cos(0.04 * y) + 60 * w + 20 * rnd()) || 1;
            lbl[i] = r < 0.1 ? 2 : r < 0.4 ? 1 : 0;
          }
        }
    const affine = [
      [-0.8, 0, 0, 0],
      [0, -0.8, 0, 0],
      [0, 0, 1.5 + 0.25 * (c % 3), 0],
      [0, 0, 0, 1],
    ];
    const id = `case_${String(c).padStart(3, "0")}`;
    await writeNifti(path.join(folder, "imagesTr", `${id}_0000.nii`), img, [X, Y, Z], affine);
    await writeNifti(path.join(folder, "labelsTr", `${id}.nii`), lbl, [X, Y, Z], affine);
  }
}

async function bench(label, root, name) {
  const paths = { nnUNet_raw: path.join(root, "raw"), nnUNet_preprocessed: path.join(root, "pre") };
  const ds = await openRawDataset(name, paths);
  const n = ds.identifiers.length;
  let t = performance.now();
  await extractFingerprint(ds, { paths, numProcesses: NP, clean: true });
  const fpSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const plans = await planExperiment(ds, { paths });
  const planSeconds = (performance.now() - t) / 1000;
  const fr = plans.configurations["3d_fullres"];
  console.log(
    `${label}: ${n} cases, -np ${NP}: fingerprint ${fpSeconds.toFixed(1)} s = ${(fpSeconds / n).toFixed(2)} s/case ` +
      `(${((fpSeconds * NP) / n).toFixed(2)} core-s/case); planning ${planSeconds.toFixed(2)} s` +
      (fr ? `; 3d_fullres patch [${fr.patch_size}] bs ${fr.batch_size}` : ""),
  );
}

const root = mkdtempSync(path.join(tmpdir(), "bench-fingerprint-"));
try {
  const example = new URL("../../datasets-examples/Dataset001_Example/", import.meta.url).pathname;
  if (existsSync(path.join(example, "dataset.json"))) {
    const dst = path.join(root, "raw", "Dataset001_Example");
    cpSync(example, dst, { recursive: true });
    await bench("datasets-examples/Dataset001_Example", root, "Dataset001_Example");
  } else {
    console.log("datasets-examples/Dataset001_Example not found; skipped");
  }
  const t = performance.now();
  await generateDataset(path.join(root, "raw", "Dataset990_BenchCT"), CASES, SHAPE);
  console.log(`generated ${CASES} cases of ${SHAPE.join("x")} voxels in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  await bench(`generated ${SHAPE.join("x")} int16`, root, "Dataset990_BenchCT");
} finally {
  rmSync(root, { recursive: true, force: true });
}
