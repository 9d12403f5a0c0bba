// Files written by Debian's nibabel are read by us, and files we write are read by nibabel: shape, dtype, affine and
// every voxel value must agree. Volumes are tiny (5 x 4 x 3) so all values are compared.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { readImages } from "../../../sdk/io/image-io.js";
import { readNifti, scaledFloat32 } from "../../../sdk/io/nifti/read.js";
import { writeNifti } from "../../../sdk/io/nifti/write.js";
import { allocTyped, type NiftiDtype } from "../../../sdk/io/nifti/datatypes.js";
import { pythonSkipReason, runPythonJson } from "../../helpers/python.js";

const skip = pythonSkipReason(["nibabel", "numpy"]);

// Each case: how nibabel writes it. Executed in one python process that prints the expectations.
const WRITE_CASES = String.raw`
import sys, json, struct, numpy as np, nibabel as nib
from nibabel.orientations import io_orientation
out = sys.argv[1]
rng = np.random.RandomState(7)
shape = (5, 4, 3)
def rot(ax, deg):
    t = np.deg2rad(deg); c, s = np.cos(t), np.sin(t)
    m = np.eye(4)
    i, j = [(1, 2), (0, 2), (0, 1)][ax]
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m
def aff(zooms, offset, r=np.eye(4)):
    a = r @ np.diag(list(zooms) + [1.0])
    a[:3, 3] = offset
    return a
def data_for(dtype):
    dt = np.dtype(dtype)
    if dt.kind == 'f': return (rng.standard_normal(shape) * 100).astype(dt)
    info = np.iinfo(dt)
    lo, hi = max(info.min, -30000), min(info.max, 30000)
    d = rng.randint(lo, hi + 1, size=shape).astype(dt)
    d.flat[0] = info.min if info.min > -2**40 else d.flat[0]
    d.flat[1] = info.max if info.max < 2**40 else d.flat[1]
    return d
cases = {}
def save(name, img, file_ending='.nii.gz', patch=None):
    f = f'{out}/{name}{file_ending}'
    nib.save(img, f)
    if patch:
        raw = bytearray(open(f, 'rb').read()); patch(raw); open(f, 'wb').write(bytes(raw))
    im = nib.load(f)
    a = im.get_fdata()
    ro = im.as_reoriented(io_orientation(im.affine))
    cases[name] = {
        'file': f, 'shape': list(im.shape), 'dtype': str(im.get_data_dtype().newbyteorder('=')),
        'affine': im.affine.tolist(), 'zooms': [float(z) for z in im.header.get_zooms()],
        'values': a.transpose(2, 1, 0).astype(np.float32).ravel().tolist(),
        'reoriented_affine': ro.affine.tolist(), 'reoriented_zooms': [float(z) for z in ro.header.get_zooms()],
        'reoriented_values': ro.get_fdata().transpose(2, 1, 0).astype(np.float32).ravel().tolist(),
    }
for dt in ['uint8', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float32', 'float64']:
    save(f'dtype_{dt}', nib.Nifti1Image(data_for(dt), aff((0.8, 0.9, 2.5), (10, -20, 5)), dtype=dt))
# big endian header and data
h = nib.Nifti1Header(endianness='>')
save('big_endian_float32', nib.Nifti1Image(data_for('float32'), aff((1.5, 1, 1), (1, 2, 3), rot(2, 30)), h), '.nii')
h = nib.Nifti1Header(endianness='>')
save('big_endian_int16', nib.Nifti1Image(data_for('int16'), aff((1, 1, 3), (0, 0, 0)), h))
# NIfTI-2, both byte orders
save('nifti2_float64', nib.Nifti2Image(data_for('float64'), aff((0.7, 0.7, 1.2), (-5, 6, -7), rot(0, 100))))
save('nifti2_big_endian_int32', nib.Nifti2Image(data_for('int32'), aff((2, 1, 1), (3, 3, 3)), nib.Nifti2Header(endianness='>')), '.nii')
# scl_slope / scl_inter patched into the header after writing (nibabel would otherwise choose its own scaling)
def scl(slope, inter):
    def p(raw): raw[112:120] = struct.pack('<ff', slope, inter)
    return p
save('scaled_int16', nib.Nifti1Image(data_for('int16'), aff((1, 1, 1), (0, 0, 0))), '.nii', scl(0.00887, 290.65))
save('slope_zero_means_unscaled', nib.Nifti1Image(data_for('int16'), aff((1, 1, 1), (0, 0, 0))), '.nii', scl(0.0, 5.0))
save('slope_nan_means_unscaled', nib.Nifti1Image(data_for('int16'), aff((1, 1, 1), (0, 0, 0))), '.nii', scl(float('nan'), float('nan')))
# qform only (sform_code 0), oblique and with qfac = -1
def header_with(q=None, qcode=0, s=None, scode=0, dtype='float32'):
    hd = nib.Nifti1Header(); hd.set_data_shape(shape); hd.set_data_dtype(dtype)
    if q is not None: hd.set_qform(q, code=qcode)
    if s is not None: hd.set_sform(s, code=scode)
    return hd
qa = aff((0.9, 1.1, 2.0), (12, -3, 40), rot(1, 20)) @ np.diag([1, 1, -1, 1])
save('qform_only', nib.Nifti1Image(data_for('float32'), None, header_with(q=qa, qcode=1)))
# sform differs from qform: nibabel uses the sform
sa = aff((1.2, 1.2, 1.2), (-1, -2, -3), rot(2, -90))
save('sform_differs_from_qform', nib.Nifti1Image(data_for('float32'), None, header_with(q=qa, qcode=1, s=sa, scode=2)))
# neither qform nor sform: the (x-flipped, centred) base affine
save('no_qform_no_sform', nib.Nifti1Image(data_for('float32'), None, header_with()))
# permuted axes (LIP-like) so the reorientation permutes the array
pa = np.array([[0, 0, -2.0, 30], [-1.0, 0, 0, 10], [0, 1.5, 0, -8], [0, 0, 0, 1]])
save('permuted_axes', nib.Nifti1Image(data_for('int16'), pa))
print(json.dumps(cases))
`;

interface PyCase {
  file: string;
  shape: number[];
  dtype: string;
  affine: number[][];
  zooms: number[];
  values: number[];
  reoriented_affine: number[][];
  reoriented_zooms: number[];
  reoriented_values: number[];
}

const close = (a: number[], b: number[], tol: number) =>
  a.forEach((x, i) => expect(Math.abs(x - b[i]!)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i]!))));

describe.skipIf(skip)(`readNifti(file) on nibabel-written files${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let cases: Record<string, PyCase> = {};
  beforeAll(() => {
    cases = runPythonJson<Record<string, PyCase>>(WRITE_CASES, [mkdtempSync(path.join(tmpdir(), "nnssl-nib-"))]);
  });
  const NAMES = [
    "dtype_uint8",
    "dtype_int8",
    "dtype_int16",
    "dtype_uint16",
    "dtype_int32",
    "dtype_uint32",
    "dtype_int64",
    "dtype_float32",
    "dtype_float64",
    "big_endian_float32",
    "big_endian_int16",
    "nifti2_float64",
    "nifti2_big_endian_int32",
    "scaled_int16",
    "slope_zero_means_unscaled",
    "slope_nan_means_unscaled",
    "qform_only",
    "sform_differs_from_qform",
    "no_qform_no_sform",
    "permuted_axes",
  ];
  it.each(NAMES)("%s: shape, dtype, affine, zooms and values equal nibabel's", async (name) => {
    const c = cases[name]!;
    const img = await readNifti(c.file);
    expect(img.shape).toEqual(c.shape);
    expect(img.dtype).toBe(c.dtype);
    close(img.affine.flat(), c.affine.flat(), 1e-6);
    close(img.zooms, c.zooms, 1e-7);
    expect(Array.from(scaledFloat32(img))).toEqual(c.values);
  });
  it.each(NAMES)("%s: NibabelIO and NibabelIOWithReorient match nibabel (as_reoriented(io_orientation))", async (name) => {
    const c = cases[name]!;
    const plain = await readImages([c.file], "NibabelIO");
    expect(plain.shape).toEqual([1, ...c.shape.slice().reverse()]);
    expect(plain.properties.spacing).toEqual(c.zooms.slice().reverse());
    expect(Array.from(plain.data)).toEqual(c.values);
    const re = await readImages([c.file], "NibabelIOWithReorient");
    close(re.properties.nibabel_stuff!.reoriented_affine!.flat(), c.reoriented_affine.flat(), 1e-6);
    close(re.properties.spacing, c.reoriented_zooms.slice().reverse(), 1e-6);
    expect(Array.from(re.data)).toEqual(c.reoriented_values);
  });
});

const READ_BACK = String.raw`
import sys, json, numpy as np, nibabel as nib
res = {}
for f in sys.argv[1:]:
    im = nib.load(f)
    h = im.header
    res[f] = {'shape': list(im.shape), 'dtype': str(im.get_data_dtype().newbyteorder('=')), 'affine': im.affine.tolist(),
              'qform': im.get_qform().tolist(), 'codes': [int(h['qform_code']), int(h['sform_code'])],
              'zooms': [float(z) for z in h.get_zooms()], 'values': np.asarray(im.dataobj).transpose(2, 1, 0).ravel().tolist()}
print(json.dumps(res))
`;

describe.skipIf(skip)(`writeNifti(file, ...) is read back by nibabel${skip ? ` (skipped: ${skip})` : ""}`, () => {
  const rot = (deg: number) => {
    const t = (deg * Math.PI) / 180;
    return [
      [Math.cos(t), -Math.sin(t), 0],
      [Math.sin(t), Math.cos(t), 0],
      [0, 0, 1],
    ];
  };
  const affineOf = (r: number[][], zooms: number[], off: number[]) => [
    ...[0, 1, 2].map((i) => [...[0, 1, 2].map((j) => r[i]![j]! * zooms[j]!), off[i]!]),
    [0, 0, 0, 1],
  ];
  const CASES: [NiftiDtype, string, number[][]][] = [
    ["uint8", "seg.nii.gz", affineOf(rot(0), [0.8, 0.8, 3], [1, 2, 3])],
    ["int16", "ct.nii.gz", affineOf(rot(25), [1, 1.5, 2], [-100, 50, 7])],
    ["float32", "mr.nii", affineOf(rot(180), [0.5, 0.5, 0.5], [0, 0, 0])],
    [
      "float64",
      "f64.nii.gz",
      affineOf(
        [
          [0, 0, 1],
          [1, 0, 0],
          [0, 1, 0],
        ],
        [2, 1, 1],
        [5, 5, 5],
      ),
    ],
    [
      "uint16",
      "u16.nii.gz",
      affineOf(
        [
          [1, 0, 0],
          [0, 1, 0],
          [0, 0, -1],
        ],
        [1, 1, 1],
        [0, 0, 0],
      ),
    ],
    ["int8", "i8.nii.gz", affineOf(rot(-45), [0.7, 0.7, 5], [3, 2, 1])],
    ["int32", "i32.nii", affineOf(rot(90), [1, 2, 3], [0, 0, 0])],
  ];
  it("writes every dtype with shape, affine, qform, codes and values nibabel agrees with", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "nnssl-write-"));
    const shape = [5, 4, 3];
    const written: Record<string, { data: number[]; affine: number[][]; dtype: NiftiDtype }> = {};
    for (const [dtype, name, affine] of CASES) {
      const data = allocTyped(dtype, 60);
      for (let i = 0; i < 60; i++)
        (data as unknown as number[])[i] = dtype.startsWith("float") ? (i - 30) * 1.25 : ((i * 37) % 120) - (dtype.startsWith("u") ? 0 : 60);
      const file = path.join(dir, name);
      await writeNifti(file, data, shape, affine);
      written[file] = { data: Array.from(data as unknown as number[]), affine, dtype };
    }
    const res = runPythonJson<
      Record<string, { shape: number[]; dtype: string; affine: number[][]; qform: number[][]; codes: number[]; zooms: number[]; values: number[] }>
    >(READ_BACK, Object.keys(written));
    for (const [file, w] of Object.entries(written)) {
      const r = res[file]!;
      expect(r.shape, file).toEqual(shape);
      expect(r.dtype, file).toBe(w.dtype);
      expect(r.codes, file).toEqual([1, 1]);
      close(r.affine.flat(), w.affine.flat(), 1e-6);
      close(r.qform.flat(), w.affine.flat(), 1e-5);
      // nibabel's values are transposed (2, 1, 0), i.e. the C order of the reversed shape, which is our file order.
      expect(r.values, file).toEqual(w.data);
    }
  });
});
