// Training curves like nnU-Net's progress.png: losses with pseudo-Dice (and its EMA), epoch duration, learning rate.
// The x axis counts finished epochs (1 = after the first epoch) over the whole budget, so a run shows sensible axes
// from its first epoch on. `trainingMonitor()` gives a run feedback from its first second: a progress display
// (phase, epoch, iteration, time per iteration, time left) and live curves drawn from the first iterations.

import type { EpochEndEvent, IterationEvent, ProgressEvent } from "../sdk/index.js";
import { escapeHtml, inNotebook, UpdatingDisplay } from "./mime.js";
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

export interface CurveSeries {
  name: string;
  log: TrainingLog;
}

const epochs = (n: number) => Float64Array.from({ length: n }, (_, i) => i + 1);

/** Per-iteration training losses to draw under the epoch means: x in epochs (fractional), at most `max` points. */
interface IterationCurve {
  x: number[];
  y: number[];
}

function panelsFor(series: readonly CurveSeries[], opts: { numEpochs?: number; iterations?: IterationCurve } = {}): Panel[] {
  const many = series.length > 1;
  const tag = (s: CurveSeries, what: string) => (many ? `${s.name} ${what}` : what);
  const loss: LineSeries[] = [],
    dice: LineSeries[] = [],
    lr: LineSeries[] = [],
    time: LineSeries[] = [];
  series.forEach((s, k) => {
    const L = s.log;
    // Several runs: one colour per run, dashes tell the quantities apart; one run: one colour per quantity.
    const c = (j: number) => PALETTE[(many ? k : j) % PALETTE.length];
    loss.push({ name: tag(s, "train loss"), x: epochs(L.train_losses.length), y: L.train_losses, color: c(0) });
    loss.push({ name: tag(s, "val loss"), x: epochs(L.val_losses.length), y: L.val_losses, dash: true, color: c(1) });
    dice.push({ name: tag(s, "pseudo Dice"), x: epochs(L.mean_fg_dice.length), y: L.mean_fg_dice, dash: true, color: c(0) });
    dice.push({ name: tag(s, "pseudo Dice (EMA)"), x: epochs(L.ema_fg_dice.length), y: L.ema_fg_dice, color: c(1) });
    lr.push({ name: tag(s, "learning rate"), x: epochs(L.lrs.length), y: L.lrs, color: c(0) });
    const st = L.epoch_start_timestamps ?? [],
      en = L.epoch_end_timestamps ?? [];
    const n = Math.min(st.length, en.length);
    if (n) time.push({ name: tag(s, "epoch time"), x: epochs(n), y: Float64Array.from({ length: n }, (_, i) => en[i]! - st[i]!), color: c(0) });
  });
  if (opts.iterations?.x.length) loss.unshift({ name: "train loss (iterations)", x: opts.iterations.x, y: opts.iterations.y, color: "#9ecae1" });
  const done = Math.max(0, ...series.map((s) => s.log.train_losses.length), Math.ceil(opts.iterations?.x.at(-1) ?? 0));
  // A little room right of the last epoch, so its markers are not cut at the edge.
  const xRange: [number, number] = [0, 1.02 * Math.max(1, opts.numEpochs ?? 0, done)];
  const panels: Panel[] = [
    { title: "loss", xLabel: "epoch", yLabel: "loss", lines: loss, xRange },
    { title: "pseudo Dice", xLabel: "epoch", yLabel: "Dice", lines: dice, xRange, yRange: [0, 1] },
    { title: "learning rate", xLabel: "epoch", yLabel: "lr", lines: lr, logY: true, xRange },
  ];
  if (time.length) panels.push({ title: "epoch duration", xLabel: "epoch", yLabel: "s", lines: time, xRange });
  return panels;
}

function summary(series: readonly CurveSeries[]): string {
  return series
    .map((s) => {
      const L = s.log,
        n = L.train_losses.length;
      if (!n) return `${s.name}: no epoch finished yet`;
      return (
        `${s.name}: ${n} epochs, train loss ${L.train_losses[n - 1]!.toFixed(4)}, val loss ${L.val_losses[n - 1]?.toFixed(4)}, ` +
        `pseudo Dice ${L.mean_fg_dice[n - 1]?.toFixed(4)} (EMA ${L.ema_fg_dice[n - 1]?.toFixed(4)}), lr ${L.lrs[n - 1]?.toExponential(2)}`
      );
    })
    .join("\n");
}

/**
 * Draws training curves of one run, or of several runs on shared axes (e.g. pretrained vs from scratch).
 * @example trainingCurves([{ name: "pretrained", log: a.logging }, { name: "scratch", log: b.logging }])
 */
export function trainingCurves(
  source: TrainingLog | { logging: TrainingLog } | readonly CurveSeries[],
  opts: { display?: boolean; title?: string; numEpochs?: number } = {},
): Figure {
  const series: readonly CurveSeries[] = Array.isArray(source)
    ? (source as readonly CurveSeries[])
    : [{ name: "run", log: "logging" in (source as object) ? (source as { logging: TrainingLog }).logging : (source as TrainingLog) }];
  const fig = panelsFigure(panelsFor(series, { numEpochs: opts.numEpochs }), { title: opts.title ?? "Training progress", height: 220, columns: 2, width: 900 });
  fig.text = summary(series);
  return opts.display === false ? fig : showFigure(fig);
}

/** A callback for the trainer's epoch-end event that redraws the curves in one notebook output. */
export function liveTrainingCurves(name = "run", { numEpochs }: { numEpochs?: number } = {}): ((log: TrainingLog) => void) & { display: UpdatingDisplay } {
  const display = new UpdatingDisplay();
  const cb = ((log: TrainingLog) => {
    const fig = panelsFigure(panelsFor([{ name, log }], { numEpochs }), { title: `Training progress (${name})`, height: 220, columns: 2, width: 900 });
    fig.text = summary([{ name, log }]);
    showFigure(fig, display);
  }) as ((log: TrainingLog) => void) & { display: UpdatingDisplay };
  cb.display = display;
  return cb;
}

/** The training events a monitor handles; spread it into `finetune` / `train` options. */
export interface TrainingMonitor {
  onProgress: (e: ProgressEvent) => void;
  onIteration: (e: IterationEvent) => void;
  onEpochEnd: (e: EpochEndEvent) => void;
  onLog: (line: string) => void;
}

const fmtSeconds = (s: number) =>
  !Number.isFinite(s) ? "—" : s < 90 ? `${s.toFixed(s < 10 ? 1 : 0)} s` : s < 5400 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`;

/** Mean loss per bin, so a long run's per-iteration curve stays at most `max` points. */
function binned(x: readonly number[], y: readonly number[], max: number): IterationCurve {
  if (x.length <= max) return { x: [...x], y: [...y] };
  const k = Math.ceil(x.length / max),
    out: IterationCurve = { x: [], y: [] };
  for (let i = 0; i < x.length; i += k) {
    const n = Math.min(k, x.length - i);
    let sx = 0,
      sy = 0;
    for (let j = i; j < i + n; j++) {
      sx += x[j]!;
      sy += y[j]!;
    }
    out.x.push(sx / n);
    out.y.push(sy / n);
  }
  return out;
}

/**
 * Feedback for a training run from its first second: a progress display (phase, epoch, iteration within the epoch,
 * seconds per iteration, time left) shown as soon as the monitor is made, and live curves that draw the training loss
 * of every iteration and the epoch values (val loss, pseudo Dice, learning rate) as they come. Spread it into the
 * options of `finetune` / `train`. Outside a notebook it prints one line per epoch.
 * @example const run = await pre.finetune({ numEpochs: 4, ...trainingMonitor("pretrained") })
 */
export function trainingMonitor(name = "run", { minIntervalMs = 500 } = {}): TrainingMonitor {
  const notebook = inNotebook();
  const status = new UpdatingDisplay();
  const curves = new UpdatingDisplay();
  const t0 = Date.now();
  const st = {
    phase: "setting up (data, network, weights)",
    epoch: 0,
    numEpochs: 0,
    iteration: 0,
    perEpoch: 0,
    valPerEpoch: 0,
    itSeconds: NaN,
    valItSeconds: NaN,
    lastIterAt: 0,
    lastDraw: 0,
    lastStatus: 0,
    finished: false,
    log: null as TrainingLog | null,
    itX: [] as number[],
    itY: [] as number[],
    lastLoss: NaN,
  };
  const ema = (old: number, x: number) => (Number.isNaN(old) ? x : 0.8 * old + 0.2 * x);

  function left(): number {
    if (!st.numEpochs || !st.perEpoch || Number.isNaN(st.itSeconds)) return NaN;
    const val = Number.isNaN(st.valItSeconds) ? st.itSeconds : st.valItSeconds;
    const trainLeft = st.perEpoch * (st.numEpochs - st.epoch) - (st.phase === "training" ? st.iteration : st.perEpoch);
    const valLeft = st.valPerEpoch * (st.numEpochs - st.epoch) - (st.phase === "validation" ? st.iteration : 0);
    return Math.max(0, trainLeft) * st.itSeconds + Math.max(0, valLeft) * val;
  }

  function drawStatus(force = false): void {
    const now = Date.now();
    if (!force && now - st.lastStatus < minIntervalMs) return;
    st.lastStatus = now;
    const elapsed = (now - t0) / 1000;
    const inLoop = st.perEpoch > 0;
    const total = st.perEpoch + st.valPerEpoch;
    const doneInEpoch = st.phase === "validation" ? st.perEpoch + st.iteration : st.iteration;
    const parts = [
      `<b>${escapeHtml(name)}</b>`,
      escapeHtml(st.phase),
      inLoop ? `epoch ${Math.min(st.epoch + 1, st.numEpochs)}/${st.numEpochs}` : "",
      inLoop && !st.finished
        ? `${st.phase === "validation" ? "validation" : "iteration"} ${st.iteration}/${st.phase === "validation" ? st.valPerEpoch : st.perEpoch}`
        : "",
      Number.isNaN(st.itSeconds) ? "" : `${st.itSeconds.toFixed(2)} s/iteration`,
      Number.isNaN(st.lastLoss) ? "" : `loss ${st.lastLoss.toFixed(4)}`,
      `elapsed ${fmtSeconds(elapsed)}`,
      st.finished ? "" : `left ${Number.isNaN(left()) ? "estimating…" : `~${fmtSeconds(left())}`}`,
    ].filter(Boolean);
    const bar = inLoop && !st.finished ? ` <progress value="${doneInEpoch}" max="${total}" style="width:160px;vertical-align:middle"></progress>` : "";
    const text = parts.join(" · ").replace(/<[^>]+>/g, "");
    if (notebook) status.update({ "text/html": `<div style="font:12px sans-serif">${parts.join(" · ")}${bar}</div>`, "text/plain": text });
  }

  function drawCurves(force = false): void {
    const now = Date.now();
    if (!notebook || (!force && now - st.lastDraw < 4 * minIntervalMs)) return;
    st.lastDraw = now;
    const log = st.log ?? { train_losses: [], val_losses: [], mean_fg_dice: [], ema_fg_dice: [], lrs: [] };
    const fig = panelsFigure(panelsFor([{ name, log }], { numEpochs: st.numEpochs, iterations: binned(st.itX, st.itY, 2000) }), {
      title: `Training progress (${name})`,
      height: 220,
      columns: 2,
      width: 900,
    });
    fig.text = summary([{ name, log }]);
    showFigure(fig, curves);
  }

  drawStatus(true);
  return {
    onLog(line: string) {
      if (/^Training done/.test(line)) {
        st.finished = true;
        st.phase = "training done";
        drawStatus(true);
      } else if (/^Loaded pretrained weights/.test(line)) {
        st.phase = "pretrained weights loaded, starting data loaders";
        drawStatus(true);
      }
    },
    onProgress(e: ProgressEvent) {
      const m = /^epoch (\d+)\/(\d+)$/.exec(e.task);
      if (m) {
        st.epoch = Number(m[1]) - 1;
        st.numEpochs = Number(m[2]);
      }
    },
    onIteration(e: IterationEvent) {
      const now = Date.now();
      // Intervals that span an epoch's end (checkpoints, plots) or the switch to validation are not iterations.
      if (st.lastIterAt && e.iteration > 0) {
        const dt = (now - st.lastIterAt) / 1000;
        if (e.phase === "train") st.itSeconds = ema(st.itSeconds, dt);
        else st.valItSeconds = ema(st.valItSeconds, dt);
      } else if (!st.lastIterAt) {
        st.itSeconds = (now - t0) / 1000; // the first iteration includes the set-up; replaced as soon as there is a second
      }
      st.lastIterAt = now;
      st.epoch = e.epoch;
      st.phase = e.phase === "train" ? "training" : "validation";
      st.iteration = e.iteration + 1;
      if (e.phase === "train") {
        st.perEpoch = e.total;
        st.lastLoss = e.loss;
        st.itX.push(e.epoch + (e.iteration + 1) / e.total);
        st.itY.push(e.loss);
      } else st.valPerEpoch = e.total;
      drawStatus(st.itX.length <= 2);
      drawCurves(st.itX.length <= 2);
    },
    onEpochEnd(e: EpochEndEvent) {
      st.log = e.logging as unknown as TrainingLog;
      st.numEpochs = e.numEpochs;
      st.epoch = e.epoch + 1;
      st.iteration = 0;
      if (st.epoch >= st.numEpochs) {
        st.finished = true;
        st.phase = `trained ${st.numEpochs} epochs`;
      } else st.phase = "training";
      drawStatus(true);
      drawCurves(true);
      if (!notebook) {
        process.stdout.write(
          `${name}: epoch ${e.epoch + 1}/${e.numEpochs} train loss ${e.trainLoss.toFixed(4)} val loss ${e.valLoss.toFixed(4)} ` +
            `pseudo Dice ${e.meanFgDice.toFixed(4)} (${e.epochSeconds.toFixed(1)} s)\n`,
        );
      }
    },
  };
}
