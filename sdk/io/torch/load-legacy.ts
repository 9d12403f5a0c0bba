// torch's legacy format (_use_new_zipfile_serialization=False, and every file before torch 1.6): pickles of the magic
// number, protocol version and sys info, then the object pickle, then the storage key list, then each storage as
// an int64 element count followed by its raw bytes. Storages are referenced before their bytes appear, so they are
// created empty and filled afterwards.

import { CheckpointError } from "../../errors.js";
import { makeFindGlobal, type AllowlistContext, type LoadedStorage } from "./allowlist.js";
import { DTYPES } from "./dtypes.js";
import { finalize } from "./finalize.js";
import { checkViews, storageFromBytes, storagePid } from "./storages.js";
import { PyDict, unpickle } from "./unpickle.js";

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

export function parseLegacy(bytes: Uint8Array, file: string): unknown {
  const noGlobals = {
    findGlobal: (m: string, n: string): never => {
      throw new CheckpointError(`refusing to load: the legacy header asks for ${m}.${n}`, { file });
    },
    persistentLoad: (): never => {
      throw new CheckpointError("unexpected persistent id in the legacy header", { file });
    },
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
  const main = unpickle(
    bytes,
    file,
    {
      findGlobal: makeFindGlobal(ctx),
      persistentLoad: (pid: unknown) => {
        if (Array.isArray(pid) && pid[0] === "module")
          throw new CheckpointError("the file holds a pickled nn.Module, not a state dict (not supported)", { file });
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
    },
    r.end,
  );
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
