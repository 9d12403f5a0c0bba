// nibabel.orientations for 3-d volumes: io_orientation (which world axis each voxel axis follows), apply_orientation
// on a Fortran-ordered voxel array, inv_ornt_aff and ornt_transform. Used by NibabelIOWithReorient.

import { columnNorms, identity4, matmul, polarOrthogonal, type Mat4 } from "./affine.js";
import { allocTyped, dtypeOf, type NiftiTypedArray } from "./datatypes.js";

/** One row per voxel axis: [world axis it maps to, +1 or -1]. */
export type Ornt = [number, number][];

/** nibabel's io_orientation(affine): polar decomposition, then greedy largest-|value| assignment per voxel axis. */
export function ioOrientation(affine: Mat4): Ornt {
  const zooms = columnNorms(affine).map((z) => (z === 0 ? 1 : z));
  const rs = [0, 1, 2].map((i) => [0, 1, 2].map((j) => affine[i]![j]! / zooms[j]!));
  const r = polarOrthogonal(rs);
  const ornt: Ornt = [];
  for (let inAx = 0; inAx < 3; inAx++) {
    let outAx = 0;
    for (let i = 1; i < 3; i++) if (Math.abs(r[i]![inAx]!) > Math.abs(r[outAx]![inAx]!)) outAx = i;
    ornt.push([outAx, r[outAx]![inAx]! < 0 ? -1 : 1]);
    for (let j = 0; j < 3; j++) r[outAx]![j] = 0; // remove the used world axis from further consideration
  }
  return ornt;
}

export function isIdentityOrnt(ornt: Ornt): boolean {
  return ornt.every(([ax, flip], i) => ax === i && flip === 1);
}

/** nibabel's ornt_transform(start, end): the orientation that takes an array in `start` to `end`. */
export function orntTransform(start: Ornt, end: Ornt): Ornt {
  const out: Ornt = start.map(() => [0, 1]);
  end.forEach(([endOut, endFlip], endIn) => {
    const startIn = start.findIndex(([startOut]) => startOut === endOut);
    out[startIn] = [endIn, start[startIn]![1] === endFlip ? 1 : -1];
  });
  return out;
}

/** nibabel's inv_ornt_aff(ornt, shape): maps voxel indices of the reoriented array back to the original ones. */
export function invOrntAff(ornt: Ornt, shape: number[]): Mat4 {
  const undoReorder = identity4().map((row) => row.map(() => 0));
  ornt.forEach(([ax], i) => {
    undoReorder[i]![ax] = 1;
  });
  undoReorder[3]![3] = 1;
  const undoFlip = identity4();
  ornt.forEach(([, flip], i) => {
    const centre = -(shape[i]! - 1) / 2;
    undoFlip[i]![i] = flip;
    undoFlip[i]![3] = flip * centre - centre;
  });
  return matmul(undoFlip, undoReorder);
}

/**
 * nibabel's apply_orientation for a 3-d array stored Fortran-order (x fastest, as in the file): flips each voxel axis
 * with flip -1, then moves voxel axis i to position ornt[i][0]. Returns a new array of the same type and its shape.
 */
export function applyOrientation<T extends NiftiTypedArray>(data: T, shape: number[], ornt: Ornt): { data: T; shape: number[] } {
  const outShape = [0, 0, 0];
  ornt.forEach(([ax], i) => {
    outShape[ax] = shape[i]!;
  });
  const outStride = [1, outShape[0]!, outShape[0]! * outShape[1]!];
  let base = 0;
  const step = [0, 0, 0];
  ornt.forEach(([ax, flip], i) => {
    step[i] = flip * outStride[ax]!;
    if (flip === -1) base += (shape[i]! - 1) * outStride[ax]!;
  });
  const out = allocTyped(dtypeOf(data), data.length) as T;
  const [nx, ny, nz] = shape as [number, number, number];
  const [sx, sy, sz] = step as [number, number, number];
  let src = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      let dst = base + z * sz + y * sy;
      for (let x = 0; x < nx; x++, src++, dst += sx) (out as unknown as number[])[dst] = (data as unknown as number[])[src]!;
    }
  }
  return { data: out, shape: outShape };
}

/** The affine and shape of an image after `applyOrientation` (nibabel's as_reoriented). */
export function reorientedAffine(affine: Mat4, shape: number[], ornt: Ornt): Mat4 {
  return matmul(affine, invOrntAff(ornt, shape));
}
