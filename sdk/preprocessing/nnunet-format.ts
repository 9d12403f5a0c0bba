// Preprocessed cases in the layout Python nnU-Net master's numpy dataset class (nnUNetDatasetNumpy in
// nnunetv2/training/dataloading/nnunet_dataset.py) reads and writes: `<case>.npz` holding `data` (float32, C x Z x Y x X)
// and `seg` (int16, 1 x Z x Y x X), plus `<case>.pkl` with the properties dict. Master's infer_dataset_class picks
// that class for a folder whose only ending besides .pkl/.npy is .npz. The arrays are stored uncompressed, as
// np.savez writes them (np.load reads both); the pickle has the Python types upstream's preprocessor produces
// (tuples for shapes and SimpleITK geometry, numpy int64 arrays for class_locations, keyed by label int or region tuple).

import { promises as fsp } from "node:fs";
import { InputError, NnsslAdaptError } from "../errors.js";
import { formatNpy, parseNpy, type NpyArray } from "../io/npy.js";
import { makeFindGlobal, NpDtype, PendingNdarray } from "../io/torch/allowlist.js";
import { finalize } from "../io/torch/finalize.js";
import { pickleForTorch } from "../io/torch/pickle-write.js";
import { NumpyArray, PyTuple, pyFloat } from "../io/torch/py-types.js";
import { PyCallable, unpickle } from "../io/torch/unpickle.js";
import { ZipArchive } from "../io/torch/zip-read.js";
import { zipChunks } from "../io/torch/zip-write.js";
import type { PreprocessedProperties } from "./default-preprocessor.js";

/** How a preprocessed folder stores its cases: ours (.npy, _seg.npy, .json) or master's numpy class (.npz + .pkl). */
export type PreprocessedFormat = "npy" | "npz";
export const PREPROCESSED_FORMATS: readonly PreprocessedFormat[] = ["npy", "npz"];

/** `<case>.npz` as np.savez writes it: one .npy member per array, stored. */
export function formatNpz(arrays: Record<string, NpyArray>): Uint8Array[] {
  return zipChunks(Object.entries(arrays).map(([name, a]) => ({ name: `${name}.npy`, data: formatNpy(a) })));
}

/** The arrays of a .npz (stored or deflated, as np.savez / np.savez_compressed write it), by name without `.npy`. */
export function parseNpz(bytes: Uint8Array, file: string): Map<string, NpyArray> {
  let zip: ZipArchive;
  try {
    zip = new ZipArchive(bytes, file);
  } catch (err) {
    throw new InputError(`not a readable .npz (${(err as Error).message.replace(`${file}: `, "")})`, { file, cause: err });
  }
  const out = new Map<string, NpyArray>();
  for (const name of zip.entries.keys()) {
    if (!name.endsWith(".npy")) continue;
    // a copy, so the typed array owns aligned memory (parseNpy may view its input)
    out.set(name.slice(0, -4), parseNpy(zip.read(name).slice(), `${file}:${name}`));
  }
  return out;
}

const isRegionKey = (k: string) => /^\(\s*-?\d+\s*(,\s*-?\d+\s*)*,?\s*\)$/.test(k);

/** Our properties (JSON types) as the Python objects upstream's preprocessor pickles. */
function toPython(p: PreprocessedProperties): Record<string, unknown> {
  const floats = (v: readonly number[]) => v.map((x) => pyFloat(x));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) {
    if (k === "sitk_stuff" && v) {
      const s = v as NonNullable<PreprocessedProperties["sitk_stuff"]>;
      out[k] = { spacing: PyTuple.ofItems(floats(s.spacing)), origin: PyTuple.ofItems(floats(s.origin)), direction: PyTuple.ofItems(floats(s.direction)) };
    } else if (k === "nibabel_stuff" && v) {
      const nib: Record<string, unknown> = {};
      for (const [name, m] of Object.entries(v as Record<string, number[][]>)) {
        nib[name] = new NumpyArray("float64", [m.length, m[0]?.length ?? 0], Float64Array.from(m.flat()));
      }
      out[k] = nib;
    } else if (k === "spacing") out[k] = floats(v as number[]);
    else if (k === "shape_before_cropping" || k === "shape_after_cropping_and_before_resampling") out[k] = PyTuple.ofItems(v as number[]);
    else if (k === "class_locations" && v) {
      const m = new Map<unknown, unknown>();
      for (const [label, locs] of Object.entries(v as Record<string, number[][]>)) {
        const key = isRegionKey(label)
          ? PyTuple.ofItems(
              label
                .replace(/[()\s]/g, "")
                .split(",")
                .filter(Boolean)
                .map(Number),
            )
          : Number(label);
        if (typeof key === "number" && !Number.isInteger(key)) {
          throw new InputError(`class_locations key ${JSON.stringify(label)} is neither a label nor a region tuple`);
        }
        m.set(
          key,
          new NumpyArray(
            "int64",
            [locs.length, 4],
            BigInt64Array.from(locs.flat(), (x) => BigInt(x)),
          ),
        );
      }
      out[k] = m;
    } else out[k] = v;
  }
  return out;
}

/** `<case>.pkl`: the properties pickled (protocol 2) with upstream's Python types. */
export function formatPropertiesPickle(p: PreprocessedProperties): Uint8Array {
  return pickleForTorch(toPython(p)).pickle;
}

/** Python values from finalize() back to our JSON types (tuples -> arrays, numpy arrays -> nested lists). */
function toJson(v: unknown, file: string): unknown {
  if (v instanceof NumpyArray) {
    const flat = Array.from(v.data as ArrayLike<number | bigint>, Number);
    if (v.shape.length === 0) return flat[0];
    if (v.shape.length === 1) return flat;
    if (v.shape.length !== 2) throw new InputError(`properties hold a ${v.shape.length}-d numpy array; only 1-d and 2-d are expected`, { file });
    const [r, c] = v.shape as [number, number];
    return Array.from({ length: r }, (_, i) => flat.slice(i * c, (i + 1) * c));
  }
  if (typeof v === "bigint") return Number(v);
  if (Array.isArray(v)) return v.map((x) => toJson(x, file));
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v) {
      // int labels and region tuples as our JSON keys them ("1", "(1, 2)")
      const key = k instanceof PyTuple || Array.isArray(k) ? (k.length === 1 ? `(${k[0]},)` : `(${k.join(", ")})`) : String(k);
      o[key] = toJson(x, file);
    }
    return o;
  }
  if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = toJson(x, file);
    return o;
  }
  return v;
}

/**
 * Reads `<case>.pkl` without running code (the torch loader's allowlist: builtins, numpy arrays and scalars; numpy's
 * protocol-5 `_frombuffer` too) and returns the properties in our JSON types.
 */
export function parsePropertiesPickle(bytes: Uint8Array, file: string): PreprocessedProperties {
  const base = makeFindGlobal({ file, tensors: [] });
  const fromBuffer = (a: unknown[]) => {
    // numpy's ndarray.__reduce_ex__(5): _frombuffer(buffer, dtype, shape, order)
    const [buf, dt, shape, order] = a;
    const p = new PendingNdarray(file);
    p.setState([1, shape, dt instanceof NpDtype ? dt : new NpDtype(String(dt)), order === "F", buf]);
    return p;
  };
  const findGlobal = (module: string, name: string): unknown => {
    if ((module === "numpy.core.numeric" || module === "numpy._core.numeric") && name === "_frombuffer") return new PyCallable(`${module}.${name}`, fromBuffer);
    return base(module, name);
  };
  let value: unknown;
  try {
    const persistentLoad = () => {
      throw new InputError("unexpected persistent id in a properties pickle", { file });
    };
    value = finalize(unpickle(bytes, file, { findGlobal, persistentLoad }).value, file);
  } catch (err) {
    if (err instanceof NnsslAdaptError && !(err instanceof InputError)) throw new InputError(err.message.replace(`${file}: `, ""), { file, cause: err });
    throw err;
  }
  if (!value || typeof value !== "object" || Array.isArray(value) || value instanceof Map) {
    throw new InputError("the properties pickle does not hold a dict with string keys", { file });
  }
  return toJson(value, file) as PreprocessedProperties;
}

export async function readPropertiesPickle(file: string): Promise<PreprocessedProperties> {
  return parsePropertiesPickle(await readBytes(file), file);
}

export async function readNpzFile(file: string): Promise<Map<string, NpyArray>> {
  return parseNpz(await readBytes(file), file);
}

async function readBytes(file: string): Promise<Uint8Array> {
  try {
    const b = await fsp.readFile(file);
    return new Uint8Array(b.buffer, b.byteOffset, b.length);
  } catch (err) {
    throw new InputError((err as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (err as Error).message, { file, cause: err });
  }
}
