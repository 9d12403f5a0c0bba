// The only Python globals a checkpoint may name. Each maps to a JS function that builds plain data (a tensor view,
// a dict, a number); nothing here imports, evaluates or calls anything the file chooses. Anything else is refused
// with the global's name, like torch's own weights_only loader does.

import { CheckpointError } from "../../errors.js";
import { DTYPES, STORAGE_DTYPE, halfToFloat, TORCH_DTYPE_ATTR, type TorchDtypeName } from "./dtypes.js";
import { NumpyArray, PyTuple, TorchDevice, TorchDtype } from "./py-types.js";
import { TorchTensor, type TorchStorage } from "./tensor.js";
import { PyCallable, PyDict, describe, type Buildable } from "./unpickle.js";

/** `torch.FloatStorage` etc.: the storage class named in a persistent id. */
export class StorageType {
  constructor(
    readonly qualname: string,
    readonly dtype: TorchDtypeName,
  ) {}
}

/** A storage as loaded from the file; `bytes` keeps the raw form for `_rebuild_tensor_v3` reinterpretation. */
export interface LoadedStorage extends TorchStorage {
  dtype: TorchDtypeName;
  bytes: Uint8Array;
}

/** A class used only as an argument (numpy.ndarray, torch.Tensor); never callable. */
class ClassRef {
  constructor(readonly qualname: string) {}
}

/** numpy.dtype while unpickling; BUILD sets the byte order. */
export class NpDtype implements Buildable {
  byteorder = "=";
  constructor(readonly str: string) {}
  setState(state: unknown): void {
    if (Array.isArray(state) && typeof state[1] === "string") this.byteorder = state[1];
  }
}

/** numpy.ndarray created by `_reconstruct` and filled by BUILD. */
export class PendingNdarray implements Buildable {
  result: NumpyArray | null = null;
  constructor(private readonly file: string) {}
  setState(state: unknown): void {
    if (!Array.isArray(state) || state.length < 5) throw refuse(this.file, "numpy array state is malformed");
    const [, shape, dt, fortran, raw] = state as [unknown, unknown, unknown, unknown, unknown];
    if (!(dt instanceof NpDtype)) throw refuse(this.file, "numpy array state lacks a dtype");
    if (!(raw instanceof Uint8Array)) throw refuse(this.file, `numpy arrays of dtype ${dt.str} (Python objects) are not supported`);
    const dims = intList(shape, this.file, "numpy array shape");
    const kind = NP_KINDS[dt.str];
    if (!kind) throw refuse(this.file, `numpy dtype ${dt.str} is not supported`);
    const n = dims.reduce((a, b) => a * b, 1);
    if (raw.length !== n * kind.size) throw refuse(this.file, `numpy array of shape (${dims.join(", ")}) has ${raw.length} bytes`);
    if (fortran === true && dims.filter((d) => d > 1).length > 1) throw refuse(this.file, "Fortran-order numpy arrays are not supported");
    const copy = raw.slice();
    if (dt.byteorder === ">" && kind.size > 1) swapInPlace(copy, kind.size);
    this.result = new NumpyArray(kind.name, dims, new kind.ctor(copy.buffer, 0, n));
  }
}

type NpCtor = new (b: ArrayBufferLike, o: number, n: number) => NumpyArray["data"];
const NP_KINDS: Record<string, { name: string; size: number; ctor: NpCtor }> = {
  f8: { name: "float64", size: 8, ctor: Float64Array },
  f4: { name: "float32", size: 4, ctor: Float32Array },
  i8: { name: "int64", size: 8, ctor: BigInt64Array },
  u8: { name: "uint64", size: 8, ctor: BigUint64Array },
  i4: { name: "int32", size: 4, ctor: Int32Array },
  u4: { name: "uint32", size: 4, ctor: Uint32Array },
  i2: { name: "int16", size: 2, ctor: Int16Array },
  u2: { name: "uint16", size: 2, ctor: Uint16Array },
  i1: { name: "int8", size: 1, ctor: Int8Array },
  u1: { name: "uint8", size: 1, ctor: Uint8Array },
  b1: { name: "bool", size: 1, ctor: Uint8Array },
  f2: { name: "float16", size: 2, ctor: Uint16Array },
};

export function swapInPlace(b: Uint8Array, size: number): void {
  for (let i = 0; i + size <= b.length; i += size) b.subarray(i, i + size).reverse();
}

function refuse(file: string, problem: string): CheckpointError {
  return new CheckpointError(problem, { file });
}

function intList(v: unknown, file: string, what: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => Number.isSafeInteger(x) && (x as number) >= 0)) {
    throw refuse(file, `${what} is not a tuple of non-negative integers`);
  }
  return [...(v as number[])];
}

/** numpy scalar bytes -> number (bigint for 64-bit integers beyond 2^53, boolean for bool). */
function npScalar(dt: NpDtype, raw: Uint8Array, file: string): number | bigint | boolean {
  const kind = NP_KINDS[dt.str];
  if (!kind) throw refuse(file, `numpy scalar of dtype ${dt.str} is not supported`);
  if (raw.length !== kind.size) throw refuse(file, `numpy ${kind.name} scalar has ${raw.length} bytes`);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.length);
  const le = dt.byteorder !== ">";
  switch (kind.name) {
    case "float64":
      return dv.getFloat64(0, le);
    case "float32":
      return dv.getFloat32(0, le);
    case "float16":
      return halfToFloat(dv.getUint16(0, le));
    case "int64":
    case "uint64": {
      const v = kind.name === "int64" ? dv.getBigInt64(0, le) : dv.getBigUint64(0, le);
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    case "int32":
      return dv.getInt32(0, le);
    case "uint32":
      return dv.getUint32(0, le);
    case "int16":
      return dv.getInt16(0, le);
    case "uint16":
      return dv.getUint16(0, le);
    case "int8":
      return dv.getInt8(0);
    case "bool":
      return raw[0] !== 0;
    default:
      return dv.getUint8(0);
  }
}

export interface AllowlistContext {
  file: string;
  /** Every tensor built, so bounds can be checked once all storages are loaded (legacy files load them last). */
  tensors: TorchTensor[];
}

function rebuildTensor(ctx: AllowlistContext, storage: unknown, offset: unknown, size: unknown, stride: unknown, dtype?: TorchDtypeName): TorchTensor {
  if (typeof storage !== "object" || storage === null || !("bytes" in storage)) {
    throw refuse(ctx.file, `tensor storage is a ${describe(storage)}, not a storage from this file`);
  }
  let st = storage as LoadedStorage;
  if (dtype && dtype !== st.dtype) st = reinterpret(st, dtype, ctx.file);
  const shape = intList(size, ctx.file, "tensor size");
  const strides = intList(stride, ctx.file, "tensor stride");
  if (shape.length !== strides.length) throw refuse(ctx.file, `tensor size has ${shape.length} dimensions but stride ${strides.length}`);
  if (!Number.isSafeInteger(offset) || (offset as number) < 0) throw refuse(ctx.file, "tensor storage offset is not a non-negative integer");
  const t = new TorchTensor(st.dtype, shape, strides, offset as number, st);
  ctx.tensors.push(t);
  return t;
}

const reinterpretCache = new WeakMap<LoadedStorage, Map<TorchDtypeName, LoadedStorage>>();
function reinterpret(st: LoadedStorage, dtype: TorchDtypeName, file: string): LoadedStorage {
  let m = reinterpretCache.get(st);
  if (!m) reinterpretCache.set(st, (m = new Map()));
  const hit = m.get(dtype);
  if (hit) return hit;
  const { size, ctor } = DTYPES[dtype];
  if (st.bytes.length % size) throw refuse(file, `storage ${st.key} of ${st.bytes.length} bytes cannot hold ${dtype} values`);
  const b = st.bytes.byteOffset % size === 0 ? st.bytes : st.bytes.slice();
  const out: LoadedStorage = { key: st.key, dtype, bytes: st.bytes, data: new ctor(b.buffer, b.byteOffset, b.length / size) };
  m.set(dtype, out);
  return out;
}

function asParameter(t: unknown, requiresGrad: unknown, file: string): TorchTensor {
  if (!(t instanceof TorchTensor)) throw refuse(file, `nn.Parameter wraps a ${describe(t)}, not a tensor`);
  t.isParameter = true;
  t.requiresGrad = requiresGrad === true;
  return t;
}

function toBytes(s: unknown, encoding: unknown, file: string): Uint8Array {
  if (typeof s !== "string") throw refuse(file, `_codecs.encode of a ${describe(s)}`);
  const enc = String(encoding ?? "utf-8")
    .toLowerCase()
    .replace(/[-_]/g, "");
  if (enc === "latin1" || enc === "iso88591") {
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 255) throw refuse(file, "_codecs.encode: character outside latin-1");
      out[i] = c;
    }
    return out;
  }
  if (enc === "utf8") return new TextEncoder().encode(s);
  throw refuse(file, `_codecs.encode with encoding ${String(encoding)} is not supported`);
}

/** The allowlist as a `findGlobal` hook. */
export function makeFindGlobal(ctx: AllowlistContext): (module: string, name: string) => unknown {
  const { file } = ctx;
  const fns: Record<string, (args: unknown[]) => unknown> = {
    "torch._utils._rebuild_tensor_v2": (a) => rebuildTensor(ctx, a[0], a[1], a[2], a[3]),
    "torch._utils._rebuild_tensor_v3": (a) => {
      const dt = a[6];
      if (!(dt instanceof TorchDtype) || !TORCH_DTYPE_ATTR.has(dt.name)) throw refuse(file, `tensor dtype ${String(dt)} is not supported`);
      return rebuildTensor(ctx, a[0], a[1], a[2], a[3], TORCH_DTYPE_ATTR.get(dt.name));
    },
    "torch._utils._rebuild_parameter": (a) => asParameter(a[0], a[1], file),
    "torch._utils._rebuild_parameter_with_state": (a) => asParameter(a[0], a[1], file),
    "torch._tensor._rebuild_from_type_v2": (a) => {
      const [func, , args] = a;
      if (!(func instanceof PyCallable) || !Array.isArray(args)) throw refuse(file, "malformed _rebuild_from_type_v2 call");
      return func.call(args);
    },
    "torch.device": (a) => {
      const [t, i] = a;
      if (typeof t !== "string") throw refuse(file, "torch.device without a device string");
      const m = /^([a-z_]+)(?::(\d+))?$/.exec(t);
      if (!m) throw refuse(file, `invalid torch.device ${JSON.stringify(t)}`);
      return new TorchDevice(m[1]!, m[2] !== undefined ? Number(m[2]) : typeof i === "number" ? i : null);
    },
    "torch.Size": (a) => PyTuple.ofItems(intList(a[0] ?? [], file, "torch.Size")),
    "collections.OrderedDict": (a) => {
      const d = new PyDict();
      d.ordered = true;
      const items = a[0];
      if (Array.isArray(items)) {
        for (const kv of items) {
          if (!Array.isArray(kv) || kv.length !== 2) throw refuse(file, "OrderedDict items are not pairs");
          d.set(kv[0], kv[1]);
        }
      }
      return d;
    },
    "_codecs.encode": (a) => toBytes(a[0], a[1], file),
    "numpy.dtype": (a) => {
      if (typeof a[0] !== "string") throw refuse(file, "numpy.dtype without a type string");
      return new NpDtype(a[0]);
    },
    "numpy.core.multiarray.scalar": (a) => {
      if (!(a[0] instanceof NpDtype) || !(a[1] instanceof Uint8Array)) throw refuse(file, "malformed numpy scalar");
      return npScalar(a[0], a[1], file);
    },
    "numpy.core.multiarray._reconstruct": (a) => {
      if (!(a[0] instanceof ClassRef) || a[0].qualname !== "numpy.ndarray") throw refuse(file, `_reconstruct of ${describe(a[0])}`);
      return new PendingNdarray(file);
    },
    "builtins.set": (a) => new Set(Array.isArray(a[0]) ? a[0] : []),
    "builtins.frozenset": (a) => new Set(Array.isArray(a[0]) ? a[0] : []),
    "builtins.bytearray": (a) => (a[0] === undefined ? new Uint8Array(0) : a[0] instanceof Uint8Array ? a[0].slice() : toBytes(a[0], a[1], file)),
  };
  // numpy 2 moved numpy.core to numpy._core; Python 2 pickles (and protocol 2 from Python 3) name builtins __builtin__.
  for (const k of Object.keys(fns)) {
    if (k.startsWith("numpy.core.")) fns[k.replace("numpy.core.", "numpy._core.")] = fns[k]!;
    if (k.startsWith("builtins.")) fns[k.replace("builtins.", "__builtin__.")] = fns[k]!;
  }
  const newable = new Set(["collections.OrderedDict", "builtins.set", "builtins.frozenset", "__builtin__.set", "__builtin__.frozenset"]);
  const classes = new Set(["numpy.ndarray", "torch.Tensor", "torch.nn.parameter.Parameter"]);

  return (module, name) => {
    const q = `${module}.${name}`;
    const fn = fns[q];
    if (fn) return new PyCallable(q, fn, newable.has(q));
    if (module === "torch") {
      const sd = STORAGE_DTYPE.get(name);
      if (sd) return new StorageType(q, sd);
      if (name === "UntypedStorage") return new StorageType(q, "uint8");
      const dt = TORCH_DTYPE_ATTR.get(name);
      if (dt) return new TorchDtype(name);
      if (/Storage$/.test(name)) throw refuse(file, `refusing to load: tensors of type ${q} are not supported`);
    }
    if (classes.has(q)) return new ClassRef(q);
    throw refuse(file, `refusing to load: the pickle asks for ${q}, which is not an allowed type`);
  };
}
