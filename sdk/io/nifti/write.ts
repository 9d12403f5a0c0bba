// Writing NIfTI-1 single-file images (little endian, vox_offset 352, no extensions) with both qform and sform set
// from one affine, as SimpleITK writes them (codes 1, scanner anatomical). The header is written field by field here
// rather than through nifti-reader-js, whose writer defaults to big endian and needs every field set anyway.

import { promisify } from "node:util";
import * as zlib from "node:zlib";
import { InputError } from "../../errors.js";
import { writeFileAtomic } from "../../util/fs.js";
import { qformFromAffine, type Mat4 } from "./affine.js";
import { datatypeByName, dtypeOf, type NiftiTypedArray } from "./datatypes.js";

const gzip = promisify(zlib.gzip);

export interface NiftiWriteOptions {
  qformCode?: number;
  sformCode?: number;
  sclSlope?: number;
  sclInter?: number;
  descrip?: string;
}

/**
 * Serialises a volume: `data` in file (Fortran) order, `shape` in file order (x, y, z), `affine` RAS+ 4x4.
 * pixdim[1..3] are the affine's column norms and the quaternion is the closest rotation (nibabel's set_qform).
 */
export function formatNifti1(data: NiftiTypedArray, shape: number[], affine: Mat4, opts: NiftiWriteOptions = {}): Uint8Array {
  checkWritable(data, shape);
  const info = datatypeByName(dtypeOf(data));
  const voxOffset = 352;
  const out = new Uint8Array(voxOffset + data.byteLength);
  const dv = new DataView(out.buffer);
  const q = qformFromAffine(affine);
  dv.setInt32(0, 348, true);
  out[38] = "r".charCodeAt(0); // "regular", as nibabel writes
  dv.setInt16(40, shape.length, true);
  for (let k = 1; k <= 7; k++) dv.setInt16(40 + 2 * k, shape[k - 1] ?? 1, true);
  dv.setInt16(70, info.code, true);
  dv.setInt16(72, info.bytes * 8, true);
  const pixdim = [q.qfac, q.zooms[0]!, q.zooms[1]!, q.zooms[2]!, 1, 1, 1, 1];
  pixdim.forEach((v, k) => dv.setFloat32(76 + 4 * k, v, true));
  dv.setFloat32(108, voxOffset, true);
  dv.setFloat32(112, opts.sclSlope ?? 1, true);
  dv.setFloat32(116, opts.sclInter ?? 0, true);
  out[123] = 2 | 8; // xyzt_units: mm and seconds
  const descrip = new TextEncoder().encode((opts.descrip ?? "nnssl-adapt").slice(0, 79));
  out.set(descrip, 148);
  dv.setInt16(252, opts.qformCode ?? 1, true);
  dv.setInt16(254, opts.sformCode ?? 1, true);
  dv.setFloat32(256, q.b, true);
  dv.setFloat32(260, q.c, true);
  dv.setFloat32(264, q.d, true);
  q.offset.forEach((v, k) => dv.setFloat32(268 + 4 * k, v, true));
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) dv.setFloat32(280 + 16 * r + 4 * c, affine[r]![c]!, true);
  out.set([0x6e, 0x2b, 0x31, 0], 344); // "n+1\0"
  // bytes 348..351: extension flag 0 (no extensions). Voxels follow in little endian, which is the platform order.
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), voxOffset);
  return out;
}

/** The shape checks of formatNifti1, naming `file` when there is one. */
function checkWritable(data: NiftiTypedArray, shape: readonly number[], file?: string): void {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new InputError(`formatNifti1: shape [${shape.join(", ")}] has ${n} voxels but data has ${data.length}`, { file });
  if (shape.length < 1 || shape.length > 7 || shape.some((s) => s > 32767)) {
    throw new InputError(`formatNifti1: shape [${shape.join(", ")}] does not fit a NIfTI-1 header`, { file });
  }
}

/** Writes `file` atomically; gzip-compressed when the name ends in .gz. */
export async function writeNifti(file: string, data: NiftiTypedArray, shape: number[], affine: Mat4, opts: NiftiWriteOptions = {}): Promise<void> {
  checkWritable(data, shape, file);
  const bytes = formatNifti1(data, shape, affine, opts);
  await writeFileAtomic(file, file.endsWith(".gz") ? await gzip(bytes) : bytes);
}
