// Prepares batches ahead of the trainer in worker threads (nnU-Net uses NonDetMultiThreadedAugmenter processes).
// Batch k is built by worker k mod W from a RandomState seeded with (seed, stream, k), so the sequence of batches
// is reproducible given the seed, whatever the number of workers or their timing. The trainer measures how long it
// waits in next(): with enough workers that is ~0, i.e. the network never waits for data.

import { Worker } from "node:worker_threads";
import { RandomState } from "../util/random-state.js";
import { reviveError } from "../util/pool.js";
import { CaseCache } from "./case-reader.js";
import { generateBatch, type Batch, type LoaderConfig } from "./data-loader.js";
import type { TransformConfig } from "./augmentation/pipeline.js";

export interface BatchJob {
  folder: string;
  identifiers: string[];
  loader: LoaderConfig;
  transforms: TransformConfig;
  train: boolean;
  seed: number;
  /** Distinguishes the train and val streams of one run. */
  stream: number;
  /** Per-worker case cache budget. */
  cacheBytes?: number;
}

export interface BatchProducerOptions {
  /** Worker threads; 0 builds batches in the calling thread (also used automatically when running from .ts sources). */
  numWorkers?: number;
  /** Batches requested ahead of the one being consumed. */
  prefetch?: number;
}

/** A 32-bit seed for batch k of a stream (a murmur3-style mix, so nearby k give unrelated MT19937 states). */
export function batchSeed(seed: number, stream: number, k: number): number {
  let h = (seed ^ Math.imul(stream + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (k >>> 0), 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  h = (h + Math.imul(k, 0x27d4eb2f)) >>> 0;
  return h;
}

/** Builds batch `k` of a job in the current thread. */
export async function buildBatch(job: BatchJob, k: number, cache: CaseCache): Promise<Batch> {
  const rs = new RandomState(batchSeed(job.seed, job.stream, k));
  return generateBatch(job.identifiers, (id) => cache.get(id), rs, job.loader, job.transforms, job.train);
}

const WORKER_URL = new URL("./batch-worker.js", import.meta.url);

export class BatchProducer {
  /** Milliseconds next() spent waiting for a batch that was not ready yet. */
  waitMs = 0;
  private k = 0;
  private readonly pending = new Map<number, { promise: Promise<Batch>; done: boolean }>();
  private readonly workers: Worker[] = [];
  private readonly resolvers = new Map<number, { resolve: (b: Batch) => void; reject: (e: Error) => void }>();
  private readonly cache: CaseCache | null;
  private readonly prefetch: number;
  private failed: Error | null = null;

  constructor(
    private readonly job: BatchJob,
    { numWorkers = 2, prefetch = 2 * Math.max(1, numWorkers) }: BatchProducerOptions = {},
  ) {
    const inProcess = numWorkers <= 0 || WORKER_URL.pathname.endsWith(".ts") || import.meta.url.endsWith(".ts");
    this.prefetch = inProcess ? 0 : prefetch;
    this.cache = inProcess ? new CaseCache(job.folder, job.cacheBytes) : null;
    if (!inProcess) {
      for (let w = 0; w < numWorkers; w++) {
        const worker = new Worker(WORKER_URL, { workerData: job });
        worker.on("message", (m: { k: number; batch?: Batch; error?: { name: string; message: string; stack?: string } }) => {
          const r = this.resolvers.get(m.k);
          if (!r) return;
          this.resolvers.delete(m.k);
          if (m.error) r.reject(reviveError(m.error));
          else r.resolve(m.batch!);
        });
        worker.on("error", (err) => this.fail(err));
        this.workers.push(worker);
      }
    }
  }

  private fail(err: Error): void {
    this.failed = err;
    for (const r of this.resolvers.values()) r.reject(err);
    this.resolvers.clear();
  }

  private request(k: number): { promise: Promise<Batch>; done: boolean } {
    const have = this.pending.get(k);
    if (have) return have;
    let promise: Promise<Batch>;
    if (this.cache) {
      promise = buildBatch(this.job, k, this.cache);
    } else {
      promise = new Promise<Batch>((resolve, reject) => {
        if (this.failed) return reject(this.failed);
        this.resolvers.set(k, { resolve, reject });
        this.workers[k % this.workers.length]!.postMessage({ k });
      });
    }
    const entry = { promise, done: false };
    // Marks the batch as ready the moment it arrives, so next() can tell whether it had to wait for it.
    promise.then(
      () => {
        entry.done = true;
      },
      () => {
        entry.done = true;
      },
    );
    this.pending.set(k, entry);
    return entry;
  }

  /** The next batch, in order; keeps `prefetch` batches in flight. */
  async next(): Promise<Batch> {
    const k = this.k++;
    const entry = this.request(k);
    for (let j = k + 1; j <= k + this.prefetch; j++) this.request(j);
    let batch: Batch;
    if (entry.done) {
      batch = await entry.promise;
    } else {
      const t0 = performance.now();
      batch = await entry.promise;
      this.waitMs += performance.now() - t0;
    }
    this.pending.delete(k);
    return batch;
  }

  /** Skips ahead so the next batch is number `k` (used when resuming a run). */
  seek(k: number): void {
    this.k = k;
    for (const key of [...this.pending.keys()]) if (key < k) this.pending.delete(key);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}
