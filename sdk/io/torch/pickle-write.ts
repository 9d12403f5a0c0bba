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
  u16(v: number): void {
    this.grow(2);
    this.dv.setUint16(this.n, v, true);
    this.n += 2;
  }
  u32(v: number): void {
    this.grow(4);
    this.dv.setUint32(this.n, v, true);
    this.n += 4;
  }
  i32(v: number): void {
    this.grow(4);
    this.dv.setInt32(this.n, v, true);
    this.n += 4;
  }
  f64be(v: number): void {
    this.grow(8);
    this.dv.setFloat64(this.n, v, false);
    this.n += 8;
  }
  bytes(b: Uint8Array): void {
    this.grow(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
  }
}

const enc = new TextEncoder();
const MARK = 0x28,
  STOP = 0x2e,
  BININT = 0x4a,
  BININT1 = 0x4b,
  BININT2 = 0x4d,
  LONG1 = 0x8a,
  LONG4 = 0x8b,
  BINFLOAT = 0x47;
const NONE = 0x4e,
  NEWTRUE = 0x88,
  NEWFALSE = 0x89,
  BINUNICODE = 0x58,
  EMPTY_TUPLE = 0x29,
  TUPLE1 = 0x85,
  TUPLE2 = 0x86;
const TUPLE3 = 0x87,
  TUPLE = 0x74,
  EMPTY_LIST = 0x5d,
  APPENDS = 0x65,
  EMPTY_DICT = 0x7d,
  SETITEMS = 0x75,
  BINPUT = 0x71;
const LONG_BINPUT = 0x72,
  BINGET = 0x68,
  LONG_BINGET = 0x6a,
  GLOBAL = 0x63,
  REDUCE = 0x52,
  BUILD = 0x62,
  BINPERSID = 0x51;
const BATCH = 1000;
const NP_CODES: Record<string, string> = {
  float64: "f8",
  float32: "f4",
  float16: "f2",
  int64: "i8",
  uint64: "u8",
  int32: "i4",
  uint32: "u4",
  int16: "i2",
  uint16: "u2",
  int8: "i1",
  uint8: "u1",
  bool: "b1",
};

export interface PickledCheckpoint {
  pickle: Uint8Array;
  /** Storages in key order ("0", "1", ...). */
  storages: TorchStorage[];
}

/**
 * Pickles one value for torch.save's zip layout; the writing counterpart of Unpickler (unpickle.ts). The memo and the
 * storage table live for one dump, so a Pickler is used once.
 * @example const { pickle, storages } = new Pickler().dump({ state_dict })
 */
export class Pickler {
  private readonly s = new ByteSink();
  private readonly memo = new Map<unknown, number>();
  private readonly storageKeys = new Map<TorchStorage, string>();
  private readonly storages: TorchStorage[] = [];
  private used = false;

  /** The pickle program (protocol 2, ending in STOP) and the storages it references by key. */
  dump(value: unknown): PickledCheckpoint {
    if (this.used) throw new Error("Pickler.dump: a Pickler writes one value; create a new one");
    this.used = true;
    this.s.op(0x80, 2);
    this.save(value);
    this.s.op(STOP);
    return { pickle: this.s.buf.slice(0, this.s.n), storages: this.storages };
  }

  private put(obj: unknown): void {
    const i = this.memo.size;
    this.memo.set(obj, i);
    if (i < 256) this.s.op(BINPUT, i);
    else {
      this.s.op(LONG_BINPUT);
      this.s.u32(i);
    }
  }

  private get(obj: unknown): boolean {
    const i = this.memo.get(obj);
    if (i === undefined) return false;
    if (i < 256) this.s.op(BINGET, i);
    else {
      this.s.op(LONG_BINGET);
      this.s.u32(i);
    }
    return true;
  }

  private str(v: string): void {
    const b = enc.encode(v);
    this.s.op(BINUNICODE);
    this.s.u32(b.length);
    this.s.bytes(b);
  }

  private global(module: string, name: string): void {
    const key = `global:${module}.${name}`;
    if (this.get(key)) return;
    this.s.op(GLOBAL);
    this.s.bytes(enc.encode(`${module}\n${name}\n`));
    this.put(key);
  }

  private int(v: number | bigint): void {
    const s = this.s;
    if (typeof v === "number" && v >= 0 && v < 256) s.op(BININT1, v);
    else if (typeof v === "number" && v >= 0 && v < 65536) {
      s.op(BININT2);
      s.u16(v);
    } else if (v >= -(2 ** 31) && v < 2 ** 31) {
      s.op(BININT);
      s.i32(Number(v));
    } else {
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
      else {
        s.op(LONG4);
        s.u32(out.length);
      }
      s.op(...out);
    }
  }

  private tuple(items: readonly unknown[]): void {
    if (items.length === 0) return this.s.op(EMPTY_TUPLE);
    if (items.length > 3) this.s.op(MARK);
    for (const x of items) this.save(x);
    this.s.op(items.length === 1 ? TUPLE1 : items.length === 2 ? TUPLE2 : items.length === 3 ? TUPLE3 : TUPLE);
  }

  private setItems(entries: Iterable<[unknown, unknown]>): void {
    let batch: [unknown, unknown][] = [];
    const flush = (): void => {
      if (!batch.length) return;
      this.s.op(MARK);
      for (const [k, v] of batch) {
        this.save(k);
        this.save(v);
      }
      this.s.op(SETITEMS);
      batch = [];
    };
    for (const e of entries) {
      batch.push(e);
      if (batch.length === BATCH) flush();
    }
    flush();
  }

  /** The persistent id of a storage: registered once, however many tensors view it. */
  private storageKey(st: TorchStorage): string {
    let k = this.storageKeys.get(st);
    if (k === undefined) {
      k = String(this.storages.length);
      this.storageKeys.set(st, k);
      this.storages.push(st);
    }
    return k;
  }

  private tensor(t: TorchTensor): void {
    const s = this.s;
    if (t.isParameter) this.global("torch._utils", "_rebuild_parameter");
    this.global("torch._utils", "_rebuild_tensor_v2");
    s.op(MARK);
    s.op(MARK);
    this.str("storage");
    this.global("torch", DTYPES[t.dtype].storage);
    this.str(this.storageKey(t.storage));
    this.str("cpu");
    this.int(t.storage.data.length);
    s.op(TUPLE, BINPERSID);
    this.int(t.storageOffset);
    this.tuple(t.shape);
    this.tuple(t.stride);
    s.op(t.requiresGrad && !t.isParameter ? NEWTRUE : NEWFALSE);
    this.global("collections", "OrderedDict");
    s.op(EMPTY_TUPLE, REDUCE);
    s.op(TUPLE, REDUCE);
    if (t.isParameter) {
      s.op(t.requiresGrad ? NEWTRUE : NEWFALSE);
      this.global("collections", "OrderedDict");
      s.op(EMPTY_TUPLE, REDUCE, TUPLE3, REDUCE);
    }
    this.put(t);
  }

  private bytesObj(b: Uint8Array): void {
    // Protocol 2 has no bytes opcode; Python 3 writes _codecs.encode(<latin-1 str>, "latin1").
    this.global("_codecs", "encode");
    let latin = "";
    for (let i = 0; i < b.length; i += 8192) latin += String.fromCharCode(...b.subarray(i, i + 8192));
    this.str(latin);
    this.str("latin1");
    this.s.op(TUPLE2, REDUCE);
  }

  private numpyArray(a: NumpyArray): void {
    // What numpy's ndarray.__reduce__ produces: _reconstruct(ndarray, (0,), b"b") then BUILD with the array state.
    const s = this.s;
    const code = NP_CODES[a.dtype];
    if (!code) throw new TypeError(`formatTorch: numpy dtype ${a.dtype} cannot be written`);
    this.global("numpy.core.multiarray", "_reconstruct");
    this.global("numpy", "ndarray");
    this.tuple([0]);
    this.bytesObj(new Uint8Array([0x62]));
    s.op(TUPLE3, REDUCE);
    this.put(a);
    s.op(MARK);
    this.int(1);
    this.tuple(a.shape);
    this.global("numpy", "dtype");
    this.str(code);
    s.op(NEWFALSE, NEWTRUE, TUPLE3, REDUCE);
    s.op(MARK);
    this.int(3);
    this.str(a.data.BYTES_PER_ELEMENT > 1 ? "<" : "|");
    s.op(NONE, NONE, NONE);
    this.int(-1);
    this.int(-1);
    this.int(0);
    s.op(TUPLE, BUILD);
    s.op(NEWFALSE);
    this.bytesObj(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength));
    s.op(TUPLE, BUILD);
  }

  private save(v: unknown): void {
    const s = this.s;
    if (v === null || v === undefined) return s.op(NONE);
    if (v === true) return s.op(NEWTRUE);
    if (v === false) return s.op(NEWFALSE);
    if (typeof v === "number") {
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) return this.int(v);
      s.op(BINFLOAT);
      return s.f64be(v);
    }
    if (typeof v === "bigint") return this.int(v);
    if (typeof v === "string") return this.str(v);
    if (v instanceof PyFloat) {
      s.op(BINFLOAT);
      return s.f64be(v.value);
    }
    if (typeof v !== "object") throw new TypeError(`formatTorch: cannot write a ${typeof v}`);
    if (this.get(v)) return;
    if (v instanceof TorchTensor) return this.tensor(v);
    if (v instanceof PyTuple) {
      this.tuple(v);
      return this.put(v);
    }
    if (Array.isArray(v)) {
      s.op(EMPTY_LIST);
      this.put(v);
      for (let i = 0; i < v.length; i += BATCH) {
        s.op(MARK);
        for (const x of v.slice(i, i + BATCH)) this.save(x);
        s.op(APPENDS);
      }
      return;
    }
    if (v instanceof TorchDevice) {
      this.global("torch", "device");
      this.tuple(v.index === null ? [v.type] : [v.type, v.index]);
      s.op(REDUCE);
      return this.put(v);
    }
    if (v instanceof TorchDtype) return this.global("torch", v.name);
    if (v instanceof Uint8Array) {
      this.bytesObj(v);
      return this.put(v);
    }
    if (v instanceof Set) {
      this.global("__builtin__", "set");
      s.op(EMPTY_LIST);
      if (v.size) {
        s.op(MARK);
        for (const x of v) this.save(x);
        s.op(APPENDS);
      }
      s.op(TUPLE1, REDUCE);
      return this.put(v);
    }
    if (v instanceof NumpyArray) return this.numpyArray(v);
    const isMap = v instanceof Map;
    if (!isMap && Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null) {
      throw new TypeError(`formatTorch: cannot write a ${(v as object).constructor?.name ?? "object"}`);
    }
    const ordered = (v as { [ORDERED_DICT]?: boolean })[ORDERED_DICT] === true;
    if (ordered) {
      this.global("collections", "OrderedDict");
      s.op(EMPTY_TUPLE, REDUCE);
    } else {
      s.op(EMPTY_DICT);
    }
    this.put(v);
    this.setItems(isMap ? (v as Map<unknown, unknown>).entries() : Object.entries(v));
    const state = (v as { [PY_STATE]?: unknown })[PY_STATE];
    if (state !== undefined) {
      this.save(state);
      s.op(BUILD);
    }
  }
}

/** Pickles `value` for torch.save's zip layout (a fresh Pickler per call). */
export function pickleForTorch(value: unknown): PickledCheckpoint {
  return new Pickler().dump(value);
}
