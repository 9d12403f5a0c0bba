import { describe, it, expect } from "vitest";
import { inflateSync } from "node:zlib";
import { pseudoDiceCounts, pseudoDice, addCounts } from "../../sdk/training/pseudo-dice.js";
import { pyRepr, npRound, logMeanFgDice, emptyLogging, truncateLogging } from "../../sdk/training/training-log.js";
import { renderProgress } from "../../sdk/training/progress-plot.js";

describe("pseudoDiceCounts", () => {
  it("labels: argmax vs target, background dropped, ignore label skipped", () => {
    // B=1, C=3, 4 voxels. argmax = [0, 1, 2, 1]; target = [1, 1, 2, 3 (ignore)]
    const logits = Float32Array.from([5, 0, 0, 0, /* c1 */ 0, 5, 0, 5, /* c2 */ 0, 0, 5, 0]);
    const c = pseudoDiceCounts(logits, [1, 3, 4], { data: Int16Array.from([1, 1, 2, 3]), shape: [1, 1, 4] }, { regions: false, ignoreLabel: 3 });
    expect(Array.from(c.tp)).toEqual([1, 1]);
    expect(Array.from(c.fp)).toEqual([0, 0]);
    expect(Array.from(c.fn)).toEqual([1, 0]);
    const { perClass, meanFg } = pseudoDice(c);
    expect(perClass).toEqual([2 / 3, 1]);
    expect(meanFg).toBeCloseTo(5 / 6, 12);
  });
  it("regions: logits > 0 per channel, the last target channel masks ignored voxels", () => {
    const logits = Float32Array.from([1, -1, 1]);
    const c = pseudoDiceCounts(
      logits,
      [1, 1, 3],
      { data: Uint8Array.from([1, 1, 0, /* ignore */ 0, 0, 1]), shape: [1, 2, 3] },
      { regions: true, ignoreLabel: 9 },
    );
    expect([c.tp[0], c.fp[0], c.fn[0]]).toEqual([1, 0, 1]);
  });
  it("a class absent everywhere gives NaN, ignored by the nanmean; counts add up over batches", () => {
    const a = { tp: Float64Array.from([2, 0]), fp: Float64Array.from([1, 0]), fn: Float64Array.from([1, 0]) };
    addCounts(a, { tp: Float64Array.from([1, 0]), fp: Float64Array.from([0, 0]), fn: Float64Array.from([0, 0]) });
    const d = pseudoDice(a);
    expect(d.perClass[0]).toBeCloseTo(6 / 8, 12);
    expect(Number.isNaN(d.perClass[1])).toBe(true);
    expect(d.meanFg).toBeCloseTo(0.75, 12);
  });
});

describe("training log helpers", () => {
  it.each([
    [2e-5, "2e-05"],
    [0.01, "0.01"],
    [1, "1.0"],
    [NaN, "nan"],
    [0.00536, "0.00536"],
    [1.5e-7, "1.5e-07"],
  ])("pyRepr(%f) = %s", (x, s) => {
    expect(pyRepr(x)).toBe(s);
  });
  it("npRound and the EMA of the pseudo Dice", () => {
    expect(npRound(0.0053589, 5)).toBe(0.00536);
    const l = emptyLogging();
    logMeanFgDice(l, 0.5);
    logMeanFgDice(l, 1);
    expect(l.ema_fg_dice).toEqual([0.5, 0.9 * 0.5 + 0.1]);
    expect(truncateLogging(l, 1).ema_fg_dice).toEqual([0.5]);
  });
});

describe("renderProgress", () => {
  it("writes a valid 640x600 RGB PNG whose pixels include the series colours", () => {
    const l = emptyLogging();
    l.train_losses.push(0.5, 0.2, 0.1);
    l.val_losses.push(0.6, 0.3, 0.2);
    l.lrs.push(0.01, 0.009, 0.008);
    l.mean_fg_dice.push(0.1, 0.4, 0.6);
    l.ema_fg_dice.push(0.1, 0.13, 0.18);
    l.epoch_start_timestamps.push(0, 10, 20);
    l.epoch_end_timestamps.push(9, 19, 30);
    const png = renderProgress(l);
    expect(Array.from(png.subarray(0, 8))).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
    const dv = new DataView(png.buffer, png.byteOffset);
    expect([dv.getUint32(16), dv.getUint32(20)]).toEqual([640, 600]);
    const idatLen = dv.getUint32(33);
    const raw = inflateSync(png.subarray(41, 41 + idatLen));
    expect(raw.length).toBe(600 * (640 * 3 + 1));
    let red = 0;
    for (let i = 0; i < raw.length - 2; i++) if (raw[i] === 214 && raw[i + 1] === 39 && raw[i + 2] === 40) red++;
    expect(red).toBeGreaterThan(50);
  });
});
