// A pickle reader (protocols 0-5 opcodes, as torch.save and numpy emit them) that never runs code: GLOBAL and
// STACK_GLOBAL only ever resolve through `findGlobal`, which hands back inert JS stand-ins from an allowlist or
// refuses, and REDUCE / NEWOBJ / BUILD only act on those stand-ins. Every length is checked against the bytes that
// are actually there before anything is allocated, so a hostile or truncated file is an error, not a hang or a crash.

import { CheckpointError } from "../../errors.js";
import { PyTuple } from "./py-types.js";

/** A Python callable the allowlist provides (a rebuild function or a class). */
export class PyCallable {
  constructor(
    readonly qualname: string,
    readonly call: (args: unknown[]) => unknown,
    /** Whether NEWOBJ (`cls.__new__(cls, *args)`) may create it too. */
    readonly allowNew = false,
  ) {}
}

/** Objects that accept BUILD (`__setstate__`). Only stand-ins the allowlist creates implement it. */
export interface Buildable {
  setState(state: unknown): void;
}

/** A dict while unpickling (keys may be anything hashable); converted to an object or Map afterwards. */
export class PyDict extends Map<unknown, unknown> implements Buildable {
  ordered = false;
  state: unknown = undefined;
  setState(state: unknown): void {
    this.state = state;
  }
}

export interface UnpickleHooks {
  /** Returns the stand-in for `module.name` or throws (the allowlist). */
  findGlobal(module: string, name: string): unknown;
  /** Resolves a persistent id (torch's storages). */
  persistentLoad(pid: unknown): unknown;
}

const utf8 = new TextDecoder("utf-8");

export class Unpickler {
  private pos: number;
  private stack: unknown[] = [];
  private readonly metastack: unknown[][] = [];
  private readonly memo = new Map<number, unknown>();
  private readonly dv: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    start: number,
    private readonly file: string,
    private readonly hooks: UnpickleHooks,
  ) {
    this.pos = start;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Where the next pickle (if any) starts once `load` returned. */
  get end(): number {
    return this.pos;
  }

  private fail(problem: string): never {
    throw new CheckpointError(`corrupt pickle: ${problem}`, { file: this.file });
  }

  private need(n: number): number {
    if (n < 0 || this.pos + n > this.bytes.length) {
      this.fail(`byte ${this.pos} needs ${n} more bytes but the data ends at ${this.bytes.length} (truncated?)`);
    }
    const p = this.pos;
    this.pos += n;
    return p;
  }
  private u8(): number {
    return this.bytes[this.need(1)]!;
  }
  private u16(): number {
    return this.dv.getUint16(this.need(2), true);
  }
  private u32(): number {
    return this.dv.getUint32(this.need(4), true);
  }
  private u64(): number {
    const v = this.dv.getBigUint64(this.need(8), true);
    if (v > BigInt(this.bytes.length)) this.fail(`length ${v} exceeds the ${this.bytes.length}-byte input`);
    return Number(v);
  }
  private take(n: number): Uint8Array {
    const p = this.need(n);
    return this.bytes.subarray(p, p + n);
  }
  private line(): string {
    const nl = this.bytes.indexOf(0x0a, this.pos);
    if (nl < 0) this.fail(`unterminated text argument at byte ${this.pos}`);
    const s = new TextDecoder("latin1").decode(this.bytes.subarray(this.pos, nl));
    this.pos = nl + 1;
    return s;
  }

  private pop(): unknown {
    if (this.stack.length === 0) this.fail(`stack underflow at byte ${this.pos - 1}`);
    return this.stack.pop();
  }
  private top(): unknown {
    if (this.stack.length === 0) this.fail(`stack underflow at byte ${this.pos - 1}`);
    return this.stack[this.stack.length - 1];
  }
  private popMark(): unknown[] {
    const items = this.stack;
    const prev = this.metastack.pop();
    if (!prev) this.fail(`MARK missing at byte ${this.pos - 1}`);
    this.stack = prev;
    return items;
  }
  private memoGet(i: number): unknown {
    if (!this.memo.has(i)) this.fail(`memo entry ${i} used before it was stored`);
    return this.memo.get(i);
  }

  private long(b: Uint8Array): number | bigint {
    if (b.length === 0) return 0;
    if (b.length <= 6) {
      let v = 0;
      for (let i = b.length - 1; i >= 0; i--) v = v * 256 + b[i]!;
      return b[b.length - 1]! & 0x80 ? v - 2 ** (8 * b.length) : v;
    }
    let hex = "";
    for (let i = b.length - 1; i >= 0; i--) hex += b[i]!.toString(16).padStart(2, "0");
    let v = BigInt("0x" + hex);
    if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  private addItems(target: unknown, items: unknown[], op: string): void {
    if (target instanceof PyDict) {
      if (items.length % 2) this.fail(`${op} with an odd number of items`);
      for (let i = 0; i < items.length; i += 2) target.set(items[i], items[i + 1]);
    } else {
      this.fail(`${op} on a ${describe(target)}`);
    }
  }

  private reduce(func: unknown, args: unknown, op: string, isNew = false): unknown {
    if (!(func instanceof PyCallable) || (isNew && !func.allowNew)) this.fail(`${op} on ${describe(func)}, which cannot be called`);
    if (!Array.isArray(args)) this.fail(`${op} arguments are a ${describe(args)}, not a tuple`);
    return func.call(args);
  }

  /** Reads one pickle (up to STOP) and returns its value. */
  load(): unknown {
    const { bytes } = this;
    const st = () => this.stack;
    for (;;) {
      if (this.pos >= bytes.length) this.fail("data ends before the STOP opcode (truncated?)");
      const op = bytes[this.pos++]!;
      switch (op) {
        case 0x80: {
          // PROTO
          const proto = this.u8();
          if (proto > 5) this.fail(`unsupported pickle protocol ${proto}`);
          break;
        }
        case 0x95:
          this.u64();
          break; // FRAME: the frame length is only a read-ahead hint
        case 0x2e: {
          // STOP
          const v = this.pop();
          if (this.metastack.length) this.fail("STOP inside an open MARK");
          return v;
        }
        case 0x28:
          this.metastack.push(this.stack);
          this.stack = [];
          break; // MARK
        case 0x30:
          this.pop();
          break; // POP
        case 0x31:
          this.popMark();
          break; // POP_MARK
        case 0x32:
          st().push(this.top());
          break; // DUP
        // numbers
        case 0x4a:
          st().push(this.dv.getInt32(this.need(4), true));
          break; // BININT
        case 0x4b:
          st().push(this.u8());
          break; // BININT1
        case 0x4d:
          st().push(this.u16());
          break; // BININT2
        case 0x8a:
          st().push(this.long(this.take(this.u8())));
          break; // LONG1
        case 0x8b: {
          // LONG4
          const n = this.dv.getInt32(this.need(4), true);
          if (n < 0) this.fail("negative LONG4 length");
          // No checkpoint holds a million-byte integer; parsing one would only burn time and memory.
          if (n > 1 << 20) this.fail(`LONG4 integer of ${n} bytes`);
          st().push(this.long(this.take(n)));
          break;
        }
        case 0x47:
          st().push(this.dv.getFloat64(this.need(8), false));
          break; // BINFLOAT (big-endian)
        case 0x49: {
          // INT (text)
          const s = this.line();
          st().push(s === "01" ? true : s === "00" ? false : parseIntText(s, this.file));
          break;
        }
        case 0x4c:
          st().push(parseIntText(this.line().replace(/L$/, ""), this.file));
          break; // LONG (text)
        case 0x46:
          st().push(Number(this.line()));
          break; // FLOAT (text)
        // singletons
        case 0x4e:
          st().push(null);
          break; // NONE
        case 0x88:
          st().push(true);
          break; // NEWTRUE
        case 0x89:
          st().push(false);
          break; // NEWFALSE
        // strings and bytes
        case 0x58:
          st().push(utf8.decode(this.take(this.u32())));
          break; // BINUNICODE
        case 0x8c:
          st().push(utf8.decode(this.take(this.u8())));
          break; // SHORT_BINUNICODE
        case 0x8d:
          st().push(utf8.decode(this.take(this.u64())));
          break; // BINUNICODE8
        case 0x54: {
          // BINSTRING: Python 2 str, decoded as torch.load does (utf-8)
          const n = this.dv.getInt32(this.need(4), true);
          if (n < 0) this.fail("negative BINSTRING length");
          st().push(utf8.decode(this.take(n)));
          break;
        }
        case 0x55:
          st().push(utf8.decode(this.take(this.u8())));
          break; // SHORT_BINSTRING
        case 0x42:
          st().push(this.take(this.u32()).slice());
          break; // BINBYTES
        case 0x43:
          st().push(this.take(this.u8()).slice());
          break; // SHORT_BINBYTES
        case 0x8e:
          st().push(this.take(this.u64()).slice());
          break; // BINBYTES8
        case 0x96:
          st().push(this.take(this.u64()).slice());
          break; // BYTEARRAY8
        // containers
        case 0x29:
          st().push(new PyTuple());
          break; // EMPTY_TUPLE
        case 0x85:
          st().push(PyTuple.ofItems([this.pop()]));
          break; // TUPLE1
        case 0x86: {
          const b = this.pop();
          const a = this.pop();
          st().push(PyTuple.ofItems([a, b]));
          break;
        } // TUPLE2
        case 0x87: {
          const c = this.pop();
          const b = this.pop();
          const a = this.pop();
          st().push(PyTuple.ofItems([a, b, c]));
          break;
        } // TUPLE3
        case 0x74: {
          const t = PyTuple.ofItems(this.popMark());
          st().push(t);
          break;
        } // TUPLE (pop before reading this.stack)
        case 0x5d:
          st().push([]);
          break; // EMPTY_LIST
        case 0x6c: {
          const l = this.popMark();
          st().push(l);
          break;
        } // LIST
        case 0x61: {
          // APPEND
          const v = this.pop();
          const l = this.top();
          if (!Array.isArray(l) || l instanceof PyTuple) this.fail(`APPEND to a ${describe(l)}`);
          l.push(v);
          break;
        }
        case 0x65: {
          // APPENDS
          const items = this.popMark();
          const l = this.top();
          if (!Array.isArray(l) || l instanceof PyTuple) this.fail(`APPENDS to a ${describe(l)}`);
          for (const v of items) l.push(v);
          break;
        }
        case 0x7d:
          st().push(new PyDict());
          break; // EMPTY_DICT
        case 0x64: {
          // DICT
          const d = new PyDict();
          this.addItems(d, this.popMark(), "DICT");
          st().push(d);
          break;
        }
        case 0x73: {
          const v = this.pop();
          const k = this.pop();
          this.addItems(this.top(), [k, v], "SETITEM");
          break;
        } // SETITEM
        case 0x75: {
          const items = this.popMark();
          this.addItems(this.top(), items, "SETITEMS");
          break;
        } // SETITEMS
        case 0x8f:
          st().push(new Set());
          break; // EMPTY_SET
        case 0x90: {
          // ADDITEMS
          const items = this.popMark();
          const s = this.top();
          if (!(s instanceof Set)) this.fail(`ADDITEMS to a ${describe(s)}`);
          for (const v of items) s.add(v);
          break;
        }
        case 0x91: {
          const s = new Set(this.popMark());
          st().push(s);
          break;
        } // FROZENSET
        // memo
        case 0x68:
          st().push(this.memoGet(this.u8()));
          break; // BINGET
        case 0x6a:
          st().push(this.memoGet(this.u32()));
          break; // LONG_BINGET
        case 0x67:
          st().push(this.memoGet(parseIntText(this.line(), this.file) as number));
          break; // GET
        case 0x71:
          this.memo.set(this.u8(), this.top());
          break; // BINPUT
        case 0x72:
          this.memo.set(this.u32(), this.top());
          break; // LONG_BINPUT
        case 0x70:
          this.memo.set(parseIntText(this.line(), this.file) as number, this.top());
          break; // PUT
        case 0x94:
          this.memo.set(this.memo.size, this.top());
          break; // MEMOIZE
        // objects: only allowlisted stand-ins
        case 0x63: {
          // GLOBAL
          const module = this.line();
          const name = this.line();
          st().push(this.hooks.findGlobal(module, name));
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== "string" || typeof name !== "string") this.fail("STACK_GLOBAL needs two strings");
          st().push(this.hooks.findGlobal(module, name));
          break;
        }
        case 0x52: {
          const args = this.pop();
          const f = this.pop();
          st().push(this.reduce(f, args, "REDUCE"));
          break;
        } // REDUCE
        case 0x81: {
          const args = this.pop();
          const cls = this.pop();
          st().push(this.reduce(cls, args, "NEWOBJ", true));
          break;
        } // NEWOBJ
        case 0x92: {
          // NEWOBJ_EX
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.pop();
          if (!(kwargs instanceof PyDict) || kwargs.size) this.fail("NEWOBJ_EX with keyword arguments");
          st().push(this.reduce(cls, args, "NEWOBJ_EX", true));
          break;
        }
        case 0x62: {
          // BUILD
          const state = this.pop();
          const obj = this.top();
          if (typeof obj !== "object" || obj === null || typeof (obj as Partial<Buildable>).setState !== "function") {
            this.fail(`BUILD on a ${describe(obj)}`);
          }
          (obj as Buildable).setState(state);
          break;
        }
        case 0x51:
          st().push(this.hooks.persistentLoad(this.pop()));
          break; // BINPERSID
        case 0x50:
          st().push(this.hooks.persistentLoad(this.line()));
          break; // PERSID
        case 0x82:
        case 0x83:
        case 0x84:
          return this.fail("the pickle uses the copyreg extension registry (EXT opcodes), which is not supported");
        case 0x97:
        case 0x98:
          return this.fail("the pickle uses out-of-band buffers (protocol 5), which torch.save never writes");
        case 0x53:
        case 0x56:
        case 0x69:
        case 0x6f:
          return this.fail(`protocol-0 opcode ${JSON.stringify(String.fromCharCode(op))} at byte ${this.pos - 1} is not supported`);
        default:
          this.fail(`unknown opcode 0x${op.toString(16).padStart(2, "0")} at byte ${this.pos - 1}`);
      }
    }
  }
}

function parseIntText(s: string, file: string): number | bigint {
  if (!/^[+-]?\d+$/.test(s)) throw new CheckpointError(`corrupt pickle: ${JSON.stringify(s)} is not an integer`, { file });
  const v = BigInt(s);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** A short name for a value's Python-ish type, for error messages. */
export function describe(v: unknown): string {
  if (v === null) return "None";
  if (v instanceof PyCallable) return v.qualname;
  if (v instanceof PyTuple) return "tuple";
  if (Array.isArray(v)) return "list";
  if (v instanceof PyDict) return "dict";
  if (typeof v === "object") return (v as object).constructor?.name ?? "object";
  return typeof v;
}

/** Unpickles one pickle starting at `start`; returns the value and where the pickle ended. */
export function unpickle(bytes: Uint8Array, file: string, hooks: UnpickleHooks, start = 0): { value: unknown; end: number } {
  const u = new Unpickler(bytes, start, file, hooks);
  const value = u.load();
  return { value, end: u.end };
}
