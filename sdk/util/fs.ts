// File helpers that never leave half-written files: write to a temporary name in the same folder, then rename.

import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { InputError, IOError, NnsslAdaptError } from "../errors.js";

/** A temporary sibling name for `file` (same folder, so rename is atomic). */
export function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/** Names made by tempName: `.<name>.tmp-<pid>-<8 hex>`; group 1 is the pid of the process that made it. */
export const TEMP_NAME_PATTERN = /^\..+\.tmp-(\d+)-[0-9a-f]{8}$/;

/** Whether a process with this pid runs on this machine (EPERM: it runs, as another user). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the temporary files and folders (tempName pattern) in `folder` whose process is gone: what a killed run
 * left behind (half-written arrays, a partial checkpoint). Files of live processes and all other names are kept.
 * Returns the removed paths; a missing folder is no error.
 */
export async function removeStaleTempFiles(folder: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fsp.readdir(folder);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = TEMP_NAME_PATTERN.exec(n);
    if (!m || pidAlive(Number(m[1]))) continue;
    const p = path.join(folder, n);
    try {
      await fsp.rm(p, { recursive: true, force: true });
      removed.push(p);
    } catch (err) {
      throw ioError(err, "remove the stale temporary file", p);
    }
  }
  return removed;
}

const ERRNO_WORDS: Readonly<Record<string, string>> = {
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only file system",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOTDIR: "a part of the path is a file, not a folder",
  EISDIR: "is a folder, not a file",
  ENOENT: "no such file or folder",
  EEXIST: "already exists",
  ENOTEMPTY: "folder not empty",
  EMFILE: "too many open files",
  ENFILE: "too many open files in the system",
  ENAMETOOLONG: "file name too long",
  EIO: "input/output error",
  ELOOP: "too many symbolic links",
  EBUSY: "resource busy",
};

/** True for Node's system errors (they carry an errno name in `code` and the failing `syscall`). */
export function isSystemError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === "string" && typeof (err as NodeJS.ErrnoException).syscall === "string";
}

/**
 * A system error as an IOError naming `file` (the path the user knows, not a hidden temporary name) and what was being
 * done (`write`, `create folder`, ...): `<file>: cannot write: no space left on device (ENOSPC)`. Errors of ours and
 * other exceptions are returned unchanged.
 */
export function ioError(err: unknown, operation: string, file: string): unknown {
  if (err instanceof NnsslAdaptError || !isSystemError(err)) return err;
  const code = err.code!;
  const words = ERRNO_WORDS[code] ?? err.message.replace(/^[A-Z]+: /, "").replace(/, \w+ '.*'$/, "");
  return new IOError(`cannot ${operation}: ${words} (${code})`, { file, code, cause: err });
}

/**
 * mkdir -p that reports the real reason. Node's recursive mkdir says ENOENT when a parent is read-only (EROFS) or not
 * writable, so on failure the first missing component is created alone to learn the actual error.
 */
export async function ensureDir(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true });
    return;
  } catch (err) {
    const st = await fsp.stat(dir).catch(() => null);
    if (st?.isDirectory()) return;
    let cause = err;
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      let p = path.resolve(dir);
      while (path.dirname(p) !== p && !(await fsp.stat(path.dirname(p)).catch(() => null))) p = path.dirname(p);
      try {
        await fsp.mkdir(p);
      } catch (e) {
        cause = e;
      }
    }
    throw ioError(cause, "create folder", dir);
  }
}

/**
 * Checks before long work that `folder` can be created and written: creates it, then writes and removes a small
 * temporary file. Throws an IOError naming `folder` (read-only, permission, a file in the way, disk full).
 */
export async function probeWritable(folder: string): Promise<void> {
  await ensureDir(folder);
  const probe = tempName(path.join(folder, "write-probe"));
  try {
    await fsp.writeFile(probe, "nnssl-adapt write probe\n");
  } catch (err) {
    throw ioError(err, "write into the folder", folder);
  } finally {
    await fsp.rm(probe, { force: true }).catch(() => {});
  }
}

/** Writes `data` to `file` atomically: readers see the old file or the complete new one, never a truncated one. */
export async function writeFileAtomic(file: string, data: string | Uint8Array | readonly Uint8Array[]): Promise<void> {
  await ensureDir(path.dirname(file));
  const tmp = tempName(file);
  try {
    if (Array.isArray(data)) {
      const h = await fsp.open(tmp, "w");
      try {
        for (const chunk of data as readonly Uint8Array[]) await h.write(chunk);
      } finally {
        await h.close();
      }
    } else {
      await fsp.writeFile(tmp, data as string | Uint8Array);
    }
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw ioError(err, "write", file);
  }
}

/** Copies `src` to `dst` atomically (a copy interrupted half-way never appears under `dst`). */
export async function copyFileAtomic(src: string, dst: string): Promise<void> {
  await ensureDir(path.dirname(dst));
  const tmp = tempName(dst);
  try {
    await fsp.copyFile(src, tmp);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    // the source is the one that cannot be read when it is missing or a folder; otherwise the target cannot be written
    const code = (err as NodeJS.ErrnoException).code;
    throw code === "ENOENT" || code === "EISDIR" ? ioError(err, "read", src) : ioError(err, `copy ${src} to this file`, dst);
  }
  try {
    await fsp.rename(tmp, dst);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw ioError(err, "write", dst);
  }
}

/**
 * Replaces folder `target` by the finished folder `staged` (a tempName sibling): the old folder is moved aside, the
 * new one renamed into place, then the old one removed. Readers see the old or the new folder; a kill between the
 * two renames leaves no folder (and both temporaries, removed by the next run), never a mix.
 */
export async function replaceFolder(staged: string, target: string): Promise<void> {
  const old = tempName(target);
  try {
    let moved = false;
    try {
      await fsp.rename(target, old);
      moved = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    await fsp.rename(staged, target);
    if (moved) await fsp.rm(old, { recursive: true, force: true });
  } catch (err) {
    throw ioError(err, "replace the folder", target);
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
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new InputError("file not found", { file, cause: err });
    throw ioError(err, "read", file);
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
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}
