// JavaScript stand-ins for the Python values a torch checkpoint holds. Plain JS values cover most of them (str, int,
// float, bool, None, list, dict with string keys); these classes and markers cover the ones JS has no twin for, so that
// a file read and written back keeps its Python types.

/** A Python tuple. An Array, so code that only reads it can treat it as one; the writer emits it as a tuple. */
export class PyTuple<T = unknown> extends Array<T> {
  /** A tuple of the given items (`new PyTuple(n)` would make n holes, like Array). */
  static ofItems<T>(items: readonly T[]): PyTuple<T> {
    const t = new PyTuple<T>();
    for (const x of items) t.push(x);
    return t;
  }
}

// A number the writer must emit as a Python float even when it is integral (`pyFloat(1)` -> `1.0`); one class shared
// with the Python-style JSON writer.
export { PyFloat, pyFloat } from "../../util/python-json.js";

/** Marks an object or Map as a `collections.OrderedDict` (non-enumerable, so it never shows up as a key). */
export const ORDERED_DICT: unique symbol = Symbol.for("nnssl-adapt.OrderedDict");

/**
 * Instance attributes Python attached to a dict subclass (torch's state dicts carry `_metadata` this way).
 * Kept out of the keys, and written back by the writer.
 */
export const PY_STATE: unique symbol = Symbol.for("nnssl-adapt.py-state");

/** Marks `obj` (a plain object or a Map) as an OrderedDict and returns it. */
export function orderedDict<T extends object>(obj: T): T {
  Object.defineProperty(obj, ORDERED_DICT, { value: true, enumerable: false, configurable: true });
  return obj;
}

export function isOrderedDict(obj: unknown): boolean {
  return typeof obj === "object" && obj !== null && (obj as { [ORDERED_DICT]?: boolean })[ORDERED_DICT] === true;
}

/** `torch.device("cuda:1")`. Checkpoints saved on a GPU keep the device they were trained on (nnssl's `init_args`). */
export class TorchDevice {
  constructor(
    readonly type: string,
    readonly index: number | null = null,
  ) {}
  toString(): string {
    return this.index === null ? this.type : `${this.type}:${this.index}`;
  }
}

/** A `torch.<dtype>` object stored as a value (e.g. `torch.float16`). */
export class TorchDtype {
  constructor(readonly name: string) {}
  toString(): string {
    return `torch.${this.name}`;
  }
}

/** A numpy array (C order). bool is a Uint8Array. */
export class NumpyArray {
  constructor(
    readonly dtype: string,
    readonly shape: number[],
    readonly data: Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array,
  ) {}
}

/** Sets a plain-object key without letting `__proto__` change the prototype (the keys come from an untrusted file). */
export function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}
