// Shared by both container formats: storages from raw bytes, storage persistent ids, and the check that every tensor
// view stays inside its storage.

import { CheckpointError } from "../../errors.js";
import { StorageType, swapInPlace, type AllowlistContext, type LoadedStorage } from "./allowlist.js";
import { DTYPES, type TorchDtypeName } from "./dtypes.js";
import { describe } from "./unpickle.js";

/** A typed view of storage bytes: zero-copy when aligned and little-endian, else a copy. */
export function storageFromBytes(key: string, dtype: TorchDtypeName, bytes: Uint8Array, numel: number, bigEndian: boolean): LoadedStorage {
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

export function storagePid(pid: unknown, file: string, fields: number): { type: StorageType; key: string; numel: number; rest: unknown[] } {
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

/** Every view must stay inside its storage (a corrupt or hostile file could point anywhere). */
export function checkViews(ctx: AllowlistContext): void {
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
