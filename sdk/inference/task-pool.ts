// A streaming worker pool for the prediction pipeline: unlike mapInWorkers (all inputs known up front, results at the
// end), tasks are submitted one at a time and each returns its own promise, so the next case can be preprocessed and
// the previous one exported while the network runs on the current one (upstream's -npp / -nps processes).
// Uses the same worker script and message protocol as sdk/util/pool.ts. With size 0, or when the task module is
// TypeScript source (vitest), tasks run in-process.

import { Worker } from "node:worker_threads";
import { reviveError, transferables } from "../util/pool.js";

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

export class TaskPool<I, O> {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: { id: number; input: I }[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly owner = new Map<Worker, number>();
  private nextId = 0;
  private fn: Promise<(x: I) => Promise<O> | O> | null = null;
  private broken: Error | null = null;

  constructor(
    private readonly moduleUrl: URL,
    private readonly exportName: string,
    size: number,
  ) {
    if (size <= 0 || moduleUrl.pathname.endsWith(".ts")) {
      this.fn = import(moduleUrl.href).then((m) => m[exportName] as (x: I) => Promise<O> | O);
      return;
    }
    for (let k = 0; k < size; k++) {
      const w = new Worker(new URL("../util/pool-worker.js", import.meta.url), { workerData: { moduleUrl: moduleUrl.href, exportName } });
      w.on("message", (m: { i: number; output?: O; error?: { name: string; message: string; stack?: string } }) => {
        const p = this.pending.get(m.i);
        this.pending.delete(m.i);
        this.owner.delete(w);
        if (m.error) p?.reject(reviveError(m.error));
        else p?.resolve(m.output);
        this.idle.push(w);
        this.pump();
      });
      w.on("error", (err) => {
        // a crashed worker fails its own task and every later one: the pool cannot know which state it left behind
        this.broken = err;
        const id = this.owner.get(w);
        if (id !== undefined) {
          this.pending.get(id)?.reject(err);
          this.pending.delete(id);
        }
        for (const q of this.queue.splice(0)) {
          this.pending.get(q.id)?.reject(err);
          this.pending.delete(q.id);
        }
      });
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  /** Runs one task; resolves with its output. Inputs' typed arrays are transferred, so do not reuse them. */
  run(input: I): Promise<O> {
    if (this.fn) return this.fn.then((f) => f(input));
    if (this.broken) return Promise.reject(this.broken);
    const id = this.nextId++;
    const p = new Promise<O>((resolve, reject) => this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject }));
    this.queue.push({ id, input });
    this.pump();
    return p;
  }

  private pump(): void {
    while (this.idle.length && this.queue.length) {
      const w = this.idle.pop()!;
      const { id, input } = this.queue.shift()!;
      this.owner.set(w, id);
      w.postMessage({ i: id, input }, transferables(input));
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
