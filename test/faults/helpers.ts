// Shared pieces of the fault-injection suite: which tools this machine has (strace for kills at a chosen rename, a
// private mount namespace for small tmpfs folders), running the CLI binaries with the tiny datasets, and snapshots of
// output folders (every file, hidden ones included, by content hash) to compare re-runs byte for byte.

import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const TINY = path.join(ROOT, "test/fixtures/datasets/Dataset900_Tiny");
/** Under CI the suite must run: a missing tool is a failure there, a skip (with the reason printed) elsewhere. */
export const IN_CI = process.env.CI === "true";

/** Why the suite cannot run here (null when it can): strace must trace and kill, and tmpfs must be mountable. */
export function faultToolsMissing(): string | null {
  if (process.platform !== "linux") return "the fault-injection suite needs Linux (strace, mount namespaces)";
  const st = spawnSync("strace", ["-f", "-qq", "-o", "/dev/null", "true"], { encoding: "utf8" });
  if (st.error || st.status !== 0) return `strace cannot trace here (${st.error?.message ?? st.stderr.trim()}); install it with scripts/install-system-deps.sh`;
  const dir = mkdtempSync(path.join(tmpdir(), "faults-mount-"));
  try {
    const m = spawnSync("unshare", ["-m", "sh", "-c", `mount -t tmpfs -o size=64k none '${dir}'`], { encoding: "utf8" });
    if (m.error || m.status !== 0) return `cannot mount a tmpfs in a private mount namespace (needs root: ${m.error?.message ?? m.stderr.trim()})`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return null;
}

/** Prints why the suite is skipped (outside CI) and says whether it runs. */
export function faultSuiteRuns(file: string): boolean {
  const missing = faultToolsMissing();
  if (missing && !IN_CI) console.warn(`${path.basename(file)}: skipped: ${missing}`);
  return missing === null || IN_CI;
}

export type Env = Record<string, string>;

/**
 * Runs bin/<name>.js. UV_THREADPOOL_SIZE=1 puts every asynchronous rename on one libuv thread, and strace counts
 * injections per thread, so `killAtRename: N` kills the process at exactly the N-th rename of the run (before it
 * happens). `delayRenames` (microseconds) slows every rename down, to keep a run's lock held for a while.
 */
export function runBin(
  name: string,
  args: string[],
  env: Env,
  opts: { killAtRename?: number; delayRenames?: number; trace?: string } = {},
): SpawnSyncReturns<string> {
  const node = [process.execPath, path.join(ROOT, "bin", `${name}.js`), ...args];
  const fullEnv = { ...process.env, ...env, UV_THREADPOOL_SIZE: "1", NNSSL_ADAPT_DEBUG: "" };
  const [cmd, ...rest] = traceCommand(node, opts);
  return spawnSync(cmd!, rest, { env: fullEnv, encoding: "utf8", timeout: 300_000 });
}

/** The command line for `node` with the requested strace wrapping. */
export function traceCommand(node: string[], opts: { killAtRename?: number; delayRenames?: number; trace?: string } = {}): string[] {
  const renames = "rename,renameat,renameat2";
  if (opts.killAtRename !== undefined)
    return ["strace", "-f", "-qq", "-o", "/dev/null", "-e", `inject=${renames}:signal=KILL:when=${opts.killAtRename}`, ...node];
  if (opts.delayRenames !== undefined) return ["strace", "-f", "-qq", "-o", "/dev/null", "-e", `inject=${renames}:delay_enter=${opts.delayRenames}`, ...node];
  if (opts.trace !== undefined) return ["strace", "-f", "-qq", "-o", opts.trace, "-e", `trace=${renames}`, ...node];
  return node;
}

/** Number of renames a run makes (the kill points). */
export function countRenames(name: string, args: string[], env: Env, scratch: string): { count: number; run: SpawnSyncReturns<string> } {
  const trace = path.join(scratch, `renames-${Date.now()}.txt`);
  const run = runBin(name, args, env, { trace });
  const lines = readFileSync(trace, "utf8")
    .split("\n")
    .filter((l) => /rename/.test(l) && !/resumed|unfinished/.test(l));
  const threads = new Set(lines.map((l) => l.split(/\s+/)[0]));
  if (threads.size > 1) throw new Error(`renames on ${threads.size} threads: the kill points would not be deterministic`);
  rmSync(trace);
  return { count: lines.length, run };
}

/** relative path -> sha256 of every file under `dir` (hidden files too, so leftovers show up); {} when absent. */
export function snapshot(dir: string, skip: (rel: string) => boolean = () => false): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = path.join(d, n);
      const rel = path.relative(dir, p);
      if (skip(rel)) continue;
      if (statSync(p).isDirectory()) walk(p);
      else out[rel] = createHash("sha256").update(readFileSync(p)).digest("hex");
    }
  };
  walk(dir);
  return out;
}

/** Paths under `dir` that are our temporary files or lock files (none may stay after a run ends). */
export function leftovers(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const n of readdirSync(d)) {
      const p = path.join(d, n);
      if (/\.tmp-\d+-[0-9a-f]{8}$/.test(n) || n.endsWith(".lock") || n.endsWith(".takeover")) found.push(p);
      else if (statSync(p).isDirectory()) walk(p);
    }
  };
  walk(dir);
  return found;
}

/** A private copy of Dataset900_Tiny (raw) and its planned preprocessed folder (plans, fingerprint, dataset.json). */
export function tinyRoots(prefix: string): { root: string; env: Env; preBase: string; dataFolder: string; gt: string } {
  const root = mkdtempSync(path.join(tmpdir(), prefix));
  cpSync(TINY, path.join(root, "raw", "Dataset900_Tiny"), { recursive: true, filter: (src) => !src.includes(`${path.sep}expected`) });
  const preBase = path.join(root, "pre", "Dataset900_Tiny");
  mkdirSync(preBase, { recursive: true });
  for (const f of ["nnUNetPlans.json", "dataset_fingerprint.json"]) copyFileSync(path.join(TINY, "expected", f), path.join(preBase, f));
  copyFileSync(path.join(TINY, "dataset.json"), path.join(preBase, "dataset.json"));
  const env = { nnUNet_raw: path.join(root, "raw"), nnUNet_preprocessed: path.join(root, "pre"), nnUNet_results: path.join(root, "results") };
  return { root, env, preBase, dataFolder: path.join(preBase, "nnUNetPlans_3d_fullres"), gt: path.join(preBase, "gt_segmentations") };
}

export const PREPROCESS_ARGS = ["-d", "900", "-c", "3d_fullres", "-np", "1"];
