// File helpers that never leave half-written files: write to a temporary name in the same folder, then rename.

import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { InputError } from "../errors.js";

/** A temporary sibling name for `file` (same folder, so rename is atomic). */
export function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/** Writes `data` to `file` atomically: readers see the old file or the complete new one, never a truncated one. */
export async function writeFileAtomic(file: string, data: string | Uint8Array | readonly Uint8Array[]): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = tempName(file);
  try {
    if (Array.isArray(data)) {
      const h = await fsp.open(tmp, "w");
      try { for (const chunk of data as readonly Uint8Array[]) await h.write(chunk); } finally { await h.close(); }
    } else {
      await fsp.writeFile(tmp, data as string | Uint8Array);
    }
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

/** Copies `src` to `dst` atomically (a copy interrupted half-way never appears under `dst`). */
export async function copyFileAtomic(src: string, dst: string): Promise<void> {
  await fsp.mkdir(path.dirname(dst), { recursive: true });
  const tmp = tempName(dst);
  try {
    await fsp.copyFile(src, tmp);
    await fsp.rename(tmp, dst);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

/** Writes JSON the way nnU-Net's save_json does (indent 4), atomically. */
export async function writeJsonAtomic(file: string, value: unknown, indent = 4): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(value, null, indent) + "\n");
}

/** Reads and parses a JSON file; a missing or malformed file is an error naming it. */
export async function readJson<T = unknown>(file: string): Promise<T> {
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (err) {
    throw new InputError((err as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (err as Error).message, { file, cause: err });
  }
  return parseJsonText<T>(text, file);
}

/** JSON.parse that also accepts the bare NaN / Infinity Python's json writes (they become null), with a named error. */
export function parseJsonText<T = unknown>(text: string, file: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    try {
      return JSON.parse(text.replace(/(?<=[:[,]\s*)(NaN|-?Infinity)(?=\s*[,\]}])/g, "null")) as T;
    } catch {
      throw new InputError(`not valid JSON (${(err as Error).message})`, { file, cause: err });
    }
  }
}

export async function exists(p: string): Promise<boolean> {
  try { await fsp.access(p); return true; } catch { return false; }
}
