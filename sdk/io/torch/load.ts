// torch.load for untrusted files: the zip format (torch >= 1.6) and the legacy format, through our own unpickler.
// Pure over bytes (parseTorch); loadTorchFile is the disk wrapper.

import { constants as bufferConstants } from "node:buffer";
import { promises as fsp } from "node:fs";
import { CheckpointError, NnsslAdaptError } from "../../errors.js";
import { makeFindGlobal, NpDtype, PendingNdarray, StorageType, swapInPlace, type AllowlistContext, type LoadedStorage } from "./allowlist.js";
import { DTYPES, type TorchDtypeName } from "./dtypes.js";
import { ORDERED_DICT, PY_STATE, setKey } from "./py-types.js";
import { PyDict, describe, unpickle } from "./unpickle.js";
import { looksLikeZip, ZipArchive } from "./zip-read.js";

/**
 * Reads a torch checkpoint. Dicts whose keys are all strings become plain objects (insertion order), other dicts
 * Maps; OrderedDicts are marked (`isOrderedDict`); tuples are `PyTuple`s; tensors `TorchTensor`s; numpy scalars
 * numbers; ints beyond 2^53 bigints; bytes Uint8Arrays; `torch.device` a `TorchDevice`.
 */
export interface LoadTorchOptions {
  /**
   * Also check the CRC of every tensor's data (costs about as much as reading the file). Off by default, like
   * torch.load, which never checks it; the pickle and small records are always checked, and truncation is always
   * detected.
   */
  verifyCrc?: boolean;
}

export async function loadTorchFile(file: string, opts: LoadTorchOptions = {}): Promise<unknown> {
  let bytes: Uint8Array;
  try {
    bytes = await readWhole(file);
  } catch (err) {
    if (err instanceof CheckpointError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new CheckpointError(code === "ENOENT" ? "file not found" : (err as Error).message, { file, cause: err });
  }
  return parseTorch(bytes, file, opts);
}

/** The whole file in one buffer: readFile up to its 2 GiB limit, chunked reads above (optimizer-state checkpoints). */
export async function readWhole(file: string, { readFileBelow = 2 ** 31 - 1, chunk = 1 << 30 } = {}): Promise<Uint8Array> {
  const { size } = await fsp.stat(file);
  if (size < readFileBelow) return fsp.readFile(file);
  if (size > bufferConstants.MAX_LENGTH) {
    throw new CheckpointError(`the file is ${(size / 2 ** 30).toFixed(1)} GiB, more than this Node.js can hold in one buffer`, { file });
  }
  const buf = Buffer.allocUnsafeSlow(size);
  const fh = await fsp.open(file, "r");
  try {
    for (let off = 0; off < size; ) {
      const { bytesRead } = await fh.read(buf, off, Math.min(chunk, size - off), off);
      if (bytesRead === 0) throw new CheckpointError(`the file shrank while being read (${off} of ${size} bytes)`, { file });
      off += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return buf;
}

/** Parses the bytes of a torch.save file. `file` names it in error messages. */
export function parseTorch(input: Uint8Array, file = "<torch bytes>", { verifyCrc = false }: LoadTorchOptions = {}): unknown {
  // A plain Uint8Array view: Buffer#slice does not copy, and copies below must not alias the file's bytes.
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  try {
    if (looksLikeZip(bytes)) return parseZip(bytes, file, verifyCrc);
    if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] === 0x02) return parseLegacy(bytes, file);
  } catch (err) {
    if (err instanceof NnsslAdaptError) throw err;
    if (err instanceof RangeError) throw new CheckpointError(`cannot read: ${err.message}`, { file, cause: err });
    throw err;
  }
  if (bytes.length === 0) throw new CheckpointError("the file is empty", { file });
  throw new CheckpointError("not a PyTorch checkpoint (neither the zip format nor the legacy pickle format)", { file });
}

/** A typed view of storage bytes: zero-copy when aligned and little-endian, else a copy. */
function storageFromBytes(key: string, dtype: TorchDtypeName, bytes: Uint8Array, numel: number, bigEndian: boolean): LoadedStorage {
  const { size, ctor } = DTYPES[dtype];
  let b = bytes.subarray(0, numel * size);
  if (bigEndian && size > 1) {
    b = b.slice();
    swapInPlace(b, size);
  } else if (b.byteOffset % size !== 0) {
    b = b.slice();
  }
  return { key, dtype, bytes: b, data: new ctor(b.buffer, b.byteOffset, numel) };
}

function storagePid(pid: unknown, file: string, fields: number): { type: StorageType; key: string; numel: number; rest: unknown[] } {
  if (!Array.isArray(pid) || pid.length < fields || pid[0] !== "storage") {
    throw new CheckpointError(`unsupported persistent id ${describe(pid)}${Array.isArray(pid) ? ` (${String(pid[0])})` : ""}`, { file });
  }
  const [, type, key, , numel] = pid as unknown[];
  if (!(type instanceof StorageType)) throw new CheckpointError(`persistent id names a ${describe(type)}, not a storage type`, { file });
  if (typeof key !== "string" || !Number.isSafeInteger(numel) || (numel as number) < 0) {
    throw new CheckpointError("malformed storage persistent id", { file });
  }
  return { type, key, numel: numel as number, rest: pid.slice(5) };
}

function parseZip(bytes: Uint8Array, file: string, verifyCrc: boolean): unknown {
  const zip = new ZipArchive(bytes, file);
  const pkls = [...zip.entries.keys()].filter((n) => /^(?:[^/]+\/)?data\.pkl$/.test(n));
  if (pkls.length !== 1) {
    throw new CheckpointError(pkls.length ? `ambiguous archive: several data.pkl (${pkls.join(", ")})` : "zip archive without data.pkl (not a torch checkpoint)", { file });
  }
  const prefix = pkls[0]!.slice(0, -"data.pkl".length);
  let bigEndian = false;
  if (zip.entries.has(`${prefix}byteorder`)) {
    const order = new TextDecoder().decode(zip.read(`${prefix}byteorder`)).trim();
    if (order !== "little" && order !== "big") throw new CheckpointError(`unknown byteorder ${JSON.stringify(order)}`, { file });
    bigEndian = order === "big";
  }
  const ctx: AllowlistContext = { file, tensors: [] };
  const storages = new Map<string, LoadedStorage>();
  const hooks = {
    findGlobal: makeFindGlobal(ctx),
    persistentLoad: (pid: unknown) => {
      const { type, key, numel } = storagePid(pid, file, 5);
      const hit = storages.get(key);
      if (hit) return hit;
      const raw = zip.read(`${prefix}data/${key}`, { verifyCrc });
      const need = numel * DTYPES[type.dtype].size;
      if (raw.length < need) throw new CheckpointError(`storage ${key} has ${raw.length} bytes, needs ${need} for ${numel} ${type.dtype} values`, { file });
      const st = storageFromBytes(key, type.dtype, raw, numel, bigEndian);
      storages.set(key, st);
      return st;
    },
  };
  const { value } = unpickle(zip.read(pkls[0]!), file, hooks);
  checkViews(ctx);
  return finalize(value, file);
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

function parseLegacy(bytes: Uint8Array, file: string): unknown {
  const noGlobals = {
    findGlobal: (m: string, n: string): never => { throw new CheckpointError(`refusing to load: the legacy header asks for ${m}.${n}`, { file }); },
    persistentLoad: (): never => { throw new CheckpointError("unexpected persistent id in the legacy header", { file }); },
  };
  let r = unpickle(bytes, file, noGlobals);
  if (r.value !== LEGACY_MAGIC) throw new CheckpointError("not a PyTorch checkpoint (pickle without torch's magic number)", { file });
  r = unpickle(bytes, file, noGlobals, r.end);
  if (r.value !== 1001) throw new CheckpointError(`unsupported legacy protocol version ${String(r.value)}`, { file });
  r = unpickle(bytes, file, noGlobals, r.end);
  const sysInfo = r.value instanceof PyDict ? r.value : new PyDict();
  const bigEndian = sysInfo.get("little_endian") === false;

  const ctx: AllowlistContext = { file, tensors: [] };
  // Storages are referenced by the object pickle but their bytes come after it: create them empty, fill them below.
  const storages = new Map<string, { st: LoadedStorage; numel: number; views: [LoadedStorage, number, number][] }>();
  const empty = new Uint8Array(0);
  const main = unpickle(bytes, file, {
    findGlobal: makeFindGlobal(ctx),
    persistentLoad: (pid: unknown) => {
      if (Array.isArray(pid) && pid[0] === "module") throw new CheckpointError("the file holds a pickled nn.Module, not a state dict (not supported)", { file });
      const { type, key, numel, rest } = storagePid(pid, file, 5);
      let rec = storages.get(key);
      if (!rec) {
        rec = { st: { key, dtype: type.dtype, bytes: empty, data: new DTYPES[type.dtype].ctor(0) }, numel, views: [] };
        storages.set(key, rec);
      }
      const view = rest[0];
      if (Array.isArray(view) && view.length === 3) {
        // Old torch's storage views: (view_key, offset, size) into the root storage.
        const [, off, size] = view as unknown[];
        if (!Number.isSafeInteger(off) || !Number.isSafeInteger(size)) throw new CheckpointError("malformed storage view", { file });
        const v: LoadedStorage = { key: `${key}:${off}`, dtype: type.dtype, bytes: empty, data: new DTYPES[type.dtype].ctor(0) };
        rec.views.push([v, off as number, size as number]);
        return v;
      }
      return rec.st;
    },
  }, r.end);
  r = unpickle(bytes, file, noGlobals, main.end);
  if (!Array.isArray(r.value) || !r.value.every((k) => typeof k === "string")) throw new CheckpointError("legacy storage key list is malformed", { file });
  let pos = r.end;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const key of r.value as string[]) {
    const rec = storages.get(key);
    if (!rec) throw new CheckpointError(`legacy storage ${key} is not referenced by any tensor`, { file });
    if (pos + 8 > bytes.length) throw new CheckpointError(`legacy storage ${key}: file ends before its size (truncated?)`, { file });
    const n = dv.getBigInt64(pos, !bigEndian);
    pos += 8;
    const size = DTYPES[rec.st.dtype].size;
    if (n < 0n || n * BigInt(size) > BigInt(bytes.length - pos)) {
      throw new CheckpointError(`legacy storage ${key} claims ${n} values but only ${bytes.length - pos} bytes remain (truncated?)`, { file });
    }
    const numel = Number(n);
    const loaded = storageFromBytes(key, rec.st.dtype, bytes.subarray(pos, pos + numel * size), numel, bigEndian);
    pos += numel * size;
    Object.assign(rec.st, { bytes: loaded.bytes, data: loaded.data });
    for (const [v, off, len] of rec.views) {
      if (off < 0 || len < 0 || off + len > numel) throw new CheckpointError(`legacy storage view ${v.key} exceeds its storage`, { file });
      Object.assign(v, { bytes: loaded.bytes.subarray(off * size, (off + len) * size), data: loaded.data.subarray(off, off + len) });
    }
  }
  checkViews(ctx);
  return finalize(main.value, file);
}

/** Every view must stay inside its storage (a corrupt or hostile file could point anywhere). */
function checkViews(ctx: AllowlistContext): void {
  for (const t of ctx.tensors) {
    if (t.numel > Number.MAX_SAFE_INTEGER) throw new CheckpointError(`tensor of shape [${t.shape.join(", ")}] is impossibly large`, { file: ctx.file });
    if (t.numel === 0) continue;
    let last = t.storageOffset;
    for (let i = 0; i < t.shape.length; i++) last += (t.shape[i]! - 1) * t.stride[i]!;
    if (last >= t.storage.data.length) {
      throw new CheckpointError(
        `tensor of shape [${t.shape.join(", ")}] (stride [${t.stride.join(", ")}], offset ${t.storageOffset}) reaches element ${last} ` +
          `of storage ${t.storage.key}, which has ${t.storage.data.length}`,
        { file: ctx.file },
      );
    }
  }
}

/** Turns unpickling stand-ins into the public representation (dicts -> objects / Maps, numpy stand-ins -> values). */
function finalize(root: unknown, file: string): unknown {
  const done = new Map<object, unknown>();
  const conv = (v: unknown): unknown => {
    if (typeof v !== "object" || v === null) return v;
    const hit = done.get(v);
    if (hit !== undefined) return hit;
    if (v instanceof PyDict) {
      const stringKeys = [...v.keys()].every((k) => typeof k === "string");
      const out: Record<string, unknown> | Map<unknown, unknown> = stringKeys ? {} : new Map();
      done.set(v, out);
      for (const [k, x] of v) {
        if (out instanceof Map) out.set(conv(k), conv(x));
        else setKey(out, k as string, conv(x));
      }
      if (v.ordered) Object.defineProperty(out, ORDERED_DICT, { value: true, enumerable: false, configurable: true });
      if (v.state !== undefined) Object.defineProperty(out, PY_STATE, { value: conv(v.state), enumerable: false, configurable: true });
      return out;
    }
    if (Array.isArray(v)) {
      done.set(v, v);
      for (let i = 0; i < v.length; i++) v[i] = conv(v[i]);
      return v;
    }
    if (v instanceof PendingNdarray) {
      if (!v.result) throw new CheckpointError("numpy array without data (missing BUILD)", { file });
      done.set(v, v.result);
      return v.result;
    }
    if (v instanceof NpDtype) {
      done.set(v, v.str);
      return v.str;
    }
    if (v instanceof Set) {
      const out = new Set<unknown>();
      done.set(v, out);
      for (const x of v) out.add(conv(x));
      return out;
    }
    return v;
  };
  try {
    return conv(root);
  } catch (err) {
    if (err instanceof RangeError) throw new CheckpointError("the object tree is nested too deeply", { file, cause: err });
    throw err;
  }
}


