// Per-case work in worker threads (nnU-Net uses processes for `-np`). A task is a named export of a module that takes
// one structured-cloneable input and returns a structured-cloneable output (typed arrays are transferred, not copied).
// When the module is TypeScript source (tests running under vitest) or one worker is asked for, tasks run in-process.

import { Worker } from "node:worker_threads";
import * as os from "node:os";
import { CheckpointError, ConfigError, InputError, IOError, LockError, NnsslAdaptError } from "../errors.js";
import { checkInt } from "./check-options.js";

export interface PoolOptions {
  /** Number of worker threads; default: the number of cores, at most the number of inputs. */
  numWorkers?: number;
  /** Called after each finished input with (finished count, total). */
  onProgress?: (done: number, total: number) => void;
}

/**
 * The compiled worker script. When this module runs from TypeScript source (vitest), the worker still has to be plain
 * JavaScript, so the build's copy in dist/ is used (tests run after `npm run build`).
 */
const WORKER_URL = import.meta.url.endsWith(".ts")
  ? new URL(import.meta.url.replace(/\/sdk\/util\/pool\.ts$/, "/dist/sdk/util/pool-worker.js"))
  : new URL("./pool-worker.js", import.meta.url);

/** Collects the ArrayBuffers of typed arrays inside `value` (two levels deep) so postMessage can transfer them. */
export function transferables(value: unknown, depth = 3, out: ArrayBuffer[] = []): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    const b = value.buffer;
    if (b instanceof ArrayBuffer && b.byteLength === value.byteLength && !out.includes(b)) out.push(b);
  } else if (value && typeof value === "object" && depth > 0) {
    for (const v of Array.isArray(value) ? value : Object.values(value)) transferables(v, depth - 1, out);
  }
  return out;
}

const ERROR_CLASSES: Readonly<Record<string, typeof NnsslAdaptError>> = { NnsslAdaptError, InputError, CheckpointError, ConfigError, IOError, LockError };

/** Rebuilds an error that crossed a thread boundary, keeping its user-facing class, message and file. */
export function reviveError(e: { name: string; message: string; file?: string; stack?: string }): Error {
  const cls = Object.hasOwn(ERROR_CLASSES, e.name) ? ERROR_CLASSES[e.name] : undefined;
  const err = cls ? new cls(e.message) : new Error(e.message);
  // the message already starts with the file: set the field without prefixing the message again
  if (cls && e.file !== undefined) Object.defineProperty(err, "file", { value: e.file, enumerable: true });
  if (e.stack) err.stack = e.stack;
  return err;
}

/**
 * Applies `moduleUrl#exportName` to every input, in worker threads, and returns the outputs in input order. The
 * promise always settles: it rejects when a worker cannot start, exits or crashes before its case is done, or an
 * input cannot be sent to it.
 * @example await mapInWorkers(new URL("./analyze-case.js", import.meta.url), "analyzeCase", cases, { numWorkers: 2 })
 */
export async function mapInWorkers<I, O>(moduleUrl: URL, exportName: string, inputs: readonly I[], opts: PoolOptions = {}): Promise<O[]> {
  const total = inputs.length;
  const asked = opts.numWorkers === undefined ? os.availableParallelism() : checkInt(opts.numWorkers, "numWorkers", { min: 1 });
  const n = Math.max(1, Math.min(asked, total));
  const results = new Array<O>(total);
  let done = 0;
  if (n <= 1 || moduleUrl.pathname.endsWith(".ts")) {
    const mod = await import(moduleUrl.href);
    const fn = mod[exportName] as (x: I) => Promise<O> | O;
    if (typeof fn !== "function") throw new Error(`${moduleUrl.pathname} has no export ${exportName}`);
    for (let i = 0; i < total; i++) {
      results[i] = await fn(inputs[i]!);
      done++;
      opts.onProgress?.(done, total);
    }
    return results;
  }
  return new Promise<O[]>((resolve, reject) => {
    let next = 0;
    let settled = false;
    const workers: Worker[] = [];
    /** The input index each worker is working on (-1: idle or stopped by us). */
    const busy = new Map<Worker, number>();
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      for (const w of workers) void w.terminate();
      if (err) reject(err);
      else resolve(results);
    };
    const feed = (w: Worker) => {
      if (next >= total) {
        busy.set(w, -1);
        void w.terminate();
        return;
      }
      const i = next++;
      busy.set(w, i);
      try {
        w.postMessage({ i, input: inputs[i] });
      } catch (err) {
        finish(new Error(`input ${i} of ${exportName} cannot be sent to a worker thread: ${(err as Error).message}`, { cause: err }));
      }
    };
    for (let k = 0; k < n && !settled; k++) {
      let w: Worker;
      try {
        w = new Worker(WORKER_URL, { workerData: { moduleUrl: moduleUrl.href, exportName } });
      } catch (err) {
        finish(new Error(`cannot start a worker thread for ${exportName}: ${(err as Error).message}`, { cause: err }));
        return;
      }
      workers.push(w);
      w.on("message", (m: { i: number; output?: O; error?: { name: string; message: string; file?: string; stack?: string } }) => {
        if (settled) return;
        if (m.error) return finish(reviveError(m.error));
        results[m.i] = m.output as O;
        done++;
        opts.onProgress?.(done, total);
        if (done === total) return finish();
        feed(w);
      });
      w.on("error", (err) => finish(err));
      w.on("messageerror", (err) => {
        finish(new Error(`a result of ${exportName} could not be received from its worker thread: ${err.message}`, { cause: err }));
      });
      // A worker that ends while it holds a case (process.exit in the task, out of memory, killed) would otherwise
      // leave the promise pending forever.
      w.on("exit", (code) => {
        const i = busy.get(w) ?? -1;
        if (!settled && i >= 0) finish(new Error(`worker thread stopped (exit code ${code}) while working on input ${i} of ${exportName}`));
      });
      feed(w);
    }
  });
}
