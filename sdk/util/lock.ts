// One writer per output folder. A run that writes a preprocessed configuration, a results fold or a downloaded
// checkpoint folder first creates `.<folder>.lock` beside it (beside, because an overwrite swaps the folder itself);
// a second run on the same folder refuses with one line naming the folder and the process holding it. The lock file
// says which process holds it, so the lock of a killed run (its pid is gone) is taken over by the next run.

import { promises as fsp } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { LockError } from "../errors.js";
import { ensureDir, ioError, pidAlive, tempName } from "./fs.js";

/** What a lock file holds (JSON). */
export interface LockOwner {
  pid: number;
  host: string;
  /** The command line of the holding process, for the message. */
  command: string;
  /** ISO time the lock was taken. */
  started: string;
  /** Random, to tell two locks of the same pid apart. */
  token: string;
}

export interface FolderLock {
  /** The lock file. */
  file: string;
  /** The locked folder. */
  folder: string;
  release(): Promise<void>;
}

/** `.<name>.lock` beside `folder`. */
export function lockFileOf(folder: string): string {
  const abs = path.resolve(folder);
  return path.join(path.dirname(abs), `.${path.basename(abs)}.lock`);
}

function commandLine(): string {
  const script = process.argv[1] ? path.basename(process.argv[1]).replace(/\.js$/, "") : "node";
  const line = [script, ...process.argv.slice(2)].join(" ");
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

async function readOwner(file: string): Promise<LockOwner | null> {
  try {
    const o = JSON.parse(await fsp.readFile(file, "utf8")) as LockOwner;
    return Number.isInteger(o?.pid) ? o : null;
  } catch {
    return null;
  }
}

/** A lock whose process is gone (same machine, pid not running), or a lock file that is unreadable and not new. */
async function isStale(file: string, owner: LockOwner | null): Promise<boolean> {
  if (owner) return owner.host === os.hostname() && !pidAlive(owner.pid);
  // a lock being written right now is unreadable for a moment; one still unreadable after 10 s is garbage
  const st = await fsp.stat(file).catch(() => null);
  return st !== null && Date.now() - st.mtimeMs > 10_000;
}

function describe(owner: LockOwner | null): string {
  if (!owner) return "another process (unreadable lock file)";
  const who = owner.pid === process.pid && owner.host === os.hostname() ? `this process (pid ${owner.pid})` : `process ${owner.pid}`;
  return `${who}${owner.host !== os.hostname() ? ` on ${owner.host}` : ""} (${owner.command}, since ${owner.started})`;
}

/** Creates `file` with `text` only if it does not exist (EEXIST otherwise); never leaves it half-written. */
async function createExclusive(file: string, text: string): Promise<void> {
  const tmp = tempName(file);
  await fsp.writeFile(tmp, text);
  try {
    await fsp.link(tmp, file);
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

/**
 * Takes the lock of `folder` (the folder itself need not exist), or throws a LockError naming the folder and the
 * process that holds it. A lock left by a dead process is taken over. Release it with `release()` (in a finally).
 * @example const lock = await lockFolder(outputFolder); try { ... } finally { await lock.release(); }
 */
export async function lockFolder(folder: string): Promise<FolderLock> {
  const file = lockFileOf(folder);
  await ensureDir(path.dirname(file));
  const me: LockOwner = {
    pid: process.pid,
    host: os.hostname(),
    command: commandLine(),
    started: new Date().toISOString(),
    token: randomBytes(8).toString("hex"),
  };
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      await createExclusive(file, JSON.stringify(me) + "\n");
      return { file, folder, release: () => releaseLock(file, me.token) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw ioError(err, "create the lock file", file);
    }
    const owner = await readOwner(file);
    if (!(await isStale(file, owner))) {
      if (owner === null) {
        await sleep(200);
        continue;
      }
      throw new LockError(`in use by ${describe(owner)}; wait for it to finish or stop it, then run again`, { file: folder });
    }
    await takeOver(file, owner);
  }
  throw new LockError(`could not take the lock ${file}`, { file: folder });
}

/**
 * Removes a stale lock. Two runs may find the same stale lock at once, so the removal happens under a second,
 * short-lived `<lock>.takeover` file, and only if the lock still has the stale owner's token.
 */
async function takeOver(file: string, stale: LockOwner | null): Promise<void> {
  const guard = `${file}.takeover`;
  try {
    await createExclusive(guard, JSON.stringify({ pid: process.pid, host: os.hostname() }));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw ioError(err, "create the lock file", guard);
    // someone else is taking over; a guard left by a process killed in these few lines is removed
    const g = await readOwner(guard);
    if (g && g.host === os.hostname() && !pidAlive(g.pid)) await fsp.rm(guard, { force: true });
    await sleep(20);
    return;
  }
  try {
    const now = await readOwner(file);
    if ((now?.token ?? null) === (stale?.token ?? null)) await fsp.rm(file, { force: true });
  } finally {
    await fsp.rm(guard, { force: true });
  }
}

async function releaseLock(file: string, token: string): Promise<void> {
  const owner = await readOwner(file);
  if (owner?.token === token) await fsp.rm(file, { force: true });
}

/**
 * Throws a LockError when another live process holds the lock of `folder` (to refuse reading a folder that is being
 * rewritten); a stale lock is ignored.
 */
export async function assertNotLocked(folder: string, doing: string): Promise<void> {
  const file = lockFileOf(folder);
  const owner = await readOwner(file);
  if (owner === null && !(await fsp.stat(file).catch(() => null))) return;
  if (await isStale(file, owner)) return;
  throw new LockError(`being written by ${describe(owner)}; ${doing} has to wait until it has finished`, { file: folder });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` holding the lock of `folder`. */
export async function withFolderLock<T>(folder: string, fn: () => Promise<T>): Promise<T> {
  const lock = await lockFolder(folder);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
