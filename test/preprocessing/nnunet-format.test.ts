// Preprocessed data both ways with Python nnU-Net master's numpy dataset class (nnUNetDatasetNumpy +
// infer_dataset_class in nnunetv2/training/dataloading/nnunet_dataset.py). nnunetv2 itself cannot be installed from
// Debian, so its few loading lines are repeated below verbatim in spirit (listing by ending, np.load of the .npz or the
// unpacked .npy, load_pickle of the .pkl) and run with Debian's numpy/pickle:
// - ours -> master: `runPreprocessing(..., { format: "npz" })` writes files master's loader reads, with the Python
//   types master's preprocessor pickles, and the same arrays as our default .npy layout;
// - master -> ours: upstream's own preprocessed Tiny cases (fixture, produced by master's DefaultPreprocessor) saved
//   as master's save_case does (np.savez_compressed + pickle, protocols 4 and 5) are read by our loaders and trained on.

import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { openRawDataset } from "../../sdk/dataset/raw.js";
import { loadPlans } from "../../sdk/planning/plans.js";
import { runPreprocessing } from "../../sdk/preprocessing/run-preprocessing.js";
import { listPreprocessedCases, loadPreprocessedCase } from "../../sdk/preprocessing/preprocessed-dataset.js";
import { formatPropertiesPickle, parsePropertiesPickle } from "../../sdk/preprocessing/nnunet-format.js";
import { readCaseArrays } from "../../sdk/training/case-reader.js";
import { train } from "../../sdk/training/run-training.js";
import { InputError } from "../../sdk/errors.js";
import { parseArgs } from "../../sdk/cli/argparse.js";
import { spec as ppSpec } from "../../sdk/cli/commands/preprocess.js";
import { parseB2nd } from "../../sdk/io/b2nd.js";
import { parseNpy } from "../../sdk/io/npy.js";
import { pythonSkipReason, runPythonJson } from "../helpers/python.js";

const TINY = path.resolve("test/fixtures/datasets/Dataset900_Tiny");
const UPSTREAM = path.join(TINY, "expected/nnUNetPlans_3d_fullres");
const CASES = ["Tiny_000", "Tiny_001", "Tiny_002", "Tiny_003", "Tiny_004"];
const skip = pythonSkipReason(["numpy"]);
if (process.env.CI === "true" && skip) throw new Error(`CI=true but ${skip}`);
const tmp = () => mkdtempSync(path.join(tmpdir(), "nnssl-ppfmt-"));

// master's loader, as in nnunet_dataset.py (infer_dataset_class, nnUNetDatasetNumpy.get_identifiers / load_case)
const MASTER_LOADER = `
import os, pickle, numpy as np
def infer_dataset_class(folder):
    file_endings = set([os.path.basename(i).split('.')[-1] for i in os.listdir(folder) if os.path.isfile(os.path.join(folder, i))])
    file_endings.discard('pkl'); file_endings.discard('npy')
    assert len(file_endings) == 1, f'Found more than one file ending in the folder {folder}: {file_endings}'
    return {'npz': 'nnUNetDatasetNumpy', 'b2nd': 'nnUNetDatasetBlosc2'}[list(file_endings)[0]]
def get_identifiers(folder):
    return sorted(i[:-4] for i in os.listdir(folder) if i.endswith("npz"))
def load_case(folder, identifier):
    f = os.path.join(folder, identifier)
    data = np.load(f + '.npy', mmap_mode='r') if os.path.isfile(f + '.npy') else np.load(f + '.npz')['data']
    seg = np.load(f + '_seg.npy', mmap_mode='r') if os.path.isfile(f + '_seg.npy') else np.load(f + '.npz')['seg']
    with open(f + '.pkl', 'rb') as fh:
        properties = pickle.load(fh)
    return data, seg, properties
`;

describe.skipIf(skip)(`preprocessed data shared with Python nnU-Net master${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("ours -> master: --pp_format npz writes what master's numpy dataset class loads, with master's Python types", async () => {
    const root = tmp();
    const ds = await openRawDataset(TINY);
    const plans = await loadPlans(path.join(TINY, "expected/nnUNetPlans.json"));
    const paths = (p: string) => ({ nnUNet_preprocessed: path.join(root, p) });
    await runPreprocessing(ds, plans, "3d_fullres", { numWorkers: 1, paths: paths("npz"), format: "npz" });
    await runPreprocessing(ds, plans, "3d_fullres", { numWorkers: 1, paths: paths("npy") });
    const npz = path.join(root, "npz", "Dataset900_Tiny", "nnUNetPlans_3d_fullres");
    const npy = path.join(root, "npy", "Dataset900_Tiny", "nnUNetPlans_3d_fullres");
    const r = runPythonJson<Record<string, unknown>>(
      MASTER_LOADER +
        `
import sys, json
npz, npy = sys.argv[1], sys.argv[2]
out = {'class': infer_dataset_class(npz), 'ids': get_identifiers(npz), 'cases': {}}
for k in out['ids']:
    data, seg, p = load_case(npz, k)
    ref = json.load(open(os.path.join(npy, k + '.json')))
    cl = p['class_locations']
    out['cases'][k] = {
        'data': [str(data.dtype), list(data.shape), bool(np.array_equal(data, np.load(os.path.join(npy, k + '.npy'))))],
        'seg': [str(seg.dtype), list(seg.shape), bool(np.array_equal(seg, np.load(os.path.join(npy, k + '_seg.npy'))))],
        'keys': list(p.keys()),
        'types': {x: type(p[x]).__name__ for x in p},
        'cl_keys': [repr(x) for x in cl], 'cl_types': sorted({type(v).__name__ + ':' + str(v.dtype) + ':' + str(v.ndim) for v in cl.values()}),
        'cl_equal': all(np.array_equal(cl[int(x)], np.asarray(v, dtype=np.int64).reshape(-1, 4)) for x, v in ref['class_locations'].items()),
        'affine': [type(p['nibabel_stuff']['original_affine']).__name__, bool(np.array_equal(p['nibabel_stuff']['original_affine'], np.array(ref['nibabel_stuff']['original_affine'])))],
        'shapes': [list(p['shape_before_cropping']) == ref['shape_before_cropping'], p['bbox_used_for_cropping'] == ref['bbox_used_for_cropping'], p['spacing'] == ref['spacing']],
        'spacing_types': sorted({type(x).__name__ for x in p['spacing']}),
    }
print(json.dumps(out))`,
      [npz, npy],
    );
    cpSync(npy, path.join(root, "npy-copy"), { recursive: true });
    expect(r.class).toBe("nnUNetDatasetNumpy");
    expect(r.ids).toEqual(CASES);
    for (const k of CASES) {
      const c = (r.cases as Record<string, Record<string, unknown>>)[k]!;
      expect((c.data as unknown[])[0]).toBe("float32");
      expect((c.data as unknown[])[2]).toBe(true);
      expect(c.seg).toEqual(["int16", [1, ...((c.data as unknown[])[1] as number[]).slice(1)], true]);
      expect(c.keys).toEqual([
        "nibabel_stuff",
        "spacing",
        "shape_before_cropping",
        "bbox_used_for_cropping",
        "shape_after_cropping_and_before_resampling",
        "class_locations",
      ]);
      expect(c.types).toEqual({
        nibabel_stuff: "dict",
        spacing: "list",
        shape_before_cropping: "tuple",
        bbox_used_for_cropping: "list",
        shape_after_cropping_and_before_resampling: "tuple",
        class_locations: "dict",
      });
      expect(c.cl_keys).toEqual(["1", "2"]);
      expect(c.cl_types).toEqual(["ndarray:int64:2"]);
      expect(c.cl_equal).toBe(true);
      expect(c.affine).toEqual(["ndarray", true]);
      expect(c.shapes).toEqual([true, true, true]);
      expect(c.spacing_types).toEqual(["float"]);
    }
    // rewriting a case in the other layout leaves no stale files of the first one
    const mixed = path.join(root, "npy", "Dataset900_Tiny", "nnUNetPlans_3d_fullres");
    await runPreprocessing(ds, plans, "3d_fullres", { numWorkers: 1, paths: paths("npy"), format: "npz", overwrite: false });
    expect(
      readdirSync(mixed)
        .filter((f) => f.startsWith("Tiny_001"))
        .sort(),
    ).toEqual(["Tiny_001.npz", "Tiny_001.pkl"]);
    await expect(runPreprocessing(ds, plans, "3d_fullres", { paths: paths("npy"), format: "b2nd" as never })).rejects.toThrow(/format/);
    expect(parseArgs(ppSpec, ["-d", "900", "--pp_format", "npz"]).pp_format).toBe("npz");
    expect(parseArgs(ppSpec, ["-d", "900"]).pp_format).toBe("npy");
    expect(() => parseArgs(ppSpec, ["-d", "900", "--pp_format", "b2nd"])).toThrow(/pp_format/);
    // and we read our own npz folder back like the npy one
    const a = await loadPreprocessedCase(npz, "Tiny_002");
    const b = await loadPreprocessedCase(path.join(root, "npy-copy"), "Tiny_002");
    expect(a.shape).toEqual(b.shape);
    expect(a.data).toEqual(b.data);
    expect(a.seg).toEqual(b.seg);
    expect(a.properties).toEqual(b.properties);
  }, 300_000);

  it("master -> ours: upstream's preprocessed cases saved as master's save_case does are read, and trained on", async () => {
    const root = tmp();
    const pre = path.join(root, "pre", "Dataset900_Tiny");
    const folder = path.join(pre, "nnUNetPlans_3d_fullres");
    mkdirSync(folder, { recursive: true });
    // np.savez_compressed + write_pickle (pickle.dump, default protocol; one case with protocol 5, numpy's buffer path)
    runPythonJson(
      `
import sys, os, json, pickle, numpy as np
src, dst = sys.argv[1], sys.argv[2]
for i, k in enumerate(sorted(f[:-16] for f in os.listdir(src) if f.endswith('_properties.json'))):
    p = json.load(open(os.path.join(src, k + '_properties.json')))
    p['nibabel_stuff'] = {'original_affine': np.array(p['nibabel_stuff']['original_affine'])}
    p['shape_before_cropping'] = tuple(p['shape_before_cropping'])
    p['shape_after_cropping_and_before_resampling'] = tuple(p['shape_after_cropping_and_before_resampling'])
    p['spacing'] = [np.float64(x) for x in p['spacing']]
    p['class_locations'] = {int(c): np.asarray(v, dtype=np.int64).reshape(-1, 4) for c, v in p['class_locations'].items()}
    np.savez_compressed(os.path.join(dst, k + '.npz'), data=np.load(os.path.join(src, k + '.npy')), seg=np.load(os.path.join(src, k + '_seg.npy')))
    with open(os.path.join(dst, k + '.pkl'), 'wb') as f:
        pickle.dump(p, f, protocol=5 if i == 4 else pickle.DEFAULT_PROTOCOL)
print(json.dumps(True))`,
      [UPSTREAM, folder],
    );
    expect(await listPreprocessedCases(folder)).toEqual(CASES);
    for (const k of CASES) {
      const c = await loadPreprocessedCase(folder, k);
      const want = JSON.parse(readFileSync(path.join(UPSTREAM, `${k}_properties.json`), "utf8"));
      expect(c.properties).toEqual(want);
      const ref = readFileSync(path.join(UPSTREAM, `${k}.npy`));
      const hl = ref.readUInt16LE(8);
      expect(Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength).equals(ref.subarray(10 + hl))).toBe(true);
      const arrays = await readCaseArrays(folder, k);
      expect(arrays.data).toEqual(c.data);
      expect(arrays.classLocations).toEqual(want.class_locations);
    }
    // train one epoch of 2 iterations on it, final validation included (it exports with the pickled nibabel_stuff)
    const plans = JSON.parse(readFileSync(path.join(TINY, "expected/nnUNetPlans.json"), "utf8"));
    const kw = plans.configurations["3d_fullres"].architecture.arch_kwargs;
    kw.features_per_stage = kw.features_per_stage.map(() => 4);
    writeFileSync(path.join(pre, "nnUNetPlans.json"), JSON.stringify(plans));
    cpSync(path.join(TINY, "dataset.json"), path.join(pre, "dataset.json"));
    cpSync(path.join(TINY, "labelsTr"), path.join(pre, "gt_segmentations"), { recursive: true });
    const run = await train({
      dataset: "Dataset900_Tiny",
      configuration: "3d_fullres",
      fold: 0,
      numEpochs: 1,
      numIterationsPerEpoch: 2,
      numValIterationsPerEpoch: 1,
      seed: 5,
      numWorkers: 0,
      paths: { nnUNet_raw: path.join(root, "raw"), nnUNet_preprocessed: path.join(root, "pre"), nnUNet_results: path.join(root, "res") },
    });
    expect(Number.isFinite(run.logging.train_losses[0])).toBe(true);
    const summary = JSON.parse(readFileSync(path.join(run.outputFolder, "validation", "summary.json"), "utf8"));
    expect(summary.metric_per_case.length).toBeGreaterThan(0);
  }, 600_000);
});

describe("properties pickles", () => {
  it("round-trip region keys and refuse what is not allowed", () => {
    const props = {
      spacing: [1, 2.5, 3],
      shape_before_cropping: [4, 5, 6],
      bbox_used_for_cropping: [
        [0, 4],
        [0, 5],
        [0, 6],
      ] as [number, number][],
      shape_after_cropping_and_before_resampling: [4, 5, 6],
      sitk_stuff: { spacing: [3, 2.5, 1], origin: [0, -1, 2], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] },
      class_locations: {
        "(1, 2)": [[0, 1, 2, 3]],
        "(2,)": [],
        "3": [
          [0, 0, 0, 1],
          [0, 1, 1, 1],
        ],
      },
    };
    expect(parsePropertiesPickle(formatPropertiesPickle(props), "p.pkl")).toEqual(props);
    // GLOBAL os.system: refused by name, never run
    const evil = new Uint8Array([
      0x80,
      2,
      0x63,
      ...new TextEncoder().encode("os\nsystem\n"),
      0x58,
      4,
      0,
      0,
      0,
      ...new TextEncoder().encode("echo"),
      0x85,
      0x52,
      0x2e,
    ]);
    expect(() => parsePropertiesPickle(evil, "evil.pkl")).toThrow(InputError);
    expect(() => parsePropertiesPickle(evil, "evil.pkl")).toThrow(/evil\.pkl: .*os\.system/);
  });
});

// master's default layout: .b2nd written by master's own nnUNetDatasetBlosc2.save_case (test/fixtures/b2nd/make.py ran
// it once with python-blosc2; the files are committed, so no blosc2 is needed here)
describe("blosc2 .b2nd folders from nnU-Net master", () => {
  const B2 = path.resolve("test/fixtures/b2nd");
  it("reads master's preprocessed cases (data, seg, properties) exactly", async () => {
    const folder = path.join(B2, "tiny");
    expect(await listPreprocessedCases(folder)).toEqual(["Tiny_000", "Tiny_003"]);
    for (const k of ["Tiny_000", "Tiny_003"]) {
      const c = await loadPreprocessedCase(folder, k);
      for (const [arr, f] of [
        [c.data, `${k}.npy`],
        [c.seg!, `${k}_seg.npy`],
      ] as const) {
        const ref = readFileSync(path.join(UPSTREAM, f));
        const hl = ref.readUInt16LE(8);
        expect(Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength).equals(ref.subarray(10 + hl)), f).toBe(true);
      }
      expect(c.properties).toEqual(JSON.parse(readFileSync(path.join(UPSTREAM, `${k}_properties.json`), "utf8")));
      expect((await readCaseArrays(folder, k)).data).toEqual(c.data);
    }
  });

  it("decodes other dtypes, codecs (LZ4, LZ4HC, zlib, BloscLZ), filters, edge chunks and special chunks", () => {
    const syn = path.join(B2, "synthetic");
    for (const name of ["u8_edges", "i16_noshuffle", "f32_zlib", "f64_zeros", "i32_const"]) {
      const a = parseB2nd(new Uint8Array(readFileSync(path.join(syn, `${name}.b2nd`))), name);
      const r = parseNpy(new Uint8Array(readFileSync(path.join(syn, `${name}.npy`))));
      expect(a.shape, name).toEqual(r.shape);
      expect(a.dtype, name).toBe(r.dtype);
      expect(Array.from(a.data as ArrayLike<number>), name).toEqual(Array.from(r.data as ArrayLike<number>));
    }
  });

  it("refuses truncated and lying files with one line naming them", () => {
    const bytes = new Uint8Array(readFileSync(path.join(B2, "tiny", "Tiny_000.b2nd")));
    expect(() => parseB2nd(bytes.subarray(0, bytes.length - 200), "cut.b2nd")).toThrow(/^cut\.b2nd: /);
    expect(() => parseB2nd(bytes.subarray(0, 60), "cut.b2nd")).toThrow(InputError);
    const lie = bytes.slice();
    // the chunk header's nbytes claims 1 GiB
    const dv = new DataView(lie.buffer);
    const headerLen = dv.getInt32(0x0b);
    dv.setInt32(headerLen + 4, 1 << 30, true);
    expect(() => parseB2nd(lie, "lie.b2nd")).toThrow(/lie\.b2nd: invalid blosc2 chunk/);
  });
});
