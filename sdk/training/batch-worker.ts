// Worker side of BatchProducer: builds the batches it is asked for ({k}) and posts them back with their typed arrays
// transferred, keeping its own case cache.

import { parentPort, workerData } from "node:worker_threads";
import { buildBatch, type BatchJob } from "./batch-producer.js";
import { CaseCache } from "./case-reader.js";
import { transferables } from "../util/pool.js";

const job = workerData as BatchJob;
const cache = new CaseCache(job.folder, job.cacheBytes);

parentPort!.on("message", async ({ k }: { k: number }) => {
  try {
    const batch = await buildBatch(job, k, cache);
    parentPort!.postMessage({ k, batch }, transferables({ d: batch.data, t: batch.targets.map((t) => t.data) }));
  } catch (err) {
    const e = err as Error;
    parentPort!.postMessage({ k, error: { name: e?.name ?? "Error", message: e?.message ?? String(err), stack: e?.stack } });
  }
});
