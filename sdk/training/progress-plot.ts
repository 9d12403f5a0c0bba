// progress.png like nnU-Net's plot_progress_png, without a plotting library: three stacked panels, (1) train loss
// (blue), val loss (red), pseudo Dice (green, dotted) and its EMA (green) on a second [0, 1] axis, (2) epoch
// duration, (3) learning rate. Lines only (no text); the PNG encoder is the minimal RGB/deflate one.

import { writeFileAtomic } from "../util/fs.js";
import type { TrainingLogging } from "./training-log.js";
import { encodePng } from "../util/png.js";

type RGB = [number, number, number];

class Canvas {
  readonly px: Uint8Array;
  constructor(
    readonly w: number,
    readonly h: number,
  ) {
    this.px = new Uint8Array(w * h * 3).fill(255);
  }
  set(x: number, y: number, c: RGB): void {
    if (x < 0 || y < 0 || x >= this.w || y >= this.h) return;
    const i = (Math.round(y) * this.w + Math.round(x)) * 3;
    this.px[i] = c[0];
    this.px[i + 1] = c[1];
    this.px[i + 2] = c[2];
  }
  /** Bresenham-like line with optional dash pattern (on/off pixels) and 2-px width. */
  line(x0: number, y0: number, x1: number, y1: number, c: RGB, dash = 0): void {
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    for (let i = 0; i <= n; i++) {
      if (dash && Math.floor(i / dash) % 2 === 1) continue;
      const x = x0 + ((x1 - x0) * i) / n,
        y = y0 + ((y1 - y0) * i) / n;
      this.set(x, y, c);
      this.set(x, y + 1, c);
    }
  }
}

interface Series {
  values: number[];
  color: RGB;
  dash?: number;
  range?: [number, number];
}

function panel(cv: Canvas, top: number, height: number, series: Series[]): void {
  const left = 40,
    right = cv.w - 40,
    bottom = top + height - 20,
    ptop = top + 10;
  const grey: RGB = [160, 160, 160];
  cv.line(left, bottom, right, bottom, grey);
  cv.line(left, ptop, left, bottom, grey);
  const finite = series.filter((s) => !s.range).flatMap((s) => s.values.filter(Number.isFinite));
  let lo = finite.length ? Math.min(...finite) : 0,
    hi = finite.length ? Math.max(...finite) : 1;
  if (hi - lo < 1e-12) {
    lo -= 0.5;
    hi += 0.5;
  }
  for (const s of series) {
    const [a, b] = s.range ?? [lo, hi];
    const n = s.values.length;
    const xOf = (i: number) => left + (n <= 1 ? 0 : ((right - left) * i) / (n - 1));
    const yOf = (v: number) => bottom - ((bottom - ptop) * (v - a)) / (b - a);
    for (let i = 0; i < n; i++) {
      const v = s.values[i]!;
      if (!Number.isFinite(v)) continue;
      if (n === 1) {
        for (let d = -2; d <= 2; d++) cv.line(xOf(0) - 2, yOf(v) + d, xOf(0) + 2, yOf(v) + d, s.color);
        continue;
      }
      const w = s.values[i + 1];
      if (w !== undefined && Number.isFinite(w)) cv.line(xOf(i), yOf(v), xOf(i + 1), yOf(w), s.color, s.dash ?? 0);
    }
  }
}

/** Renders the three panels of the run so far. */
export function renderProgress(l: TrainingLogging, width = 640, panelHeight = 200): Uint8Array {
  const cv = new Canvas(width, panelHeight * 3);
  const dur = l.epoch_end_timestamps.map((e, i) => e - (l.epoch_start_timestamps[i] ?? e));
  panel(cv, 0, panelHeight, [
    { values: l.train_losses, color: [31, 119, 180] },
    { values: l.val_losses, color: [214, 39, 40] },
    { values: l.mean_fg_dice, color: [44, 160, 44], dash: 3, range: [0, 1] },
    { values: l.ema_fg_dice, color: [44, 160, 44], range: [0, 1] },
  ]);
  panel(cv, panelHeight, panelHeight, [{ values: dur, color: [31, 119, 180] }]);
  panel(cv, 2 * panelHeight, panelHeight, [{ values: l.lrs, color: [31, 119, 180] }]);
  return encodePng(cv.px, cv.w, cv.h, 3);
}

/** Writes progress.png atomically. */
export async function plotProgressPng(file: string, l: TrainingLogging): Promise<void> {
  await writeFileAtomic(file, renderProgress(l));
}
