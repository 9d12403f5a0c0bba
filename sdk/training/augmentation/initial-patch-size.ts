// Rotation ranges, dummy-2D decision, mirror axes and the enlarged patch the train loader crops before rotating and
// scaling: nnUNetTrainer.configure_rotation_dummyDA_mirroring_and_inital_patch_size and
// training/data_augmentation/compute_initial_patch_size.py::get_patch_size.

export interface AugmentationConfig {
  /** Rotation range per spatial axis, radians. */
  rotation: [number, number];
  doDummy2d: boolean;
  mirrorAxes: number[];
  /** The patch the train loader crops (enlarged so rotation/scaling never sample outside it). */
  initialPatchSize: number[];
}

const deg = (d: number) => (d / 360) * 2 * Math.PI;

function rotX(v: number[], a: number): number[] {
  const [x, y, z] = v as [number, number, number];
  const c = Math.cos(a),
    s = Math.sin(a);
  // get_patch_size rotates the patch vector as a row vector: np.dot(coords, rot_matrix).
  return [x, y * c + z * s, -y * s + z * c];
}
function rotY(v: number[], a: number): number[] {
  const [x, y, z] = v as [number, number, number];
  const c = Math.cos(a),
    s = Math.sin(a);
  return [x * c - z * s, y, x * s + z * c];
}
function rotZ(v: number[], a: number): number[] {
  const [x, y, z] = v as [number, number, number];
  const c = Math.cos(a),
    s = Math.sin(a);
  return [x * c + y * s, -x * s + y * c, z];
}

/** get_patch_size(final_patch_size, rot_x, rot_y, rot_z, scale_range=(0.85, 1.25)). */
export function getPatchSize(patch: readonly number[], rotX_: number, rotY_: number, rotZ_: number, scaleRange: [number, number] = [0.85, 1.25]): number[] {
  const rx = Math.min(Math.PI / 2, rotX_),
    ry = Math.min(Math.PI / 2, rotY_),
    rz = Math.min(Math.PI / 2, rotZ_);
  let fs = [...patch];
  if (patch.length === 2) {
    const c = Math.cos(rx),
      s = Math.sin(rx);
    const r = [Math.abs(patch[0]! * c + patch[1]! * s), Math.abs(-patch[0]! * s + patch[1]! * c)];
    fs = fs.map((v, i) => Math.max(v, r[i]!));
  } else {
    for (const r of [rotX([...patch], rx), rotY([...patch], ry), rotZ([...patch], rz)]) fs = fs.map((v, i) => Math.max(v, Math.abs(r[i]!)));
  }
  return fs.map((v) => Math.trunc(v / Math.min(...scaleRange)));
}

/** Upstream's per-configuration augmentation setup for a spatial patch size of 2 or 3 axes. */
export function configureAugmentation(patchSize: readonly number[]): AugmentationConfig {
  const dim = patchSize.length;
  let rotation: [number, number];
  let doDummy2d = false;
  let mirrorAxes: number[];
  if (dim === 2) {
    rotation = Math.max(...patchSize) / Math.min(...patchSize) > 1.5 ? [deg(-15), deg(15)] : [deg(-180), deg(180)];
    mirrorAxes = [0, 1];
  } else {
    doDummy2d = Math.max(...patchSize) / patchSize[0]! > 3;
    rotation = doDummy2d ? [deg(-180), deg(180)] : [deg(-30), deg(30)];
    mirrorAxes = [0, 1, 2];
  }
  const r = Math.max(...rotation.map(Math.abs));
  let initial = getPatchSize(doDummy2d ? patchSize.slice(1) : patchSize, r, r, r, [0.85, 1.25]);
  if (doDummy2d) initial = [patchSize[0]!, ...initial];
  return { rotation, doDummy2d, mirrorAxes, initialPatchSize: initial };
}
