import { describe, expect, it } from "vitest";
import { inflateSync } from "node:zlib";
import { encodePng, renderSlice, sliceViewer, spacingHistogram, trainingCurves, tableBundle, inNotebook } from "../../kernel-extensions/index.js";

/** Decodes our own PNGs (filter 0 only) back to pixels, to check what was drawn. */
function decodePng(png: Uint8Array): { width: number; height: number; channels: number; pixels: Uint8Array } {
  const dv = new DataView(png.buffer, png.byteOffset);
  expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const width = dv.getUint32(16),
    height = dv.getUint32(20),
    channels = { 0: 1, 2: 3, 6: 4 }[png[25]!]!;
  let o = 8;
  const idat: Uint8Array[] = [];
  while (o < png.length) {
    const len = dv.getUint32(o);
    const type = String.fromCharCode(...png.subarray(o + 4, o + 8));
    if (type === "IDAT") idat.push(png.subarray(o + 8, o + 8 + len));
    o += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const pixels = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width * channels + 1)]).toBe(0);
    pixels.set(raw.subarray(y * (width * channels + 1) + 1, (y + 1) * (width * channels + 1)), y * width * channels);
  }
  return { width, height, channels, pixels };
}

describe("encodePng(pixels, w, h, channels)", () => {
  it("round-trips gray and RGB pixels through a standard decoder path", () => {
    const rgb = new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]);
    const d = decodePng(encodePng(rgb, 2, 2, 3));
    expect([d.width, d.height, d.channels]).toEqual([2, 2, 3]);
    expect(Array.from(d.pixels)).toEqual(Array.from(rgb));
  });
  it("rejects a pixel buffer of the wrong size", () => {
    expect(() => encodePng(new Uint8Array(5), 2, 2, 1)).toThrow(/expected 4 bytes/);
  });
});

describe("renderSlice(volume, { label })", () => {
  const shape = [1, 3, 4, 5];
  const data = Float32Array.from({ length: 60 }, (_, i) => i % 5);
  const label = { data: new Uint8Array(60), shape };
  label.data[1 * 20 + 2 * 5 + 3] = 1; // one labelled voxel on slice 1
  it("picks the slice with most foreground and colours the label", () => {
    const im = renderSlice({ data, shape }, { label, minSize: 4, alpha: 1 });
    expect(im.index).toBe(1);
    const d = decodePng(im.png);
    expect([d.width, d.height]).toEqual([5, 4]);
    expect(Array.from(d.pixels.subarray((2 * 5 + 3) * 3, (2 * 5 + 3) * 3 + 3))).toEqual([230, 25, 75]);
    const g = d.pixels[(0 * 5 + 0) * 3]!; // intensity 0 -> darkest
    expect(g).toBe(0);
  });
  it("scales pixels with the physical spacing", () => {
    const im = renderSlice({ data, shape, spacing: [1, 2, 1] }, { minSize: 1 });
    expect([im.width, im.height]).toEqual([5, 8]);
  });
  it("names both shapes when the label does not match", () => {
    expect(() => renderSlice({ data, shape }, { label: { data: new Uint8Array(24), shape: [1, 2, 3, 4] } })).toThrow(
      "label shape [2, 3, 4] differs from image [3, 4, 5]",
    );
  });
});

describe("sliceViewer([a, b])", () => {
  it("puts several volumes side by side in HTML with titles, without a kernel", () => {
    const v = { data: new Float32Array(27), shape: [1, 3, 3, 3] };
    const view = sliceViewer([v, v], { titles: ["raw", "preprocessed"], display: false });
    expect(inNotebook()).toBe(false);
    expect(view.images).toHaveLength(2);
    expect(view.html).toContain("raw");
    expect(view.html).toContain("preprocessed");
    expect(view.bundle["text/html"]).toBe(view.html);
  });
});

describe("spacingHistogram(spacings, { targets })", () => {
  it("marks each mode's target in the plotly layout and the SVG, and summarises the medians", () => {
    const fig = spacingHistogram(
      [
        [3, 0.8, 0.8],
        [1.5, 0.9, 0.9],
        [2, 0.7, 0.75],
      ],
      { targets: { like_pretrained: [1, 1, 1], no_resample: [null, null, null] }, display: false },
    );
    expect(fig.plotly.data).toHaveLength(3);
    expect((fig.plotly.layout as { shapes: object[] }).shapes).toHaveLength(3);
    expect(fig.svg).toContain("like_pretrained 1");
    expect(fig.text).toContain("median spacing [2, 0.8, 0.8]");
    expect(fig.text).toContain("no_resample: [case spacing, case spacing, case spacing]");
  });
});

describe("trainingCurves(log)", () => {
  it("draws loss, Dice and learning-rate panels and reports the last epoch", () => {
    const log = { train_losses: [0.5, 0.2], val_losses: [0.6, 0.3], mean_fg_dice: [0.1, 0.5], ema_fg_dice: [0.1, 0.14], lrs: [1e-3, 9e-4] };
    const fig = trainingCurves(log, { display: false });
    expect(fig.plotly.data.length).toBe(5);
    expect(fig.svg.match(/<polyline/g)?.length).toBe(5);
    expect(fig.text).toBe("run: 2 epochs, train loss 0.2000, val loss 0.3000, pseudo Dice 0.5000 (EMA 0.1400), lr 9.00e-4");
  });
});

describe("tableBundle(rows)", () => {
  it("renders HTML and Markdown with escaped cells", () => {
    const b = tableBundle([{ id: "a<b", n: 1.234567 }]);
    expect(b["text/html"]).toContain("a&lt;b");
    expect(b["text/markdown"]).toBe("|id|n|\n|-|-|\n|a<b|1.2346|");
  });
});
