// Training curves like nnU-Net's progress.png: losses with pseudo-Dice (and its EMA), epoch duration, learning rate.
// `liveTrainingCurves()` returns a callback that redraws one output in place after every epoch.

import { UpdatingDisplay } from "./mime.js";
import { panelsFigure, showFigure, type Figure } from "./figure.js";
import { PALETTE, type LineSeries, type Panel } from "./svg-chart.js";

/** nnU-Net's `logging` dict (as stored in checkpoints); every list has one entry per finished epoch. */
export interface TrainingLog {
  train_losses: readonly number[];
  val_losses: readonly number[];
  mean_fg_dice: readonly number[];
  ema_fg_dice: readonly number[];
  lrs: readonly number[];
  epoch_start_timestamps?: readonly number[];
  epoch_end_timestamps?: readonly number[];
}

export interface CurveSeries { name: string; log: TrainingLog }

const epochs = (n: number) => Float64Array.from({ length: n }, (_, i) => i);

function panelsFor(series: readonly CurveSeries[]): Panel[] {
  const many = series.length > 1;
  const tag = (s: CurveSeries, what: string) => (many ? `${s.name} ${what}` : what);
  const loss: LineSeries[] = [], dice: LineSeries[] = [], lr: LineSeries[] = [], time: LineSeries[] = [];
  series.forEach((s, k) => {
    const L = s.log;
    // Several runs: one colour per run, dashes tell the quantities apart; one run: one colour per quantity.
    const c = (j: number) => PALETTE[(many ? k : j) % PALETTE.length];
    loss.push({ name: tag(s, "train loss"), x: epochs(L.train_losses.length), y: L.train_losses, color: c(0) });
    loss.push({ name: tag(s, "val loss"), x: epochs(L.val_losses.length), y: L.val_losses, dash: true, color: c(1) });
    dice.push({ name: tag(s, "pseudo Dice"), x: epochs(L.mean_fg_dice.length), y: L.mean_fg_dice, dash: true, color: c(0) });
    dice.push({ name: tag(s, "pseudo Dice (EMA)"), x: epochs(L.ema_fg_dice.length), y: L.ema_fg_dice, color: c(1) });
    lr.push({ name: tag(s, "learning rate"), x: epochs(L.lrs.length), y: L.lrs, color: c(0) });
    const st = L.epoch_start_timestamps ?? [], en = L.epoch_end_timestamps ?? [];
    const n = Math.min(st.length, en.length);
    if (n) time.push({ name: tag(s, "epoch time"), x: epochs(n), y: Float64Array.from({ length: n }, (_, i) => en[i]! - st[i]!), color: c(0) });
  });
  const panels: Panel[] = [
    { title: "loss", xLabel: "epoch", yLabel: "loss", lines: loss },
    { title: "pseudo Dice", xLabel: "epoch", yLabel: "Dice", lines: dice },
    { title: "learning rate", xLabel: "epoch", yLabel: "lr", lines: lr, logY: true },
  ];
  if (time.length) panels.push({ title: "epoch duration", xLabel: "epoch", yLabel: "s", lines: time });
  return panels;
}

function summary(series: readonly CurveSeries[]): string {
  return series.map((s) => {
    const L = s.log, n = L.train_losses.length;
    if (!n) return `${s.name}: no epoch finished yet`;
    return `${s.name}: ${n} epochs, train loss ${L.train_losses[n - 1]!.toFixed(4)}, val loss ${L.val_losses[n - 1]?.toFixed(4)}, ` +
      `pseudo Dice ${L.mean_fg_dice[n - 1]?.toFixed(4)} (EMA ${L.ema_fg_dice[n - 1]?.toFixed(4)}), lr ${L.lrs[n - 1]?.toExponential(2)}`;
  }).join("\n");
}

/**
 * Draws training curves of one run, or of several runs on shared axes (e.g. pretrained vs from scratch).
 * @example trainingCurves([{ name: "pretrained", log: a.logging }, { name: "scratch", log: b.logging }])
 */
export function trainingCurves(source: TrainingLog | { logging: TrainingLog } | readonly CurveSeries[], opts: { display?: boolean; title?: string } = {}): Figure {
  const series: readonly CurveSeries[] = Array.isArray(source) ? (source as readonly CurveSeries[])
    : [{ name: "run", log: "logging" in (source as object) ? (source as { logging: TrainingLog }).logging : (source as TrainingLog) }];
  const fig = panelsFigure(panelsFor(series), { title: opts.title ?? "Training progress", height: 220, columns: 2, width: 900 });
  fig.text = summary(series);
  return opts.display === false ? fig : showFigure(fig);
}

/** A callback for the trainer's epoch-end event that redraws the curves in one notebook output. */
export function liveTrainingCurves(name = "run"): ((log: TrainingLog) => void) & { display: UpdatingDisplay } {
  const display = new UpdatingDisplay();
  const cb = ((log: TrainingLog) => {
    const fig = panelsFigure(panelsFor([{ name, log }]), { title: `Training progress (${name})`, height: 220, columns: 2, width: 900 });
    fig.text = summary([{ name, log }]);
    showFigure(fig, display);
  }) as ((log: TrainingLog) => void) & { display: UpdatingDisplay };
  cb.display = display;
  return cb;
}
