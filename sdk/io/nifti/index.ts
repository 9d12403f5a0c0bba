// NIfTI-1/-2 reading and NIfTI-1 writing. See read.ts, write.ts, affine.ts, orientation.ts.

export { parseNifti, readNifti, readNiftiBytes, scaledFloat32, scaledStats, sclFactors, isGzip } from "./read.js";
export type { NiftiImage } from "./read.js";
export { formatNifti1, writeNifti } from "./write.js";
export type { NiftiWriteOptions } from "./write.js";
export { parseNiftiHeader, niftiShape, niftiZooms } from "./header.js";
export type { NiftiHeader } from "./header.js";
export { bestAffine, qformAffine, sformAffine, itkGeometry, affineFromItk, qformFromAffine } from "./affine.js";
export type { Mat4, ItkGeometry } from "./affine.js";
export { ioOrientation, applyOrientation, orntTransform, invOrntAff, reorientedAffine, isIdentityOrnt } from "./orientation.js";
export type { Ornt } from "./orientation.js";
export type { NiftiDtype, NiftiTypedArray } from "./datatypes.js";
