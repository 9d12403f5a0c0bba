import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { openRawDataset, verifyDatasetIntegrity } from "../../sdk/dataset/raw.js";
import { EXAMPLE_DATASET_SPEC, SYNTHETIC_PRESETS, generateExampleDataset, generateSyntheticDataset } from "../../sdk/dataset/synthetic.js";
import { readImages, readSeg } from "../../sdk/io/image-io.js";
import { tempRoot } from "./helpers.js";

const COMMITTED = path.resolve("datasets-examples/Dataset001_Example");

function listFiles(dir: string, rel = ""): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true })
    .flatMap((d) => (d.isDirectory() ? listFiles(dir, path.join(rel, d.name)) : [path.join(rel, d.name)]))
    .sort();
}

describe("generateExampleDataset(rawRoot)", () => {
  it("regenerates the committed Dataset001_Example byte for byte", async () => {
    const folder = await generateExampleDataset(tempRoot("nnssl-example-"));
    expect(path.basename(folder)).toBe("Dataset001_Example");
    const files = listFiles(COMMITTED);
    expect(listFiles(folder)).toEqual(files);
    expect(files.filter((f) => f.startsWith("imagesUnlabelled/"))).toHaveLength(8);
    for (const f of files) {
      const a = readFileSync(path.join(COMMITTED, f)),
        b = readFileSync(path.join(folder, f));
      // Compare the NIfTI bytes inside the gzip stream: the compressed bytes also depend on Node's bundled zlib version.
      if (f.endsWith(".gz")) expect(Buffer.compare(gunzipSync(a), gunzipSync(b)), f).toBe(0);
      else expect(b.toString("utf8"), f).toBe(a.toString("utf8"));
    }
  });
  it("is a valid nnU-Net dataset with 12 labelled cases of about 40 x 56 x 56 at 2 x 1 x 1 mm", async () => {
    const ds = await openRawDataset(COMMITTED);
    expect(ds.identifiers).toHaveLength(12);
    await verifyDatasetIntegrity(ds, { numWorkers: 1 });
    const v = await readImages(ds.cases[ds.identifiers[0]!]!.images);
    expect(v.properties.spacing.map((x) => +x.toFixed(4))).toEqual([2, 1, 1]);
    v.shape.slice(1).forEach((s, k) => expect(Math.abs(s - EXAMPLE_DATASET_SPEC.shape[k]!)).toBeLessThanOrEqual(EXAMPLE_DATASET_SPEC.shapeJitter));
  });
  it("has learnable contrast: organ brighter than soft tissue, lesions darker than the organ, 0 outside the body", async () => {
    const ds = await openRawDataset(COMMITTED);
    for (const id of ds.identifiers) {
      const img = await readImages(ds.cases[id]!.images),
        seg = await readSeg(ds.cases[id]!.label!);
      const sum = [0, 0, 0],
        cnt = [0, 0, 0];
      const body: number[] = [];
      let zeros = 0;
      for (let i = 0; i < seg.data.length; i++) {
        const l = seg.data[i]!,
          v = img.data[i]!;
        if (v === 0) {
          zeros++;
          expect(l).toBe(0);
          continue;
        }
        sum[l]! += v;
        cnt[l]!++;
        if (l === 0) body.push(v);
      }
      const mean = sum.map((s, k) => s / cnt[k]!);
      // The lower quartile of the unlabelled body is soft tissue (the bright fat rim can be up to half of it).
      const tissue = Float64Array.from(body).sort()[body.length >> 2]!;
      expect(cnt[1]! > 1000 && cnt[2]! > 100, id).toBe(true);
      expect(mean[1]! - tissue, id).toBeGreaterThan(80);
      expect(mean[1]! - mean[2]!, id).toBeGreaterThan(150);
      expect(zeros / seg.data.length, id).toBeGreaterThan(0.3);
    }
  });
});

describe("generateSyntheticDataset(rawRoot, spec)", () => {
  it.each(Object.entries(SYNTHETIC_PRESETS).filter(([k]) => k !== "mr-aniso-1ch"))(
    "%s passes verifyDatasetIntegrity with the declared channels and labels",
    async (_, spec) => {
      const small = { ...spec, numTraining: 2, numUnlabelled: 1 };
      const ds = await openRawDataset(await generateSyntheticDataset(tempRoot("nnssl-synth-"), small));
      await verifyDatasetIntegrity(ds, { numWorkers: 1 });
      expect(ds.cases[ds.identifiers[0]!]!.images).toHaveLength(spec.numChannels);
      const seg = await readSeg(ds.cases[ds.identifiers[0]!]!.label!);
      expect(Math.max(...new Set(seg.data))).toBe(spec.numForeground);
      const img = await readImages(ds.cases[ds.identifiers[0]!]!.images);
      expect(img.properties.sitk_stuff!.direction[0]).not.toBe(1); // non-identity orientation
    },
  );
});
