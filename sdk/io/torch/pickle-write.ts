// A protocol-2 pickler emitting only the opcodes torch.save itself emits, so torch's weights_only loader (even 1.13's)
// accepts the result. Tensors become `_rebuild_tensor_v2(persistent storage id, ...)` calls; each storage is
// registered once, however many tensors view it.

import { DTYPES } from "./dtypes.js";
import { NumpyArray, ORDERED_DICT, PY_STATE, PyFloat, PyTuple, TorchDevice, TorchDtype } from "./py-types.js";
import { TorchTensor, type TorchStorage } from "./tensor.js";

class ByteSink {
  buf = new Uint8Array(1 << 16);
  dv = new DataView(this.buf.buffer);
  n = 0;
  private grow(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }
  op(...b: number[]): void {
    this.grow(b.length);
    for (const x of b) this.buf[this.n++] = x;
  }
  u16(v: number): void { this.grow(2); this.dv.setUint16(this.n, v, true); this.n += 2; }
  u32(v: number): void { this.grow(4); this.dv.setUint32(this.n, v, true); this.n += 4; }
  i32(v: number): void { this.grow(4); this.dv.setInt32(this.n, v, true); this.n += 4; }
  f64be(v: number): void { this.grow(8); this.dv.setFloat64(this.n, v, false); this.n += 8; }
  bytes(b: Uint8Array): void { this.grow(b.length); this.buf.set(b, this.n); this.n += b.length; }
}

const enc = new TextEncoder();
const MARK = 0x28, STOP = 0x2e, BININT = 0x4a, BININT1 = 0x4b, BININT2 = 0x4d, LONG1 = 0x8a, LONG4 = 0x8b, BINFLOAT = 0x47;
const NONE = 0x4e, NEWTRUE = 0x88, NEWFALSE = 0x89, BINUNICODE = 0x58, EMPTY_TUPLE = 0x29, TUPLE1 = 0x85, TUPLE2 = 0x86;
const TUPLE3 = 0x87, TUPLE = 0x74, EMPTY_LIST = 0x5d, APPENDS = 0x65, EMPTY_DICT = 0x7d, SETITEMS = 0x75, BINPUT = 0x71;
const LONG_BINPUT = 0x72, BINGET = 0x68, LONG_BINGET = 0x6a, GLOBAL = 0x63, REDUCE = 0x52, BUILD = 0x62, BINPERSID = 0x51;
const BATCH = 1000;
const NP_CODES: Record<string, string> = {
  float64: "f8", float32: "f4", float16: "f2", int64: "i8", uint64: "u8", int32: "i4", uint32: "u4", int16: "i2", uint16: "u2",
  int8: "i1", uint8: "u1", bool: "b1",
};

export interface PickledCheckpoint {
  pickle: Uint8Array;
  /** Storages in key order ("0", "1", ...). */
  storages: TorchStorage[];
}

/** Pickles `value` for torch.save's zip layout. */
export function pickleForTorch(value: unknown): PickledCheckpoint {
  const s = new ByteSink();
  const memo = new Map<unknown, number>();
  const storageKeys = new Map<TorchStorage, string>();
  const storages: TorchStorage[] = [];

  const put = (obj: unknown): void => {
    const i = memo.size;
    memo.set(obj, i);
    if (i < 256) s.op(BINPUT, i);
    else { s.op(LONG_BINPUT); s.u32(i); }
  };
  const get = (obj: unknown): boolean => {
    const i = memo.get(obj);
    if (i === undefined) return false;
    if (i < 256) s.op(BINGET, i);
    else { s.op(LONG_BINGET); s.u32(i); }
    return true;
  };
  const str = (v: string): void => {
    const b = enc.encode(v);
    s.op(BINUNICODE);
    s.u32(b.length);
    s.bytes(b);
  };
  const global = (module: string, name: string): void => {
    const key = `global:${module}.${name}`;
    if (get(key)) return;
    s.op(GLOBAL);
    s.bytes(enc.encode(`${module}\n${name}\n`));
    put(key);
  };
  const int = (v: number | bigint): void => {
    if (typeof v === "number" && v >= 0 && v < 256) s.op(BININT1, v);
    else if (typeof v === "number" && v >= 0 && v < 65536) { s.op(BININT2); s.u16(v); }
    else if (v >= -(2 ** 31) && v < 2 ** 31) { s.op(BININT); s.i32(Number(v)); }
    else {
      // Little-endian two's complement with the fewest bytes, as Python's encode_long.
      let b = BigInt(v);
      const out: number[] = [];
      for (;;) {
        const byte = Number(b & 0xffn);
        out.push(byte);
        b >>= 8n;
        if ((b === 0n && !(byte & 0x80)) || (b === -1n && byte & 0x80)) break;
      }
      if (out.length < 256) s.op(LONG1, out.length);
      else { s.op(LONG4); s.u32(out.length); }
      s.op(...out);
    }
  };
  const tuple = (items: readonly unknown[]): void => {
    if (items.length === 0) return s.op(EMPTY_TUPLE);
    if (items.length > 3) s.op(MARK);
    for (const x of items) save(x);
    s.op(items.length === 1 ? TUPLE1 : items.length === 2 ? TUPLE2 : items.length === 3 ? TUPLE3 : TUPLE);
  };
  const setItems = (entries: Iterable<[unknown, unknown]>): void => {
    let batch: [unknown, unknown][] = [];
    const flush = () => {
      if (!batch.length) return;
      s.op(MARK);
      for (const [k, v] of batch) { save(k); save(v); }
      s.op(SETITEMS);
      batch = [];
    };
    for (const e of entries) {
      batch.push(e);
      if (batch.length === BATCH) flush();
    }
    flush();
  };
  const storageKey = (st: TorchStorage): string => {
    let k = storageKeys.get(st);
    if (k === undefined) {
      k = String(storages.length);
      storageKeys.set(st, k);
      storages.push(st);
    }
    return k;
  };
  const tensor = (t: TorchTensor): void => {
    if (t.isParameter) global("torch._utils", "_rebuild_parameter");
    global("torch._utils", "_rebuild_tensor_v2");
    s.op(MARK);
    s.op(MARK);
    str("storage");
    global("torch", DTYPES[t.dtype].storage);
    str(storageKey(t.storage));
    str("cpu");
    int(t.storage.data.length);
    s.op(TUPLE, BINPERSID);
    int(t.storageOffset);
    tuple(t.shape);
    tuple(t.stride);
    s.op(t.requiresGrad && !t.isParameter ? NEWTRUE : NEWFALSE);
    global("collections", "OrderedDict");
    s.op(EMPTY_TUPLE, REDUCE);
    s.op(TUPLE, REDUCE);
    if (t.isParameter) {
      s.op(t.requiresGrad ? NEWTRUE : NEWFALSE);
      global("collections", "OrderedDict");
      s.op(EMPTY_TUPLE, REDUCE, TUPLE3, REDUCE);
    }
    put(t);
  };

  const bytesObj = (b: Uint8Array): void => {
    // Protocol 2 has no bytes opcode; Python 3 writes _codecs.encode(<latin-1 str>, "latin1").
    global("_codecs", "encode");
    let latin = "";
    for (let i = 0; i < b.length; i += 8192) latin += String.fromCharCode(...b.subarray(i, i + 8192));
    str(latin);
    str("latin1");
    s.op(TUPLE2, REDUCE);
  };
  const numpyArray = (a: NumpyArray): void => {
    // What numpy's ndarray.__reduce__ produces: _reconstruct(ndarray, (0,), b"b") then BUILD with the array state.
    const code = NP_CODES[a.dtype];
    if (!code) throw new TypeError(`formatTorch: numpy dtype ${a.dtype} cannot be written`);
    global("numpy.core.multiarray", "_reconstruct");
    global("numpy", "ndarray");
    tuple([0]);
    bytesObj(new Uint8Array([0x62]));
    s.op(TUPLE3, REDUCE);
    put(a);
    s.op(MARK);
    int(1);
    tuple(a.shape);
    global("numpy", "dtype");
    str(code);
    s.op(NEWFALSE, NEWTRUE, TUPLE3, REDUCE);
    s.op(MARK);
    int(3);
    str(a.data.BYTES_PER_ELEMENT > 1 ? "<" : "|");
    s.op(NONE, NONE, NONE);
    int(-1);
    int(-1);
    int(0);
    s.op(TUPLE, BUILD);
    s.op(NEWFALSE);
    bytesObj(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength));
    s.op(TUPLE, BUILD);
  };

  const save = (v: unknown): void => {
    if (v === null || v === undefined) return s.op(NONE);
    if (v === true) return s.op(NEWTRUE);
    if (v === false) return s.op(NEWFALSE);
    if (typeof v === "number") {
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) return int(v);
      s.op(BINFLOAT);
      return s.f64be(v);
    }
    if (typeof v === "bigint") return int(v);
    if (typeof v === "string") return str(v);
    if (v instanceof PyFloat) { s.op(BINFLOAT); return s.f64be(v.value); }
    if (typeof v !== "object") throw new TypeError(`formatTorch: cannot write a ${typeof v}`);
    if (get(v)) return;
    if (v instanceof TorchTensor) return tensor(v);
    if (v instanceof PyTuple) { tuple(v); return put(v); }
    if (Array.isArray(v)) {
      s.op(EMPTY_LIST);
      put(v);
      for (let i = 0; i < v.length; i += BATCH) {
        s.op(MARK);
        for (const x of v.slice(i, i + BATCH)) save(x);
        s.op(APPENDS);
      }
      return;
    }
    if (v instanceof TorchDevice) {
      global("torch", "device");
      tuple(v.index === null ? [v.type] : [v.type, v.index]);
      s.op(REDUCE);
      return put(v);
    }
    if (v instanceof TorchDtype) return global("torch", v.name);
    if (v instanceof Uint8Array) {
      bytesObj(v);
      return put(v);
    }
    if (v instanceof Set) {
      global("__builtin__", "set");
      s.op(EMPTY_LIST);
      if (v.size) { s.op(MARK); for (const x of v) save(x); s.op(APPENDS); }
      s.op(TUPLE1, REDUCE);
      return put(v);
    }
    if (v instanceof NumpyArray) return numpyArray(v);
    const isMap = v instanceof Map;
    if (!isMap && Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null) {
      throw new TypeError(`formatTorch: cannot write a ${(v as object).constructor?.name ?? "object"}`);
    }
    const ordered = (v as { [ORDERED_DICT]?: boolean })[ORDERED_DICT] === true;
    if (ordered) {
      global("collections", "OrderedDict");
      s.op(EMPTY_TUPLE, REDUCE);
    } else {
      s.op(EMPTY_DICT);
    }
    put(v);
    setItems(isMap ? (v as Map<unknown, unknown>).entries() : Object.entries(v));
    const state = (v as { [PY_STATE]?: unknown })[PY_STATE];
    if (state !== undefined) {
      save(state);
      s.op(BUILD);
    }
  };

  s.op(0x80, 2);
  save(value);
  s.op(STOP);
  return { pickle: s.buf.slice(0, s.n), storages };
}
