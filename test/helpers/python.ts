// Runs snippets with Debian's /usr/bin/python3 (python3-nibabel, python3-numpy, python3-torch), which serve as oracles
// in tests. The pyenv `python3` first on PATH lacks these modules, so the absolute path is used on purpose.
// Tests that need a module call `pythonSkipReason(["nibabel"])` and skip with that reason when it is not null; under
// CI=true a missing module throws instead (helpers/ci.ts), so CI fails rather than skipping the oracle comparison.

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { skipUnlessCI } from "./ci.js";

export const PYTHON = "/usr/bin/python3";

const availability = new Map<string, boolean>();

/** True when `/usr/bin/python3 -c 'import <module>'` succeeds (cached per module). */
export function hasPythonModule(module: string): boolean {
  let ok = availability.get(module);
  if (ok === undefined) {
    ok = existsSync(PYTHON) && spawnSync(PYTHON, ["-c", `import ${module}`], { stdio: "ignore", timeout: 120_000 }).status === 0;
    availability.set(module, ok);
  }
  return ok;
}

/**
 * Null when all modules import, else a sentence saying what is missing (for `it.skipIf` / `describe.skipIf` titles).
 * Under CI=true a missing module throws (skipUnlessCI).
 */
export function pythonSkipReason(modules: readonly string[]): string | null {
  if (!existsSync(PYTHON)) return skipUnlessCI(`${PYTHON} not found (install Debian's python3)`);
  const missing = modules.filter((m) => !hasPythonModule(m));
  return skipUnlessCI(
    missing.length ? `${PYTHON} cannot import ${missing.join(", ")} (apt-get install ${missing.map((m) => `python3-${m}`).join(" ")})` : null,
  );
}

export const hasNibabel = (): boolean => hasPythonModule("nibabel");
export const hasTorch = (): boolean => hasPythonModule("torch");

/**
 * Runs `code` with /usr/bin/python3 and returns its stdout. `args` become sys.argv[1:]. Single-threaded BLAS/OpenMP so
 * tests stay quiet on a shared machine. Throws with python's stderr on a non-zero exit.
 */
export function runPython(code: string, args: readonly string[] = [], opts: { input?: string; timeoutMs?: number } = {}): string {
  try {
    return execFileSync(PYTHON, ["-c", code, ...args], {
      encoding: "utf8",
      input: opts.input,
      timeout: opts.timeoutMs ?? 120_000,
      maxBuffer: 256 * 1024 * 1024,
      env: { ...process.env, OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1", PYTHONHASHSEED: "0" },
      stdio: ["pipe", "pipe", "pipe"],
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`python failed: ${e.stderr?.trim().split("\n").slice(-3).join(" | ") || e.message}`, { cause: err });
  }
}

/** Runs `code` and parses the last line of its stdout as JSON (print(json.dumps(...)) at the end of the snippet). */
export function runPythonJson<T = unknown>(code: string, args: readonly string[] = [], opts: { input?: string; timeoutMs?: number } = {}): T {
  const out = runPython(code, args, opts).trimEnd().split("\n");
  return JSON.parse(out[out.length - 1]!) as T;
}
