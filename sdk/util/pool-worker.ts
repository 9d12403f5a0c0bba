// Worker side of mapInWorkers: imports the task module once, then answers {i, input} messages with {i, output}.

import { parentPort, workerData } from "node:worker_threads";
import { transferables } from "./pool.js";

const { moduleUrl, exportName } = workerData as { moduleUrl: string; exportName: string };
const fnPromise = import(moduleUrl).then((m) => m[exportName] as (x: unknown) => unknown);

parentPort!.on("message", async ({ i, input }: { i: number; input: unknown }) => {
  try {
    const output = await (await fnPromise)(input);
    parentPort!.postMessage({ i, output }, transferables(output));
  } catch (err) {
    const e = err as Error & { file?: string };
    parentPort!.postMessage({ i, error: { name: e?.name ?? "Error", message: e?.message ?? String(err), file: e?.file, stack: e?.stack } });
  }
});
