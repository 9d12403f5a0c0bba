// The zip container torch.save writes since 1.6: <prefix>/data.pkl, <prefix>/data/<key> per storage, optional
// <prefix>/byteorder. Storages are read when the pickle first refers to them.

import { CheckpointError } from "../../errors.js";
import { makeFindGlobal, type AllowlistContext, type LoadedStorage } from "./allowlist.js";
import { DTYPES } from "./dtypes.js";
import { finalize } from "./finalize.js";
import { checkViews, storageFromBytes, storagePid } from "./storages.js";
import { unpickle } from "./unpickle.js";
import { ZipArchive } from "./zip-read.js";

export function parseZip(bytes: Uint8Array, file: string, verifyCrc: boolean): unknown {
  const zip = new ZipArchive(bytes, file);
  const pkls = [...zip.entries.keys()].filter((n) => /^(?:[^/]+\/)?data\.pkl$/.test(n));
  if (pkls.length !== 1) {
    throw new CheckpointError(
      pkls.length ? `ambiguous archive: several data.pkl (${pkls.join(", ")})` : "zip archive without data.pkl (not a torch checkpoint)",
      { file },
    );
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
