// Seeded generator of small synthetic nnU-Net raw datasets (datasets-examples/). Each volume is a body-shaped elliptic
// cylinder (exactly 0 outside, so nnU-Net's crop-to-nonzero matters) with a fat rim, textured soft tissue, an
// ellipsoidal "organ" (label 1), one or two "lesions" inside it (label 2) and optionally a winding "vessel" (label 3).
// Intensities are MR-like (T1/T2 contrasts, multiplicative bias field, noise) or CT-like (Hounsfield-like values,
// additive noise), stored as int16 so the committed example stays small. Affines are LPS-like (x and y flipped, as
// DICOM conversions produce) with a small in-plane rotation and a random origin. Everything derives from one seed
// through NumPy's legacy MT19937 (RandomState), so regeneration is byte-identical.

import * as path from "node:path";
import { writeJsonAtomic } from "../util/fs.js";
import { RandomState } from "../util/random-state.js";
import { writeNifti } from "../io/nifti/write.js";
import type { Mat4 } from "../io/nifti/affine.js";

export type SyntheticModality = "MR" | "CT";

export interface SyntheticDatasetSpec {
  id: number;
  /** The part after DatasetXXX_. */
  name: string;
  /** Case identifier prefix, e.g. "Example" -> Example_000. */
  casePrefix: string;
  seed: number;
  numTraining: number;
  /** Volumes without labels, written to imagesUnlabelled/ (for self-supervised pre-training). */
  numUnlabelled: number;
  modality: SyntheticModality;
  /** 1 or 2 channels (MR: T1-like, T2-like; CT: native, contrast-enhanced). */
  numChannels: 1 | 2;
  /** Number of foreground structures: 2 (organ, lesion) or 3 (+ vessel). */
  numForeground: 2 | 3;
  /** Shape in nnU-Net order (z, y, x) = file axes reversed; each case varies by up to +-shapeJitter voxels per axis. */
  shape: [number, number, number];
  shapeJitter: number;
  /** Spacing in nnU-Net order (z, y, x), mm. */
  spacing: [number, number, number];
  /** Maximum in-plane rotation of the affine, degrees. */
  maxRotationDeg: number;
  description?: string;
}

export const EXAMPLE_DATASET_SPEC: SyntheticDatasetSpec = {
  id: 1,
  name: "Example",
  casePrefix: "Example",
  seed: 20260101,
  numTraining: 12,
  numUnlabelled: 8,
  modality: "MR",
  numChannels: 1,
  numForeground: 2,
  shape: [40, 56, 56],
  shapeJitter: 2,
  spacing: [2, 1, 1],
  maxRotationDeg: 8,
  description:
    "Synthetic MR-like example for the nnssl-adapt demo: 12 labelled cases (imagesTr/labelsTr) and 8 unlabelled volumes (imagesUnlabelled/, for MAE pre-training). Regenerate with generateExampleDataset().",
};

/** More presets covering the combinations the generator supports (see datasets-examples/README.md). */
export const SYNTHETIC_PRESETS: Record<string, SyntheticDatasetSpec> = {
  "mr-aniso-1ch": EXAMPLE_DATASET_SPEC,
  "mr-iso-2ch-3labels": {
    ...EXAMPLE_DATASET_SPEC,
    id: 2,
    name: "SyntheticMR2ch",
    casePrefix: "MR2",
    seed: 2002,
    numTraining: 8,
    numUnlabelled: 0,
    numChannels: 2,
    numForeground: 3,
    shape: [48, 48, 48],
    spacing: [1, 1, 1],
    maxRotationDeg: 20,
    description: "Synthetic isotropic 2-channel MR-like dataset, 3 foreground labels.",
  },
  "ct-iso-1ch": {
    ...EXAMPLE_DATASET_SPEC,
    id: 3,
    name: "SyntheticCT",
    casePrefix: "CT",
    seed: 3003,
    numTraining: 8,
    numUnlabelled: 0,
    modality: "CT",
    numForeground: 3,
    shape: [48, 48, 48],
    spacing: [1.5, 1.5, 1.5],
    maxRotationDeg: 15,
    description: "Synthetic isotropic CT-like dataset, 3 foreground labels.",
  },
  "ct-aniso-2ch": {
    ...EXAMPLE_DATASET_SPEC,
    id: 4,
    name: "SyntheticCT2ch",
    casePrefix: "CT2",
    seed: 4004,
    numTraining: 8,
    numUnlabelled: 0,
    modality: "CT",
    numChannels: 2,
    shape: [24, 64, 64],
    spacing: [5, 0.8, 0.8],
    maxRotationDeg: 5,
    description: "Synthetic anisotropic 2-phase CT-like dataset (native, contrast).",
  },
};

/** In-place separable [1, 2, 1] / 4 blur of a file-order (x fastest) volume; edges are clamped. */
function blur121(v: Float32Array, [nx, ny, nz]: number[]): void {
  const tmp = new Float32Array(v.length);
  const strides = [1, nx, nx * ny];
  const sizes = [nx, ny, nz];
  for (let axis = 0; axis < 3; axis++) {
    const s = strides[axis]!,
      n = sizes[axis]!;
    for (let i = 0; i < v.length; i++) {
      const c = Math.floor(i / s) % n;
      const lo = c > 0 ? v[i - s]! : v[i]!;
      const hi = c < n - 1 ? v[i + s]! : v[i]!;
      tmp[i] = 0.25 * lo + 0.5 * v[i]! + 0.25 * hi;
    }
    v.set(tmp);
  }
}

/** Tissue intensities per class: [background body, fat rim, organ, lesion, vessel], one row per channel. */
function tissueTable(modality: SyntheticModality, channel: number, numChannels: number): number[] {
  if (modality === "MR") return channel === 0 ? [320, 620, 470, 210, 720] : [260, 420, 300, 680, 140];
  // CT: a single channel is a contrast-enhanced (portal-venous-like) scan; two channels are native + enhanced phases.
  return channel === 0 && numChannels === 2 ? [40, -95, 70, 25, 55] : [45, -95, 150, 45, 260];
}

interface Anatomy {
  /** File order (x, y, z) voxel counts. */
  dims: number[];
  /** 0 = outside body, 1 = tissue, 2 = fat rim, 3 = organ, 4 = lesion, 5 = vessel (file order). */
  tissue: Uint8Array;
  label: Uint8Array;
}

/** Draws one case's anatomy in physical (mm) coordinates centred in the volume. */
function drawAnatomy(spec: SyntheticDatasetSpec, rs: RandomState): Anatomy {
  const [jz, jy, jx] = [0, 1, 2].map(() => rs.randint(-spec.shapeJitter, spec.shapeJitter + 1));
  const dims = [spec.shape[2] + jx!, spec.shape[1] + jy!, spec.shape[0] + jz!];
  const sp = [spec.spacing[2], spec.spacing[1], spec.spacing[0]];
  const ext = dims.map((d, k) => d * sp[k]!);
  const [nx, ny, nz] = dims as [number, number, number];
  // Body: elliptic cylinder along z, filling 70-90 % of the field of view, ending a slice or two before the edges.
  const ax = 0.5 * ext[0]! * rs.uniform(0.7, 0.9),
    ay = 0.5 * ext[1]! * rs.uniform(0.6, 0.8);
  const z0 = rs.randint(1, 3),
    z1 = nz - rs.randint(1, 3);
  const rim = rs.uniform(2.5, 4.5);
  // Organ: ellipsoid inside the body, rotated in-plane.
  const oc = [rs.uniform(-0.3, 0.3) * ax, rs.uniform(-0.3, 0.3) * ay, rs.uniform(-0.15, 0.15) * ext[2]!];
  const oa = [rs.uniform(0.45, 0.6) * ax, rs.uniform(0.45, 0.6) * ay, rs.uniform(0.25, 0.35) * ext[2]!];
  const oth = rs.uniform(0, Math.PI);
  const [oc0, os0] = [Math.cos(oth), Math.sin(oth)];
  // Lesions: 1-2 spheres inside the organ.
  const lesions = Array.from({ length: rs.randint(1, 3) }, () => {
    const r = rs.uniform(0.45, 0.65) * Math.min(oa[0]!, oa[1]!);
    const u = [rs.uniform(-0.45, 0.45), rs.uniform(-0.45, 0.45), rs.uniform(-0.4, 0.4)];
    return { c: [oc[0]! + u[0]! * oa[0]!, oc[1]! + u[1]! * oa[1]!, oc[2]! + u[2]! * oa[2]!], r };
  });
  // Vessel: a tube winding along z on the side of the body away from the organ.
  const vside = oc[0]! > 0 ? -1 : 1;
  const vx = vside * rs.uniform(0.45, 0.6) * ax,
    vy = rs.uniform(-0.3, 0.3) * ay;
  const vr = rs.uniform(2.5, 4),
    vamp = rs.uniform(2, 6),
    vfreq = rs.uniform(0.03, 0.08),
    vph = rs.uniform(0, 2 * Math.PI);

  const tissue = new Uint8Array(nx * ny * nz);
  const label = new Uint8Array(nx * ny * nz);
  let i = 0;
  for (let z = 0; z < nz; z++) {
    const pz = (z + 0.5) * sp[2]! - 0.5 * ext[2]!;
    const inZ = z >= z0 && z < z1;
    for (let y = 0; y < ny; y++) {
      const py = (y + 0.5) * sp[1]! - 0.5 * ext[1]!;
      for (let x = 0; x < nx; x++, i++) {
        const px = (x + 0.5) * sp[0]! - 0.5 * ext[0]!;
        if (!inZ) continue;
        const rb = Math.hypot(px / ax, py / ay);
        if (rb >= 1) continue;
        // distance to the body surface along the normalised radius, in mm (approximate, good enough for a rim)
        const depth = (1 - rb) * Math.min(ax, ay);
        let t = depth < rim ? 2 : 1;
        let l = 0;
        const dx = px - oc[0]!,
          dy = py - oc[1]!,
          dz = pz - oc[2]!;
        const rx = oc0 * dx + os0 * dy,
          ry = -os0 * dx + oc0 * dy;
        if ((rx / oa[0]!) ** 2 + (ry / oa[1]!) ** 2 + (dz / oa[2]!) ** 2 < 1) {
          t = 3;
          l = 1;
          for (const s of lesions)
            if (Math.hypot(px - s.c[0]!, py - s.c[1]!, pz - s.c[2]!) < s.r) {
              t = 4;
              l = 2;
            }
        }
        if (spec.numForeground === 3 && l === 0) {
          const cx = vx + vamp * Math.sin(vfreq * pz * 2 * Math.PI + vph),
            cy = vy + 0.5 * vamp * Math.cos(vfreq * pz * 2 * Math.PI + vph);
          if (Math.hypot(px - cx, py - cy) < vr) {
            t = 5;
            l = 3;
          }
        }
        tissue[i] = t;
        label[i] = l;
      }
    }
  }
  return { dims, tissue, label };
}

/** Renders one channel of a case as int16 (file order): smooth tissue classes + texture + bias field + noise. */
function renderChannel(spec: SyntheticDatasetSpec, a: Anatomy, channel: number, rs: RandomState): Int16Array {
  const n = a.tissue.length;
  const table = tissueTable(spec.modality, channel, spec.numChannels);
  const clean = new Float32Array(n);
  for (let i = 0; i < n; i++) clean[i] = a.tissue[i] ? table[a.tissue[i]! - 1]! : 0;
  blur121(clean, a.dims); // partial-volume edges
  const texture = new Float32Array(n);
  for (let i = 0; i < n; i++) texture[i] = rs.standardNormal();
  blur121(texture, a.dims);
  blur121(texture, a.dims);
  const mr = spec.modality === "MR";
  const texAmp = mr ? 60 : 25,
    noise = mr ? 14 : 10;
  // Multiplicative bias field for MR: a random low-frequency cosine pattern, +-12 %.
  const bias = [rs.uniform(-0.12, 0.12), rs.uniform(-0.12, 0.12), rs.uniform(-0.08, 0.08), rs.uniform(0, 2 * Math.PI)];
  const [nx, ny, nz] = a.dims as [number, number, number];
  const out = new Int16Array(n);
  let i = 0;
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++, i++) {
        if (!a.tissue[i]) continue; // background stays exactly 0
        let v = clean[i]! + texAmp * texture[i]!;
        if (mr) v *= 1 + bias[0]! * Math.cos((Math.PI * x) / nx + bias[3]!) + bias[1]! * Math.cos((Math.PI * y) / ny) + bias[2]! * (z / nz - 0.5);
        v += noise * rs.standardNormal();
        let q = Math.round(mr ? Math.abs(v) : v);
        if (q === 0) q = mr ? 1 : -1; // keep the body nonzero so crop-to-nonzero sees all of it
        out[i] = q;
      }
  return out;
}

/** The case's RAS affine: x and y flipped (LPS-like), rotated in-plane, random origin. */
function drawAffine(spec: SyntheticDatasetSpec, rs: RandomState): Mat4 {
  const th = (rs.uniform(-1, 1) * spec.maxRotationDeg * Math.PI) / 180;
  const c = Math.cos(th),
    s = Math.sin(th);
  const sp = [spec.spacing[2], spec.spacing[1], spec.spacing[0]];
  const r = [
    [-c, s, 0],
    [-s, -c, 0],
    [0, 0, 1],
  ]; // diag(-1, -1, 1) · Rz(th)
  const origin = [rs.uniform(50, 150), rs.uniform(50, 150), rs.uniform(-120, -40)];
  return [...[0, 1, 2].map((i) => [r[i]![0]! * sp[0]!, r[i]![1]! * sp[1]!, r[i]![2]! * sp[2]!, Math.round(origin[i]! * 100) / 100]), [0, 0, 0, 1]];
}

/** The dataset.json nnU-Net reads for a spec. */
export function syntheticDatasetJson(spec: SyntheticDatasetSpec): Record<string, unknown> {
  const names = spec.numChannels === 1 ? [spec.modality] : spec.modality === "MR" ? ["T1", "T2"] : ["CT", "CT"];
  const labels: Record<string, number> = { background: 0, organ: 1, lesion: 2 };
  if (spec.numForeground === 3) labels.vessel = 3;
  return {
    channel_names: Object.fromEntries(names.map((nm, k) => [String(k), nm])),
    labels,
    numTraining: spec.numTraining,
    file_ending: ".nii.gz",
    name: spec.name,
    description: spec.description ?? "Synthetic dataset generated by nnssl-adapt (sdk/dataset/synthetic.ts)",
    reference: "synthetic, generated by nnssl-adapt",
    licence: "CC0-1.0",
    numUnlabelled: spec.numUnlabelled,
    generator: { module: "sdk/dataset/synthetic.ts", seed: spec.seed },
  };
}

/**
 * Writes `<rawRoot>/DatasetXXX_Name/` for `spec`: dataset.json, imagesTr/, labelsTr/ and (if numUnlabelled > 0)
 * imagesUnlabelled/. Deterministic: the same spec gives byte-identical files. Returns the dataset folder.
 */
export async function generateSyntheticDataset(rawRoot: string, spec: SyntheticDatasetSpec): Promise<string> {
  const folder = path.join(rawRoot, `Dataset${String(spec.id).padStart(3, "0")}_${spec.name}`);
  const rs = new RandomState(spec.seed);
  const total = spec.numTraining + spec.numUnlabelled;
  for (let k = 0; k < total; k++) {
    const labelled = k < spec.numTraining;
    const id = labelled ? `${spec.casePrefix}_${String(k).padStart(3, "0")}` : `${spec.casePrefix}_U${String(k - spec.numTraining).padStart(3, "0")}`;
    const anatomy = drawAnatomy(spec, rs);
    const affine = drawAffine(spec, rs);
    for (let c = 0; c < spec.numChannels; c++) {
      const img = renderChannel(spec, anatomy, c, rs);
      await writeNifti(path.join(folder, labelled ? "imagesTr" : "imagesUnlabelled", `${id}_${String(c).padStart(4, "0")}.nii.gz`), img, anatomy.dims, affine);
    }
    if (labelled) await writeNifti(path.join(folder, "labelsTr", `${id}.nii.gz`), anatomy.label, anatomy.dims, affine);
  }
  await writeJsonAtomic(path.join(folder, "dataset.json"), syntheticDatasetJson(spec));
  return folder;
}

/** Writes the demo's Dataset001_Example into `rawRoot` (e.g. $nnUNet_raw) and returns its folder. */
export function generateExampleDataset(rawRoot: string): Promise<string> {
  return generateSyntheticDataset(rawRoot, EXAMPLE_DATASET_SPEC);
}
