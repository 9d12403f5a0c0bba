// torch.save's zip layout (torch >= 1.13): <prefix>/data.pkl, <prefix>/byteorder, <prefix>/data/<key> (64-byte
// aligned, raw little-endian), <prefix>/version. formatTorch is pure; saveTorchFile writes atomically.

import { endianness } from "node:os";
import { writeFileAtomic } from "../../util/fs.js";
import { pickleForTorch } from "./pickle-write.js";
import { zipChunks, type ZipMember } from "./zip-write.js";

export interface FormatTorchOptions {
  /** Folder name inside the archive (torch >= 2 uses "archive"; 1.13 used the file's basename). */
  prefix?: string;
  /** Write zip64 records even for small files (tests of readers). */
  forceZip64?: boolean;
}

function members(value: unknown, { prefix = "archive" }: FormatTorchOptions): ZipMember[] {
  if (endianness() !== "LE") throw new Error("formatTorch: writing checkpoints on a big-endian host is not supported");
  const { pickle, storages } = pickleForTorch(value);
  const out: ZipMember[] = [
    { name: `${prefix}/data.pkl`, data: pickle },
    { name: `${prefix}/byteorder`, data: new TextEncoder().encode("little") },
  ];
  storages.forEach((st, i) => out.push({ name: `${prefix}/data/${i}`, data: new Uint8Array(st.data.buffer, st.data.byteOffset, st.data.byteLength) }));
  out.push({ name: `${prefix}/version`, data: new TextEncoder().encode("3\n") });
  return out;
}

/**
 * The bytes of `torch.save(value)`: integers -> int, other numbers -> float (`pyFloat(x)` forces a float), `PyTuple`
 * -> tuple, arrays -> list, plain objects and Maps -> dict (`orderedDict(obj)` -> OrderedDict), `TorchTensor` ->
 * tensor (storages shared between tensors are written once), `TorchDevice` -> torch.device, Uint8Array -> bytes.
 */
export function formatTorch(value: unknown, opts: FormatTorchOptions = {}): Uint8Array {
  const chunks = zipChunks(members(value, opts), opts);
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

/** Writes `value` as a torch checkpoint, atomically (tensor data is streamed from memory, not concatenated). */
export async function saveTorchFile(file: string, value: unknown, opts: FormatTorchOptions = {}): Promise<void> {
  await writeFileAtomic(file, zipChunks(members(value, opts), opts));
}
