// `nnssl-adapt image info <file> [--json]`: what nnU-Net will see in an image. shape and spacing are in nnU-Net array
// order (file axes reversed), dtype is the on-disk type, affine is nibabel's RAS+ affine, statistics are after
// scl_slope / scl_inter. Other tools parse the JSON keys, so they are fixed: shape, spacing, dtype, affine, min, max, mean.

import type { Command } from "commander";
import { readNifti, scaledStats } from "../../io/nifti/read.js";

export interface ImageInfo {
  shape: number[];
  spacing: number[];
  dtype: string;
  affine: number[][];
  min: number;
  max: number;
  mean: number;
}

/** The facts `image info` prints, for one NIfTI file. */
export async function imageInfo(file: string): Promise<ImageInfo> {
  const img = await readNifti(file);
  const stats = scaledStats(img, file);
  return {
    shape: img.shape.slice().reverse(),
    spacing: img.zooms.slice().reverse(),
    dtype: img.dtype,
    affine: img.affine,
    ...stats,
  };
}

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toPrecision(6).replace(/\.?0+$/, ""));

export function formatImageInfo(file: string, info: ImageInfo): string {
  const w = Math.max(...info.affine.flat().map((x) => fmt(x).length));
  return [
    `file     ${file}`,
    `shape    [${info.shape.join(", ")}]   (nnU-Net array order: file axes reversed)`,
    `spacing  [${info.spacing.map(fmt).join(", ")}]`,
    `dtype    ${info.dtype}`,
    `affine   ${info.affine.map((r) => r.map((x) => fmt(x).padStart(w)).join("  ")).join("\n         ")}`,
    `min      ${fmt(info.min)}`,
    `max      ${fmt(info.max)}`,
    `mean     ${fmt(info.mean)}`,
  ].join("\n");
}

export function register(program: Command): void {
  const image = program.command("image").description("inspect NIfTI images");
  image
    .command("info")
    .description("shape, spacing (nnU-Net order), on-disk dtype, RAS affine and min/max/mean of an image")
    .argument("<file>", ".nii or .nii.gz file")
    .option("--json", "print JSON with keys shape, spacing, dtype, affine, min, max, mean")
    .action(async (file: string, opts: { json?: boolean }) => {
      const info = await imageInfo(file);
      process.stdout.write((opts.json ? JSON.stringify(info) : formatImageInfo(file, info)) + "\n");
    });
}
