// resize / resizeSegmentation / normalization schemes against the reference implementations running in Debian's
// python3 (scipy 1.10, numpy 1.24): scipy.ndimage.zoom(grid_mode=True, mode="nearest") + clip is what scikit-image
// 0.19.3's resize(order, mode="edge", anti_aliasing=False) computes; resize_segmentation and the normalisation schemes
// are upstream's code, inlined. Skipped when /usr/bin/python3 lacks scipy.

import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { formatNpy, parseNpy } from "../../sdk/io/npy.js";
import { resize } from "../../sdk/preprocessing/zoom.js";
import { resizeSegmentation } from "../../sdk/preprocessing/resize-segmentation.js";
import { NORMALIZATION_SCHEMES } from "../../sdk/preprocessing/normalization.js";
import { pythonSkipReason, runPython } from "../helpers/python.js";
import { maxAbsDiff } from "./helpers.js";

const skip = pythonSkipReason(["scipy"]);

/** Deterministic pseudo-random values (LCG), so both sides see the same input. */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
}

const RESIZE_CASES: [string, number[], number[], number][] = [
  ["3-d cubic up", [5, 7, 6], [8, 11, 9], 3],
  ["3-d cubic down", [9, 12, 10], [4, 7, 6], 3],
  ["2-d cubic mixed", [1, 13, 6], [1, 7, 11], 3],
  ["3-d linear", [5, 7, 6], [8, 3, 13], 1],
  ["3-d nearest", [6, 5, 7], [11, 3, 4], 0],
  ["quadratic", [4, 6, 5], [7, 4, 9], 2],
  ["quintic", [4, 6, 5], [7, 4, 9], 5],
];

describe.skipIf(skip !== null)(`resize(src, shape, newShape, order) equals scipy zoom + clip${skip ? ` (${skip})` : ""}`, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zoom-oracle-"));
  it.each(RESIZE_CASES)("%s", (name, shape, newShape, order) => {
    const rnd = lcg(shape.reduce((a, b) => a * 31 + b, order));
    const src = Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rnd() * 10 - 5);
    const inFile = path.join(dir, `${name}.npy`);
    writeFileSync(inFile, formatNpy({ dtype: "float64", shape, data: src }));
    runPython(
      "import numpy as np, sys; from scipy import ndimage as ndi\n" +
        "x = np.load(sys.argv[1]); ns = [int(v) for v in sys.argv[2].split(',')]; o = int(sys.argv[3])\n" +
        "z = ndi.zoom(x, [1 / (a / b) for a, b in zip(x.shape, ns)], order=o, mode='nearest', grid_mode=True)\n" +
        "np.save(sys.argv[1] + '.out.npy', np.clip(z, x.min(), x.max()))",
      [inFile, newShape.join(","), String(order)],
    );
    const expected = parseNpy(new Uint8Array(readFileSync(inFile + ".out.npy"))).data as Float64Array;
    const got = resize(src, shape, newShape, order);
    const { max, at } = maxAbsDiff(got, expected);
    // orders 0 / 1 are evaluated in scipy's own term order (bit-exact); separable splines differ by float64 rounding
    expect(max, `${name}: max |diff| ${max} at ${at}`).toBeLessThanOrEqual(order <= 1 ? 0 : 1e-12);
  });

  it("resizeSegmentation(labels, shape, newShape, 1) equals batchgenerators' resize_segmentation", () => {
    const shape = [7, 9, 8],
      newShape = [12, 5, 13];
    const rnd = lcg(7);
    // blocky labels -1..3 so that boundaries and ties occur
    const src = Float64Array.from({ length: 7 * 9 * 8 }, (_, i) => (Math.floor(i / 3) % 5 === 0 ? -1 : Math.floor(rnd() * 4)));
    const inFile = path.join(dir, "seg.npy");
    writeFileSync(inFile, formatNpy({ dtype: "float64", shape, data: src }));
    runPython(
      "import numpy as np, sys; from scipy import ndimage as ndi\n" +
        "x = np.load(sys.argv[1]); ns = (12, 5, 13); out = np.zeros(ns)\n" +
        "for c in np.unique(x):\n" +
        "    m = (x == c).astype(float)\n" +
        "    r = np.clip(ndi.zoom(m, [1 / (a / b) for a, b in zip(x.shape, ns)], order=1, mode='nearest', grid_mode=True), m.min(), m.max())\n" +
        "    out[r >= 0.5] = c\n" +
        "np.save(sys.argv[1] + '.out.npy', out)",
      [inFile],
    );
    const expected = parseNpy(new Uint8Array(readFileSync(inFile + ".out.npy"))).data as Float64Array;
    expect(maxAbsDiff(resizeSegmentation(src, shape, newShape, 1), expected).max).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });
});

const NORM_CASES: [string, boolean][] = [
  ["ZScoreNormalization", true],
  ["ZScoreNormalization", false],
  ["CTNormalization", false],
  ["NoNormalization", false],
  ["RescaleTo01Normalization", false],
  ["RGBTo01Normalization", false],
];

describe.skipIf(skip !== null)(`NORMALIZATION_SCHEMES[name](image, seg, opts) equals upstream's float32 numpy code${skip ? ` (${skip})` : ""}`, () => {
  it.each(NORM_CASES)("%s (use_mask_for_norm %s)", (scheme, useMask) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "norm-oracle-"));
    const n = 70_000; // more than one 8192-element numpy reduction chunk
    const rnd = lcg(n + scheme.length);
    const img = Float32Array.from({ length: n }, (_, i) => (i % 11 === 0 ? 0 : Math.round(rnd() * 255 * 100) / 100));
    const seg = Int16Array.from({ length: n }, (_, i) => (i % 11 === 0 ? -1 : i % 3));
    const props = { mean: 101.5, std: 47.25, percentile_00_5: 3.7, percentile_99_5: 240.1 };
    writeFileSync(path.join(dir, "img.npy"), formatNpy({ dtype: "float32", shape: [n], data: img }));
    writeFileSync(path.join(dir, "seg.npy"), formatNpy({ dtype: "int16", shape: [n], data: seg }));
    runPython(
      "import numpy as np, sys, json\n" +
        "d = sys.argv[1]; scheme = sys.argv[2]; use_mask = sys.argv[3] == '1'; p = json.loads(sys.argv[4])\n" +
        "image = np.load(d + '/img.npy'); seg = np.load(d + '/seg.npy')\n" +
        "image = image.astype(np.float32, copy=False)\n" +
        "if scheme == 'ZScoreNormalization':\n" +
        "    if use_mask:\n" +
        "        mask = seg >= 0; mean = image[mask].mean(); std = image[mask].std(); image[mask] = (image[mask] - mean) / (max(std, 1e-8))\n" +
        "    else:\n" +
        "        mean = image.mean(); std = image.std(); image -= mean; image /= (max(std, 1e-8))\n" +
        "elif scheme == 'CTNormalization':\n" +
        "    np.clip(image, p['percentile_00_5'], p['percentile_99_5'], out=image); image -= p['mean']; image /= max(p['std'], 1e-8)\n" +
        "elif scheme == 'RescaleTo01Normalization':\n" +
        "    image -= image.min(); image /= np.clip(image.max(), a_min=1e-8, a_max=None)\n" +
        "elif scheme == 'RGBTo01Normalization':\n" +
        "    image /= 255.\n" +
        "np.save(d + '/out.npy', image)",
      [dir, scheme, useMask ? "1" : "0", JSON.stringify(props)],
    );
    const expected = parseNpy(new Uint8Array(readFileSync(path.join(dir, "out.npy")))).data as Float32Array;
    const got = img.slice();
    NORMALIZATION_SCHEMES[scheme]!(got, seg, { useMaskForNorm: useMask, intensityProperties: props });
    const { max, at } = maxAbsDiff(got, expected);
    rmSync(dir, { recursive: true, force: true });
    expect(max, `${scheme}: max |diff| ${max} at ${at}`).toBe(0);
  });
});
