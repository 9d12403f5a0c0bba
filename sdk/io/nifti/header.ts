// NIfTI-1 (348-byte) and NIfTI-2 (540-byte) header parsing from bytes, either byte order. Field names are the camelCase
// of nifti1.h / nifti2.h. Like nibabel's header checks on load, negative or zero pixdims are fixed to their absolute
// value / 1 and a pixdim[0] (qfac) other than -1 becomes 1, so the affine code downstream never sees them.

import { InputError } from "../../errors.js";
import { datatypeByCode, type DatatypeInfo } from "./datatypes.js";

export interface NiftiHeader {
  version: 1 | 2;
  littleEndian: boolean;
  /** dim[0..7] as stored: dim[0] = number of dimensions. */
  dim: number[];
  /** pixdim[0..7] after nibabel's load-time fixes (pixdim[0] = qfac, +-1). */
  pixdim: number[];
  datatype: number;
  dtypeInfo: DatatypeInfo;
  bitpix: number;
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  calMin: number;
  calMax: number;
  xyztUnits: number;
  intentCode: number;
  dimInfo: number;
  descrip: string;
  qformCode: number;
  sformCode: number;
  quaternB: number;
  quaternC: number;
  quaternD: number;
  qoffsetX: number;
  qoffsetY: number;
  qoffsetZ: number;
  /** srow_x, srow_y, srow_z (3 rows of 4). */
  srow: number[][];
  /** "n+1" / "n+2" (single file); pair files (ni1 / ni2) are rejected. */
  magic: string;
}

export const NIFTI1_HEADER_SIZE = 348;
export const NIFTI2_HEADER_SIZE = 540;

function cString(bytes: Uint8Array, start: number, len: number): string {
  let end = start;
  while (end < start + len && bytes[end] !== 0) end++;
  return new TextDecoder("latin1").decode(bytes.subarray(start, end));
}

/** Which header version and byte order `bytes` starts with, or null when it is no NIfTI header. */
export function sniffNifti(bytes: Uint8Array): { version: 1 | 2; littleEndian: boolean } | null {
  if (bytes.length < 4) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const le of [true, false]) {
    const size = dv.getInt32(0, le);
    if (size === NIFTI1_HEADER_SIZE) return { version: 1, littleEndian: le };
    if (size === NIFTI2_HEADER_SIZE) return { version: 2, littleEndian: le };
  }
  return null;
}

/** Parses the header at the start of (already decompressed) `bytes`. `file` only names the source in errors. */
export function parseNiftiHeader(bytes: Uint8Array, file = "<bytes>"): NiftiHeader {
  const kind = sniffNifti(bytes);
  if (!kind) throw new InputError("not a NIfTI file (sizeof_hdr is neither 348 nor 540 in either byte order)", { file });
  const { version, littleEndian: le } = kind;
  const need = version === 1 ? NIFTI1_HEADER_SIZE : NIFTI2_HEADER_SIZE;
  if (bytes.length < need) throw new InputError(`truncated NIfTI-${version} header (${bytes.length} of ${need} bytes)`, { file });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const i16 = (o: number) => dv.getInt16(o, le);
  const i32 = (o: number) => dv.getInt32(o, le);
  const i64 = (o: number) => Number(dv.getBigInt64(o, le));
  const f32 = (o: number) => dv.getFloat32(o, le);
  const f64 = (o: number) => dv.getFloat64(o, le);

  let h: Omit<NiftiHeader, "dtypeInfo">;
  if (version === 1) {
    h = {
      version,
      littleEndian: le,
      dim: Array.from({ length: 8 }, (_, k) => i16(40 + 2 * k)),
      pixdim: Array.from({ length: 8 }, (_, k) => f32(76 + 4 * k)),
      datatype: i16(70),
      bitpix: i16(72),
      voxOffset: f32(108),
      sclSlope: f32(112),
      sclInter: f32(116),
      calMax: f32(124),
      calMin: f32(128),
      xyztUnits: bytes[123]!,
      intentCode: i16(68),
      dimInfo: bytes[39]!,
      descrip: cString(bytes, 148, 80),
      qformCode: i16(252),
      sformCode: i16(254),
      quaternB: f32(256),
      quaternC: f32(260),
      quaternD: f32(264),
      qoffsetX: f32(268),
      qoffsetY: f32(272),
      qoffsetZ: f32(276),
      srow: [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => f32(280 + 16 * r + 4 * c))),
      magic: cString(bytes, 344, 4),
    };
    if (h.magic !== "n+1") {
      throw new InputError(
        h.magic === "ni1"
          ? "NIfTI-1 header/image pair (.hdr/.img) is not supported; convert to .nii/.nii.gz"
          : `bad NIfTI-1 magic ${JSON.stringify(h.magic)} (Analyze 7.5 files are not supported)`,
        { file },
      );
    }
    // nibabel treats vox_offset 0 in a single-file image as "right after the header and extension flag".
    if (h.voxOffset === 0) h.voxOffset = 352;
  } else {
    h = {
      version,
      littleEndian: le,
      dim: Array.from({ length: 8 }, (_, k) => i64(16 + 8 * k)),
      pixdim: Array.from({ length: 8 }, (_, k) => f64(104 + 8 * k)),
      datatype: i16(12),
      bitpix: i16(14),
      voxOffset: i64(168),
      sclSlope: f64(176),
      sclInter: f64(184),
      calMax: f64(192),
      calMin: f64(200),
      xyztUnits: i32(500),
      intentCode: i32(504),
      dimInfo: bytes[524]!,
      descrip: cString(bytes, 240, 80),
      qformCode: i32(344),
      sformCode: i32(348),
      quaternB: f64(352),
      quaternC: f64(360),
      quaternD: f64(368),
      qoffsetX: f64(376),
      qoffsetY: f64(384),
      qoffsetZ: f64(392),
      srow: [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => f64(400 + 32 * r + 8 * c))),
      magic: cString(bytes, 4, 3),
    };
    if (h.magic !== "n+2") {
      throw new InputError(
        h.magic === "ni2" ? "NIfTI-2 header/image pair is not supported; convert to .nii/.nii.gz" : `bad NIfTI-2 magic ${JSON.stringify(h.magic)}`,
        { file },
      );
    }
    if (h.voxOffset === 0) h.voxOffset = 544;
  }
  const ndim = h.dim[0]!;
  if (ndim < 1 || ndim > 7) throw new InputError(`invalid dim[0] = ${ndim} (must be 1..7)`, { file });
  for (let k = 1; k <= ndim; k++) {
    if (!(h.dim[k]! >= 1)) throw new InputError(`invalid dim[${k}] = ${h.dim[k]}`, { file });
  }
  const info = datatypeByCode(h.datatype);
  if (typeof info === "string") throw new InputError(info, { file });
  // nibabel's _chk_qfac and _chk_pixdims fixes.
  if (h.pixdim[0] !== -1 && h.pixdim[0] !== 1) h.pixdim[0] = 1;
  for (let k = 1; k <= 3; k++) {
    const p = h.pixdim[k]!;
    h.pixdim[k] = p === 0 ? 1 : Math.abs(p);
  }
  return { ...h, dtypeInfo: info };
}

/** The voxel array shape in file order (x, y, z, ...), as nibabel's `img.shape`. */
export function niftiShape(h: NiftiHeader): number[] {
  return h.dim.slice(1, h.dim[0]! + 1);
}

/** Voxel sizes for the shape's axes, as nibabel's `header.get_zooms()`. */
export function niftiZooms(h: NiftiHeader): number[] {
  return h.pixdim.slice(1, h.dim[0]! + 1);
}
