// The interactive outputs without a browser: what goes into the page (plotly.js, figure specs, viewer voxels) must
// decode to the right data, and inside a (simulated) tslab kernel the helpers send the library once, show training
// progress at once, keep the cell's text output clean and print typed errors as one line.
// The in-page behaviour (plotly drawing, the viewer's canvas) is tested in a real browser: test/notebooks/browser.test.ts.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { inspect } from "node:util";
import { gunzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import {
  ensurePlotly,
  figureHtml,
  markDisplayed,
  plotlyLoaderHtml,
  spacingHistogram,
  trainingMonitor,
  viewVolume,
  type MimeBundle,
} from "../../kernel-extensions/index.js";
import { installNotebookErrors } from "../../kernel-extensions/errors.js";
import { InputError } from "../../sdk/errors.js";
import { closest, didYouMean } from "../../sdk/util/did-you-mean.js";
import { Dataset } from "../../sdk/facade.js";
import type { ViewerSpec } from "../../kernel-extensions/viewer-runtime.js";
import { resetInjectedLibraries } from "../../kernel-extensions/libraries.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const require = createRequire(import.meta.url);

/** The JSON in <script type="application/json" id="...-spec"> of an output. */
function specOf<T>(html: string): T {
  const m = /<script type="application\/json" id="[^"]+-spec">([\s\S]*?)<\/script>/.exec(html);
  expect(m).not.toBeNull();
  return JSON.parse(m![1]!) as T;
}
const inflate = (b64: string) => gunzipSync(Buffer.from(b64, "base64"));

describe("figureHtml(fig)", () => {
  it("carries the plotly spec (safe inside <script>) and the static SVG, and draws with window.Plotly", () => {
    const fig = spacingHistogram(
      [
        [2, 1, 1],
        [3, 1, 1],
      ],
      { targets: { "</script><b>x": [1, 1, 1] }, display: false },
    );
    const html = figureHtml(fig);
    expect(html.match(/<\/script>/g)).toHaveLength(2); // the spec and the drawing script, nothing from the data
    expect(specOf(html)).toEqual(JSON.parse(JSON.stringify(fig.plotly)));
    const img = /<img src="data:image\/svg\+xml;base64,([^"]+)"/.exec(html)!;
    expect(Buffer.from(img[1]!, "base64").toString("utf8")).toBe(fig.svg);
    expect(html).toMatch(/P\.newPlot\(box, f\.data, f\.layout/);
  });
});

describe("plotlyLoaderHtml()", () => {
  it("holds plotly.js from plotly.js-dist, gzip + base64, and hides AMD's define while evaluating it", () => {
    const html = plotlyLoaderHtml();
    const b64 = /var b64 = "([^"]+)"/.exec(html)![1]!;
    const js = inflate(b64);
    expect(js.equals(readFileSync(require.resolve("plotly.js-dist/plotly.js")))).toBe(true);
    expect(html).toContain("window.define = undefined;");
    expect(html.length).toBeLessThan(js.length / 3);
  });
});

describe("viewVolume(volumes, opts)", () => {
  const shape = [1, 6, 8, 10];
  const data = Float32Array.from({ length: 480 }, (_, i) => -100 + ((i * 7) % 300));
  const label = { data: Int16Array.from({ length: 480 }, (_, i) => (i % 31 === 0 ? 2 : i % 17 === 0 ? 1 : i === 5 ? -1 : 0)), shape };

  it("sends voxels that decode to the volume (uint16 steps), the labels, the label names and one scale", () => {
    const v = viewVolume(
      [
        { data, shape, spacing: [2, 1, 1] },
        { data, shape },
      ],
      {
        labels: [label, null],
        titles: ["raw", "other"],
        labelNames: { background: 0, organ: 1, lesion: 2 },
        display: false,
      },
    );
    const spec = specOf<ViewerSpec>(v.html);
    expect(spec.volumes.map((x) => x.title)).toEqual(["raw", "other"]);
    expect(spec.volumes[0]!.dims).toEqual([6, 8, 10]);
    expect(spec.volumes[0]!.spacing).toEqual([2, 1, 1]);
    const q = new Uint16Array(new Uint8Array(inflate(spec.volumes[0]!.image)).buffer);
    const { imin, imax } = spec.volumes[0]!;
    expect([imin, imax]).toEqual([-100, 199]);
    for (let i = 0; i < data.length; i++) expect(Math.abs(imin + (q[i]! * (imax - imin)) / 65535 - data[i]!)).toBeLessThanOrEqual((imax - imin) / 65535);
    const l = new Uint8Array(inflate(spec.volumes[0]!.label!));
    expect(l[0]).toBe(2);
    expect(l[17]).toBe(1);
    expect(l[5]).toBe(0); // the ignore label (-1) is not drawn
    expect(spec.volumes[1]!.label).toBeNull();
    expect(spec.labels).toEqual([
      { value: 1, name: "organ", color: [230, 25, 75] },
      { value: 2, name: "lesion", color: [60, 180, 75] },
    ]);
    // static fallback: both slices, titled, with the legend
    expect(v.html).toContain("raw · axis 0 slice");
    expect(v.html).toContain("1: organ");
    expect(v.html.match(/<img src="data:image\/png;base64,/g)).toHaveLength(2);
    expect(v.bundle["image/png"]).toBeUndefined();
  });

  it("static slices of side-by-side volumes show the same relative position as the first one", () => {
    const only5 = { data: new Uint8Array(480), shape };
    only5.data[5 * 80] = 1; // foreground only on slice 5
    const v = viewVolume(
      [
        { data, shape },
        { data, shape },
      ],
      { labels: [label, only5], display: false },
    );
    expect(v.images[0]!.index).not.toBe(5);
    expect(v.images[1]!.index).toBe(v.images[0]!.index);
    const half = viewVolume(
      [
        { data, shape },
        { data: new Float32Array(3 * 8 * 10), shape: [1, 3, 8, 10] },
      ],
      { index: 5, display: false },
    );
    expect(half.images.map((im) => im.index)).toEqual([5, 2]);
  });

  it("downsamples volumes above maxVoxels and says so", () => {
    const v = viewVolume({ data, shape }, { maxVoxels: 100, display: false });
    const spec = specOf<ViewerSpec>(v.html);
    expect(spec.volumes[0]!.dims).toEqual([3, 4, 5]);
    expect(spec.volumes[0]!.spacing).toEqual([2, 2, 2]);
    expect(spec.volumes[0]!.notice).toBe("shown downsampled ×2 per axis (6×8×10 → 3×4×5 voxels); the static slice is full resolution");
    expect(v.bundle["image/png"]).toBeTruthy(); // one volume: also a plain PNG for front ends without HTML
  });

  it("names the problem in one line: label count, slice index, axis", () => {
    expect(() => viewVolume([{ data, shape }], { labels: [label, label], display: false })).toThrow("viewVolume: 1 volume(s) but 2 label volume(s)");
    expect(() => viewVolume({ data, shape }, { index: 50, display: false })).toThrow(new InputError("sliceViewer: index 50 outside 0..5 on axis 0"));
  });

  it("puts a page script that never contains </script> before its end", () => {
    const html = viewVolume({ data, shape }, { display: false }).html;
    const script = html.slice(html.lastIndexOf("<script>") + 8, html.lastIndexOf("</script>"));
    expect(script).toContain("window.nnsslViewer.mount(");
    expect(script).not.toContain("</script");
    expect(() => new Function(script)).not.toThrow(); // it parses as a script
  });
});

describe("didYouMean / Dataset.case(id)", () => {
  it("suggests the closest valid names", () => {
    expect(closest("Example_99", ["Example_009", "Example_010", "Other"])).toEqual(["Example_009"]);
    expect(didYouMean("x", [])).toBe(" (there are none)");
    expect(
      didYouMean(
        "case_21",
        Array.from({ length: 20 }, (_, i) => `case_${i}`),
        "case ids",
      ),
    ).toBe(' (did you mean "case_1" or "case_11" or "case_2"? case ids: case_0, case_1, case_2, case_3, …, case_18, case_19 (20 in all))');
  });
  it("Dataset.case names the dataset and the closest case ids", async () => {
    const ds = await Dataset.load(path.join(ROOT, "datasets-examples", "Dataset001_Example"));
    expect(ds.case("Example_003").images).toHaveLength(1);
    expect(() => ds.case("Example_099")).toThrow(/^no case "Example_099" in Dataset001_Example \(did you mean "Example_009"\? case ids: Example_000, /);
    expect(() => ds.case("constructor")).toThrow(InputError);
  });
});

describe("inside a tslab kernel (simulated)", () => {
  const sent: { data: MimeBundle; transient: { display_id?: string }; update: boolean }[] = [];
  const fakeKernel = "/fake/node_modules/tslab/dist/jupyter.js";
  beforeAll(() => {
    (require.cache as Record<string, unknown>)[fakeKernel] = {
      exports: { lastWriteDisplayData: (msg: { data: MimeBundle; transient: object }, update: boolean) => sent.push({ ...msg, update }) },
    };
    resetInjectedLibraries();
  });
  afterAll(() => {
    delete (require.cache as Record<string, unknown>)[fakeKernel];
  });

  it("sends plotly.js once, before the first figure", () => {
    sent.length = 0;
    spacingHistogram([[2, 1, 1]]);
    spacingHistogram([[2, 1, 1]]);
    expect(ensurePlotly()).toBe(true);
    expect(sent.map((m) => (String(m.data["text/html"]).includes('class="nnssl-libraries"') ? "library" : "figure"))).toEqual(["library", "figure", "figure"]);
  });

  it("trainingMonitor shows progress as soon as it is made, and curves from the first iteration", () => {
    sent.length = 0;
    const m = trainingMonitor("pretrained");
    expect(sent).toHaveLength(1);
    expect(String(sent[0]!.data["text/plain"])).toMatch(/^pretrained · setting up/);
    m.onProgress({ task: "epoch 1/3", done: 0, total: 3 });
    m.onIteration({ phase: "train", epoch: 0, iteration: 0, total: 2, loss: 0.9 });
    const status = sent.filter((s) => !("application/vnd.plotly.v1+json" in s.data)).at(-1)!;
    expect(String(status.data["text/plain"])).toMatch(/^pretrained · training · epoch 1\/3 · iteration 1\/2 · .* s\/iteration · loss 0\.9000/);
    const curves = sent.filter((s) => "application/vnd.plotly.v1+json" in s.data).at(-1)!;
    const fig = curves.data["application/vnd.plotly.v1+json"] as { data: { name: string; x: number[] }[]; layout: { xaxis: { range: number[] } } };
    expect(fig.data[0]).toMatchObject({ name: "train loss (iterations)", x: [0.5] });
    expect(fig.layout.xaxis.range).toEqual([0, 3.06]);
    // Every update replaces the same two outputs.
    expect(new Set(sent.map((s) => s.transient.display_id)).size).toBe(2);
  });

  it("a displayed value prints nothing after its picture; other output is untouched", () => {
    const writes: string[] = [];
    const orig = process.stdout.write;
    process.stdout.write = ((chunk: string) => {
      writes.push(chunk);
      return true;
    }) as typeof process.stdout.write;
    try {
      const v = markDisplayed({ a: 1 }, "[figure] x");
      // What console.log(v) writes (tslab prints a cell's last value so; vitest replaces console.log itself).
      process.stdout.write(`${inspect(v)}\n`);
      process.stdout.write("kept\n");
      expect(inspect([v])).toContain("[figure] x"); // inside other values the summary still shows
    } finally {
      process.stdout.write = orig;
    }
    expect(writes).toEqual(["kept\n"]);
  });

  it("typed errors print as one line (with their cause), other errors unchanged", () => {
    expect(installNotebookErrors()).toBe(true);
    const e = new InputError("problem here", { file: "a.nii.gz", cause: new Error("inner") });
    expect(inspect(e)).toBe("InputError: a.nii.gz: problem here\n  caused by Error: inner");
    expect(inspect(new TypeError("x"))).toMatch(/^TypeError: x\n\s+at /);
  });
});
