// `npm run bench preprocess [--reps N]`: seconds per case and MB/s of our DefaultPreprocessor.runCase (crop, normalise,
// resample data and segmentation, class_locations) on realistic volumes, next to an upstream-equivalent Python run of
// the same case in the same process tree (/usr/bin/python3: numpy + scipy; skimage's resize is scipy.ndimage.zoom with
// grid_mode=True, mode='nearest' plus clipping, which is what scikit-image 0.19 calls). Both run single-threaded on the
// same arrays and are timed in CPU seconds of their process (the machine is shared by many jobs, so wall-clock time
// mostly measures the neighbours); the ratio is Python time / our time.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { formatNpy } from "../../dist/sdk/io/npy.js";
import { runCase } from "../../dist/sdk/preprocessing/default-preprocessor.js";

const argv = process.argv.slice(2);
const repsIdx = argv.indexOf("--reps");
// Best of 3 for both sides: our first case in a fresh process is mostly V8 compiling the hot loops (~0.55 s of CPU,
// measured) and the second still re-optimises some; a preprocessing run pays that once per worker, not per case.
const REPS = repsIdx >= 0 ? Number(argv[repsIdx + 1]) : 3;
const PYTHON = process.env.NNSSL_ADAPT_BENCH_PYTHON ?? "/usr/bin/python3";

const CASES = [
  {
    name: "MR 2ch 40x320x320 @3x0.7x0.7 -> 1mm",
    channels: 2,
    shape: [40, 320, 320],
    spacing: [3, 0.7, 0.7],
    target: [1, 1, 1],
    norm: "ZScoreNormalization",
    mask: true,
  },
  { name: "CT 200^3 @1x0.8x0.8 -> 1mm", channels: 1, shape: [200, 200, 200], spacing: [1, 0.8, 0.8], target: [1, 1, 1], norm: "CTNormalization", mask: false },
];

/** Deterministic synthetic case: an ellipsoidal body (zero outside), smooth intensities plus noise, two nested labels. */
function makeCase({ channels, shape }) {
  const [X, Y, Z] = shape;
  const n = X * Y * Z;
  const data = new Float32Array(channels * n);
  const seg = new Float32Array(n);
  let s = 12345;
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
  for (let x = 0, i = 0; x < X; x++)
    for (let y = 0; y < Y; y++)
      for (let z = 0; z < Z; z++, i++) {
        const u = (x - X / 2) / (0.45 * X),
          v = (y - Y / 2) / (0.42 * Y),
          w = (z - Z / 2) / (0.4 * Z);
        const r = u * u + v * v + w * w;
        if (r < 1) {
          for (let c = 0; c < channels; c++) data[c * n + i] = 300 + 200 * Math.sin(0.07 * x + c) * Math.cos(0.05 * y) + 80 * w + 30 * rnd();
          seg[i] = r < 0.15 ? 2 : r < 0.45 ? 1 : 0;
        }
      }
  return { data, seg };
}

/** A plans object with the fields runCase reads. @returns {any} */
function plansFor(c) {
  const kw = (isSeg, order) => ({ is_seg: isSeg, order, order_z: 0, force_separate_z: null });
  return {
    transpose_forward: [0, 1, 2],
    foreground_intensity_properties_per_channel: Object.fromEntries(
      Array.from({ length: c.channels }, (_, i) => [
        String(i),
        { mean: 310, std: 140, percentile_00_5: 90, percentile_99_5: 520, median: 300, min: 0, max: 600 },
      ]),
    ),
    configurations: {
      "3d_fullres": {
        spacing: c.target,
        normalization_schemes: Array(c.channels).fill(c.norm),
        use_mask_for_norm: Array(c.channels).fill(c.mask),
        resampling_fn_data: "resample_data_or_seg_to_shape",
        resampling_fn_data_kwargs: kw(false, 3),
        resampling_fn_seg: "resample_data_or_seg_to_shape",
        resampling_fn_seg_kwargs: kw(true, 1),
      },
    },
  };
}

const PY = String.raw`
import json, sys, time, math
import numpy as np
from scipy import ndimage as ndi
d = sys.argv[1]; cfg = json.load(open(d + '/case.json'))
ANISO = 3

def resize(img, new_shape, order):  # skimage.transform.resize(order, mode='edge', anti_aliasing=False), skimage 0.19
    zf = [1 / (a / b) for a, b in zip(img.shape, new_shape)]
    out = ndi.zoom(img, zf, order=order, mode='nearest', grid_mode=True)
    return np.clip(out, img.min(), img.max())

def resize_segmentation(seg, new_shape, order):
    out = np.zeros(new_shape, dtype=seg.dtype)
    for c in np.unique(seg):
        m = resize((seg == c).astype(float), new_shape, order)
        out[m >= 0.5] = c
    return out

def lowres_axis(sp):
    return np.where(max(sp) / np.array(sp) == 1)[0]

def resample(data, new_shape, cur, new, is_seg, order):
    if max(cur) / min(cur) > ANISO: axis = lowres_axis(cur); sep = True
    elif max(new) / min(new) > ANISO: axis = lowres_axis(new); sep = True
    else: axis = None; sep = False
    if axis is not None and len(axis) != 1: sep = False
    fn = resize_segmentation if is_seg else resize
    shape = np.array(data[0].shape); new_shape = np.array(new_shape)
    out = np.zeros((data.shape[0], *new_shape), dtype=data.dtype)
    data = data.astype(float)
    for c in range(data.shape[0]):
        if sep:
            a = axis[0]; tmp = new_shape.copy(); tmp[a] = shape[a]; here = np.zeros(tmp)
            ns2 = [new_shape[i] for i in range(3) if i != a]
            for s in range(shape[a]):
                sl = [slice(None)] * 3; sl[a] = s
                here[tuple(sl)] = fn(data[c][tuple(sl)], ns2, order)
            if shape[a] != new_shape[a]:
                sc = [here.shape[i] / new_shape[i] for i in range(3)]
                g = np.mgrid[:new_shape[0], :new_shape[1], :new_shape[2]].astype(float)
                coords = np.array([sc[i] * (g[i] + 0.5) - 0.5 for i in range(3)])
                out[c] = ndi.map_coordinates(here, coords, order=0, mode='nearest')
            else:
                out[c] = here
        else:
            out[c] = fn(data[c], new_shape, order)
    return out

def get_bbox_from_mask(mask):  # acvl_utils
    Z, X, Y = mask.shape
    minz, maxz, minx, maxx, miny, maxy = 0, Z, 0, X, 0, Y
    for z in range(Z):
        if np.any(mask[z]): minz = z; break
    for z in range(Z - 1, -1, -1):
        if np.any(mask[z]): maxz = z + 1; break
    for x in range(X):
        if np.any(mask[:, x]): minx = x; break
    for x in range(X - 1, -1, -1):
        if np.any(mask[:, x]): maxx = x + 1; break
    for y in range(Y):
        if np.any(mask[:, :, y]): miny = y; break
    for y in range(Y - 1, -1, -1):
        if np.any(mask[:, :, y]): maxy = y + 1; break
    return [[minz, maxz], [minx, maxx], [miny, maxy]]

def run_case(data, seg, sp, target, norm, mask, props):
    data = data.astype(np.float32); seg = np.copy(seg)  # run_case_npy's copies
    nz = data[0] != 0
    for c in range(1, data.shape[0]): nz |= data[c] != 0
    nz = ndi.binary_fill_holes(nz)
    sl = tuple(slice(a, b) for a, b in get_bbox_from_mask(nz))
    data = data[(slice(None),) + sl]; seg = seg[(slice(None),) + sl]; m = nz[sl]
    seg[(seg == 0) & ~m[None]] = -1
    new_shape = [int(round(a / b * c)) for a, b, c in zip(sp, target, data.shape[1:])]
    for c in range(data.shape[0]):
        img = data[c]
        if norm == 'ZScoreNormalization':
            if mask:
                mk = seg[0] >= 0; mean = img[mk].mean(); std = img[mk].std(); img[mk] = (img[mk] - mean) / max(std, 1e-8)
            else:
                img -= img.mean(); img /= max(img.std(), 1e-8)
        else:
            p = props[str(c)]; np.clip(img, p['percentile_00_5'], p['percentile_99_5'], out=img); img -= p['mean']; img /= max(p['std'], 1e-8)
    data = resample(data, new_shape, sp, target, False, 3)
    seg = resample(seg, new_shape, sp, target, True, 1)
    rs = np.random.RandomState(1234); locs = {}
    for c in (1, 2):
        allc = np.argwhere(seg == c)
        k = max(min(10000, len(allc)), int(np.ceil(len(allc) * 0.01)))
        locs[c] = allc[rs.choice(len(allc), k, replace=False)] if len(allc) else []
    return data, seg.astype(np.int16), locs

data = np.load(d + '/data.npy'); seg = np.load(d + '/seg.npy')
times = []
for r in range(cfg['reps']):
    t0 = time.process_time()
    out, oseg, locs = run_case(data, seg, cfg['spacing'], cfg['target'], cfg['norm'], cfg['mask'], cfg['props'])
    times.append(time.process_time() - t0)
np.save(d + '/py_out.npy', out); np.save(d + '/py_seg.npy', oseg)
print(json.dumps({'seconds': min(times), 'shape': list(out.shape)}))
`;

const dir = mkdtempSync(path.join(tmpdir(), "bench-preprocess-"));
try {
  writeFileSync(path.join(dir, "bench.py"), PY);
  console.log(`preprocessing one case, single-threaded, CPU seconds, best of ${REPS} each`);
  for (const c of CASES) {
    const { data, seg } = makeCase(c);
    const shape = [c.channels, ...c.shape];
    const plans = plansFor(c);
    const datasetJson = { labels: { background: 0, a: 1, b: 2 }, numTraining: 1, file_ending: ".nii.gz" };
    let best = Infinity;
    let out;
    for (let r = 0; r < REPS; r++) {
      const t0 = process.cpuUsage();
      out = runCase(
        { data, shape, properties: { spacing: c.spacing } },
        { data: seg, shape: [1, ...c.shape], properties: { spacing: c.spacing } },
        plans,
        "3d_fullres",
        datasetJson,
      );
      const t = process.cpuUsage(t0);
      best = Math.min(best, (t.user + t.system) / 1e6);
    }
    writeFileSync(path.join(dir, "data.npy"), formatNpy({ dtype: "float32", shape, data }));
    writeFileSync(path.join(dir, "seg.npy"), formatNpy({ dtype: "float32", shape: [1, ...c.shape], data: seg }));
    writeFileSync(
      path.join(dir, "case.json"),
      JSON.stringify({
        reps: REPS,
        spacing: c.spacing,
        target: c.target,
        norm: c.norm,
        mask: c.mask,
        props: plans.foreground_intensity_properties_per_channel,
      }),
    );
    const py = JSON.parse(
      execFileSync(PYTHON, [path.join(dir, "bench.py"), dir], {
        encoding: "utf8",
        env: { ...process.env, OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1", MKL_NUM_THREADS: "1" },
        maxBuffer: 1 << 26,
      })
        .trim()
        .split("\n")
        .pop(),
    );
    writeOurs(dir, out);
    const check = execFileSync(
      PYTHON,
      [
        "-c",
        `import numpy as np,sys; a=np.load(sys.argv[1]); b=np.load(sys.argv[2]); s=np.load(sys.argv[3]); t=np.load(sys.argv[4]); print(float(abs(a-b).max()), int((s!=t).sum()))`,
        path.join(dir, "py_out.npy"),
        path.join(dir, "ours_out.npy"),
        path.join(dir, "py_seg.npy"),
        path.join(dir, "ours_seg.npy"),
      ],
      { encoding: "utf8" },
    ).trim();
    const mb = (data.byteLength + seg.byteLength) / 1e6;
    const [maxDiff, segDiff] = check.split(" ");
    console.log(
      `${c.name}: ours ${best.toFixed(2)} s/case (${(mb / best).toFixed(1)} MB/s), python ${py.seconds.toFixed(2)} s/case ` +
        `(${(mb / py.seconds).toFixed(1)} MB/s), ratio ${(py.seconds / best).toFixed(1)}x; output [${out.shape}] ` +
        `max |data diff| ${Number(maxDiff).toExponential(1)}, seg voxels differing ${segDiff}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function writeOurs(d, out) {
  writeFileSync(path.join(d, "ours_out.npy"), formatNpy({ dtype: "float32", shape: out.shape, data: out.data }));
  writeFileSync(path.join(d, "ours_seg.npy"), formatNpy({ dtype: "int16", shape: [1, ...out.shape.slice(1)], data: out.seg }));
}
