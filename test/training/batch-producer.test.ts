import { describe, it, expect, beforeAll } from "vitest";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { BatchProducer, type BatchJob } from "../../sdk/training/batch-producer.js";
import { configureAugmentation } from "../../sdk/training/augmentation/initial-patch-size.js";
import { writeSyntheticDataset } from "./helpers/synthetic-dataset.js";
import { skipUnlessCI } from "../helpers/ci.js";

let job: BatchJob;
beforeAll(async () => {
  const ds = await writeSyntheticDataset(mkdtempSync(path.join(tmpdir(), "nnssl-bp-")), { numCases: 3, id: 996 });
  const aug = configureAugmentation([8, 8, 8]);
  job = {
    folder: path.join(ds.paths.nnUNet_preprocessed, ds.datasetName, "nnUNetPlans_3d_fullres"),
    identifiers: ds.ids,
    train: true,
    seed: 11,
    stream: 0,
    loader: {
      patchSize: aug.initialPatchSize as [number, number, number],
      finalPatchSize: [8, 8, 8],
      batchSize: 2,
      oversampleForegroundPercent: 0.33,
      hasIgnore: false,
    },
    transforms: {
      patchSize: [8, 8, 8],
      is2d: false,
      doDummy2d: false,
      rotation: aug.rotation,
      mirrorAxes: [0, 1, 2],
      maskChannels: [],
      regions: null,
      dsScales: null,
    },
  };
});

async function take(p: { next(): Promise<{ data: Float32Array; keys: string[] }>; close(): Promise<void> }, n: number) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await p.next());
  await p.close();
  return out;
}

describe("BatchProducer", () => {
  it("in-thread: batches in order, reproducible, seek skips ahead, and the wait is measured", async () => {
    const a = new BatchProducer(job, { numWorkers: 0 });
    const first = await take(a, 3);
    expect(a.waitMs).toBeGreaterThan(0);
    const b = new BatchProducer(job, { numWorkers: 0 });
    b.seek(2);
    const [third] = await take(b, 1);
    expect(Array.from(third!.data)).toEqual(Array.from(first[2]!.data));
    expect(Array.from(first[0]!.data)).not.toEqual(Array.from(first[1]!.data));
  });

  const dist = path.resolve("dist/sdk/training/batch-producer.js");
  it.skipIf(skipUnlessCI(existsSync(dist) ? null : "dist/ not built (npm run build)") !== null)(
    "worker threads (from dist/) produce exactly the in-thread batches, whatever the worker count",
    async () => {
      const mod = (await import(pathToFileURL(dist).href)) as typeof import("../../sdk/training/batch-producer.js");
      const ref = await take(new BatchProducer(job, { numWorkers: 0 }), 4);
      for (const w of [1, 2]) {
        const p = new mod.BatchProducer(job, { numWorkers: w, prefetch: 3 });
        const got = await take(p, 4);
        got.forEach((b, i) => {
          expect(b.keys).toEqual(ref[i]!.keys);
          expect(Array.from(b.data)).toEqual(Array.from(ref[i]!.data));
        });
      }
    },
  );
});
