// torch.load for untrusted files: the zip format (torch >= 1.6) and the legacy format, through our own unpickler.
// Pure over bytes (parseTorch); loadTorchFile is the disk wrapper.

import { constants as bufferConstants } from "node:buffer";
import { promises as fsp } from "node:fs";
import { CheckpointError, NnsslAdaptError } from "../../errors.js";
import { parseLegacy } from "./load-legacy.js";
import { parseZip } from "./load-zip.js";
import { looksLikeZip } from "./zip-read.js";

export interface LoadTorchOptions {
  /**
   * Also check the CRC of every tensor's data (costs about as much as reading the file). Off by default, like
   * torch.load, which never checks it; the pickle and small records are always checked, and truncation is always
   * detected.
   */
  verifyCrc?: boolean;
}

/**
 * Reads a torch checkpoint. Dicts whose keys are all strings become plain objects (insertion order), other dicts
 * Maps; OrderedDicts are marked (`isOrderedDict`); tuples are `PyTuple`s; tensors `TorchTensor`s; numpy scalars
 * numbers; ints beyond 2^53 bigints; bytes Uint8Arrays; `torch.device` a `TorchDevice`. Nothing in the file is
 * executed: globals outside a small allowlist are refused with a CheckpointError naming them.
 */
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

let mapper: ((file: string) => ArrayBuffer) | null = null;

/**
 * Lets a loaded native addon map checkpoint files instead of reading them (sdk/backend/onednn.ts registers its
 * mapFile): tensors then view the page cache's copy-on-write pages, and loading copies nothing (torch.load copies every
 * storage once). `null` goes back to reading.
 */
export function setFileMapper(map: ((file: string) => ArrayBuffer) | null): void {
  mapper = map;
}

/**
 * The whole file in one buffer: mapped when a file mapper is registered, else readFile up to its 2 GiB limit and
 * chunked reads above (optimizer-state checkpoints).
 */
export async function readWhole(file: string, { readFileBelow = 2 ** 31 - 1, chunk = 1 << 30 } = {}): Promise<Uint8Array> {
  const { size } = await fsp.stat(file);
  if (mapper && size > 0 && size <= bufferConstants.MAX_LENGTH) return new Uint8Array(mapper(file));
  if (size < readFileBelow) return fsp.readFile(file);
  if (size > bufferConstants.MAX_LENGTH) {
    throw new CheckpointError(`the file is ${(size / 2 ** 30).toFixed(1)} GiB, more than this Node.js can hold in one buffer`, { file });
  }
  const buf = Buffer.allocUnsafeSlow(size);
  const fh = await fsp.open(file, "r");
  try {
    for (let off = 0; off < size;) {
      const { bytesRead } = await fh.read(buf, off, Math.min(chunk, size - off), off);
      if (bytesRead === 0) throw new CheckpointError(`the file shrank while being read (${off} of ${size} bytes)`, { file });
      off += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return buf;
}

/** Parses the bytes of a torch.save file (same results as loadTorchFile). `file` names it in error messages. */
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
  if (bytes.length > 262 && new TextDecoder().decode(bytes.subarray(257, 262)) === "ustar") {
    throw new CheckpointError("a tar-format checkpoint (torch < 0.4) is not supported; re-save it with a current torch", { file });
  }
  throw new CheckpointError("not a PyTorch checkpoint (neither the zip format nor the legacy pickle format)", { file });
}
