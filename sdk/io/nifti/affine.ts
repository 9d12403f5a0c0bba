// Voxel-to-world geometry of a NIfTI header, the way nibabel (RAS+ 4x4 affine) and SimpleITK/ITK (LPS spacing, origin,
// direction) derive it, plus the inverse used by the writer (affine -> quaternion, nibabel's Nifti1Header.set_qform).

import { InputError } from "../../errors.js";
import type { NiftiHeader } from "./header.js";
import { niftiShape } from "./header.js";

export type Mat4 = number[][];

export function identity4(): Mat4 {
  return [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ];
}

export function matmul(a: number[][], b: number[][]): number[][] {
  const n = a.length,
    m = b[0]!.length,
    k = b.length;
  const out = Array.from({ length: n }, () => new Array<number>(m).fill(0));
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a[i]![t]! * b[t]![j]!;
      out[i]![j] = s;
    }
  return out;
}

export function det3(m: number[][]): number {
  return (
    m[0]![0]! * (m[1]![1]! * m[2]![2]! - m[1]![2]! * m[2]![1]!) -
    m[0]![1]! * (m[1]![0]! * m[2]![2]! - m[1]![2]! * m[2]![0]!) +
    m[0]![2]! * (m[1]![0]! * m[2]![1]! - m[1]![1]! * m[2]![0]!)
  );
}

function inv3(m: number[][]): number[][] {
  const d = det3(m);
  const c = (r0: number, r1: number, c0: number, c1: number) => m[r0]![c0]! * m[r1]![c1]! - m[r0]![c1]! * m[r1]![c0]!;
  return [
    [c(1, 2, 1, 2) / d, -c(0, 2, 1, 2) / d, c(0, 1, 1, 2) / d],
    [-c(1, 2, 0, 2) / d, c(0, 2, 0, 2) / d, -c(0, 1, 0, 2) / d],
    [c(1, 2, 0, 1) / d, -c(0, 2, 0, 1) / d, c(0, 1, 0, 1) / d],
  ];
}

/** Columns norms of the upper-left 3x3 block (nibabel's voxel sizes of an affine). */
export function columnNorms(a: number[][]): number[] {
  return [0, 1, 2].map((j) => Math.hypot(a[0]![j]!, a[1]![j]!, a[2]![j]!));
}

/**
 * Closest orthogonal matrix to a full-rank 3x3 `m` (the polar factor P·Qᵀ of its SVD, which nibabel computes with
 * numpy's svd). Newton's iteration X <- (X + X⁻ᵀ)/2 converges to the same matrix quadratically.
 */
export function polarOrthogonal(m: number[][]): number[][] {
  let x = m.map((r) => r.slice());
  for (let it = 0; it < 100; it++) {
    const inv = inv3(x);
    const next = x.map((r, i) => r.map((v, j) => 0.5 * (v + inv[j]![i]!)));
    let diff = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) diff = Math.max(diff, Math.abs(next[i]![j]! - x[i]![j]!));
    x = next;
    if (diff < 1e-15) break;
  }
  return x;
}

/** nibabel's quaternions.quat2mat for (w, x, y, z). */
function quat2mat(w: number, x: number, y: number, z: number): number[][] {
  const nq = w * w + x * x + y * y + z * z;
  if (nq < 2.220446049250313e-16)
    return [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ];
  const s = 2 / nq;
  const X = x * s,
    Y = y * s,
    Z = z * s;
  const wX = w * X,
    wY = w * Y,
    wZ = w * Z,
    xX = x * X,
    xY = x * Y,
    xZ = x * Z,
    yY = y * Y,
    yZ = y * Z,
    zZ = z * Z;
  return [
    [1 - (yY + zZ), xY - wZ, xZ + wY],
    [xY + wZ, 1 - (xX + zZ), yZ - wX],
    [xZ - wY, yZ + wX, 1 - (xX + yY)],
  ];
}

/** nibabel Nifti1Header.get_qform(): rotation from the quaternion, zooms from pixdim, qfac flips z. */
export function qformAffine(h: NiftiHeader): Mat4 {
  const b = h.quaternB,
    c = h.quaternC,
    d = h.quaternD;
  let w2 = 1 - (b * b + c * c + d * d);
  // fillpositive: tiny negative values from float32 rounding mean w = 0; anything below -3 eps is an invalid header.
  if (w2 < 0) w2 = 0;
  const r = quat2mat(Math.sqrt(w2), b, c, d);
  const vox = [h.pixdim[1]!, h.pixdim[2]!, h.pixdim[3]! * (h.pixdim[0] === -1 ? -1 : 1)];
  const out = identity4();
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) out[i]![j] = r[i]![j]! * vox[j]!;
  out[0]![3] = h.qoffsetX;
  out[1]![3] = h.qoffsetY;
  out[2]![3] = h.qoffsetZ;
  return out;
}

/** The srow_x/y/z rows as a 4x4 affine. */
export function sformAffine(h: NiftiHeader): Mat4 {
  return [h.srow[0]!.slice(), h.srow[1]!.slice(), h.srow[2]!.slice(), [0, 0, 0, 1]];
}

/** nibabel's get_base_affine (shape_zoom_affine with x flipped) for headers without qform and sform. */
export function baseAffine(h: NiftiHeader): Mat4 {
  const shape = niftiShape(h).slice(0, 3);
  while (shape.length < 3) shape.push(1);
  const zooms = [h.pixdim[1]!, h.pixdim[2]!, h.pixdim[3]!].map((z, k) => (k < h.dim[0]! ? z : 1));
  zooms[0] = -zooms[0]!;
  const out = identity4();
  for (let k = 0; k < 3; k++) {
    out[k]![k] = zooms[k]!;
    out[k]![3] = -((shape[k]! - 1) / 2) * zooms[k]!;
  }
  return out;
}

/** nibabel's header.get_best_affine(): sform if sform_code > 0, else qform if qform_code > 0, else the base affine. */
export function bestAffine(h: NiftiHeader): Mat4 {
  if (h.sformCode > 0) return sformAffine(h);
  if (h.qformCode > 0) return qformAffine(h);
  return baseAffine(h);
}

/** SimpleITK's view of an image's geometry: LPS physical space, row-major direction, spacing in file axis order. */
export interface ItkGeometry {
  spacing: number[];
  origin: number[];
  direction: number[];
}

function isRotationLike(a: Mat4): boolean {
  const n = columnNorms(a);
  if (n.some((v) => !(v > 0))) return false;
  const r = [0, 1, 2].map((i) => [0, 1, 2].map((j) => a[i]![j]! / n[j]!));
  for (let i = 0; i < 3; i++)
    for (let j = i + 1; j < 3; j++) {
      const dot = r[0]![i]! * r[0]![j]! + r[1]![i]! * r[1]![j]! + r[2]![i]! * r[2]![j]!;
      if (Math.abs(dot) > 1e-4) return false;
    }
  return true;
}

/**
 * The geometry SimpleITK (ITK >= 5.2 NiftiImageIO) reports: spacing from pixdim; rotation and translation from the
 * sform when it is present, rigid (orthogonal after removing the scale) and either the qform is absent or the sform
 * is a scanner-anatomical transform; otherwise from the qform. Converted RAS -> LPS by negating the first two rows.
 */
export function itkGeometry(h: NiftiHeader): ItkGeometry {
  const nd = Math.min(h.dim[0]!, 3);
  let a: Mat4;
  const sform = sformAffine(h);
  if (h.sformCode > 0 && (h.qformCode === 0 || h.sformCode === 1) && isRotationLike(sform)) a = sform;
  else if (h.qformCode > 0) a = qformAffine(h);
  else if (h.sformCode > 0) a = sform;
  else
    a = [
      [h.pixdim[1]!, 0, 0, 0],
      [0, h.pixdim[2]!, 0, 0],
      [0, 0, h.pixdim[3]!, 0],
      [0, 0, 0, 1],
    ];
  const norms = columnNorms(a);
  let rot = [0, 1, 2].map((i) => [0, 1, 2].map((j) => (norms[j]! > 0 ? a[i]![j]! / norms[j]! : i === j ? 1 : 0)));
  if (a === sform) rot = polarOrthogonal(rot);
  const lps = [-1, -1, 1];
  const spacing = [h.pixdim[1]!, h.pixdim[2]!, h.pixdim[3]!].slice(0, nd);
  // `+ 0` turns the -0 that negating zeros produces into 0.
  const origin = [0, 1, 2].map((i) => lps[i]! * a[i]![3]! + 0).slice(0, nd);
  const direction: number[] = [];
  for (let i = 0; i < nd; i++) for (let j = 0; j < nd; j++) direction.push(lps[i]! * rot[i]![j]! + 0);
  return { spacing, origin, direction };
}

/** The RAS+ affine of an ITK geometry (3-d): diag(-1,-1,1) · [D·diag(spacing) | origin]. */
export function affineFromItk(g: ItkGeometry): Mat4 {
  if (g.spacing.length !== 3 || g.origin.length !== 3 || g.direction.length !== 9) {
    throw new InputError(
      `only 3-d ITK geometries can be written (got spacing [${g.spacing}], origin [${g.origin}], direction of ${g.direction.length} values)`,
    );
  }
  const lps = [-1, -1, 1];
  const out = identity4();
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) out[i]![j] = lps[i]! * g.direction[3 * i + j]! * g.spacing[j]!;
    out[i]![3] = lps[i]! * g.origin[i]!;
  }
  return out;
}

/** The qform fields for `affine`, following nibabel's Nifti1Header.set_qform (zooms, qfac, polar decomposition). */
export function qformFromAffine(affine: Mat4): { b: number; c: number; d: number; qfac: number; zooms: number[]; offset: number[] } {
  const zooms = columnNorms(affine);
  const r = [0, 1, 2].map((i) => [0, 1, 2].map((j) => (zooms[j]! > 0 ? affine[i]![j]! / zooms[j]! : i === j ? 1 : 0)));
  let qfac = 1;
  if (det3(r) < 0) {
    qfac = -1;
    for (let i = 0; i < 3; i++) r[i]![2] = -r[i]![2]!;
  }
  const p = polarOrthogonal(r);
  // Shepperd-style mat2quat on a proper rotation; w >= 0 like nibabel (only b, c, d are stored).
  const [m00, m01, m02] = p[0]!,
    [m10, m11, m12] = p[1]!,
    [m20, m21, m22] = p[2]!;
  const tr = m00! + m11! + m22!;
  let w: number, x: number, y: number, z: number;
  if (tr > 0) {
    const s = 2 * Math.sqrt(tr + 1);
    w = s / 4;
    x = (m21! - m12!) / s;
    y = (m02! - m20!) / s;
    z = (m10! - m01!) / s;
  } else if (m00! > m11! && m00! > m22!) {
    const s = 2 * Math.sqrt(1 + m00! - m11! - m22!);
    w = (m21! - m12!) / s;
    x = s / 4;
    y = (m01! + m10!) / s;
    z = (m02! + m20!) / s;
  } else if (m11! > m22!) {
    const s = 2 * Math.sqrt(1 + m11! - m00! - m22!);
    w = (m02! - m20!) / s;
    x = (m01! + m10!) / s;
    y = s / 4;
    z = (m12! + m21!) / s;
  } else {
    const s = 2 * Math.sqrt(1 + m22! - m00! - m11!);
    w = (m10! - m01!) / s;
    x = (m02! + m20!) / s;
    y = (m12! + m21!) / s;
    z = s / 4;
  }
  if (w < 0) {
    x = -x;
    y = -y;
    z = -z;
  }
  return { b: x, c: y, d: z, qfac, zooms, offset: [affine[0]![3]!, affine[1]![3]!, affine[2]![3]!] };
}
