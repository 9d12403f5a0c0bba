// nnU-Net's training bookkeeping: the MetaLogger lists that go into checkpoints (`logging`), the EMA of the pseudo
// Dice, and training_log_<Y>_<M>_<D>_<HH>_<MM>_<SS>.txt with `<timestamp>: <message>` lines like print_to_log_file.

import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { ensureDir, ioError } from "../util/fs.js";

export interface TrainingLogging {
  mean_fg_dice: number[];
  ema_fg_dice: number[];
  dice_per_class_or_region: number[][];
  train_losses: number[];
  val_losses: number[];
  lrs: number[];
  epoch_start_timestamps: number[];
  epoch_end_timestamps: number[];
}

export function emptyLogging(): TrainingLogging {
  return {
    mean_fg_dice: [],
    ema_fg_dice: [],
    dice_per_class_or_region: [],
    train_losses: [],
    val_losses: [],
    lrs: [],
    epoch_start_timestamps: [],
    epoch_end_timestamps: [],
  };
}

/** MetaLogger.log('mean_fg_dice', x): also appends the EMA `0.9 * ema[-1] + 0.1 * x` (the first value as is). */
export function logMeanFgDice(l: TrainingLogging, value: number): void {
  l.mean_fg_dice.push(value);
  const prev = l.ema_fg_dice[l.ema_fg_dice.length - 1];
  l.ema_fg_dice.push(prev === undefined ? value : prev * 0.9 + 0.1 * value);
}

/** Cuts every list to `epochs` entries (a checkpoint restored after a kill may be followed by a partial epoch). */
export function truncateLogging(l: TrainingLogging, epochs: number): TrainingLogging {
  const out = emptyLogging();
  for (const k of Object.keys(out) as (keyof TrainingLogging)[]) (out[k] as unknown[]) = ((l[k] ?? []) as unknown[]).slice(0, epochs);
  return out;
}

/** Python's repr of a float (`2e-05`, `0.5`, `1.0`, `nan`), used so log lines read like upstream's. */
export function pyRepr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return x.toFixed(1);
  const a = Math.abs(x);
  if (a < 1e-4 || a >= 1e16) {
    const [m, e] = x.toExponential().split("e") as [string, string];
    const exp = Number(e);
    return `${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  return String(x);
}

/** np.round(x, decimals) (half to even on the scaled value, close enough for display). */
export function npRound(x: number, decimals: number): number {
  const f = 10 ** decimals;
  const y = x * f;
  const r = Math.round(y);
  return (Math.abs(y % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r) / f;
}

function two(n: number): string {
  return String(n).padStart(2, "0");
}

/** `datetime.now()` as Python prints it: 2026-07-03 09:00:05.123000. */
export function pyNow(d = new Date()): string {
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds() * 1000).padStart(6, "0")}`;
}

/** Appends lines to the run's training_log file (created on first use), optionally echoing them. */
export class TrainingLogFile {
  readonly file: string;
  constructor(
    folder: string,
    private readonly echo: ((line: string) => void) | null = null,
    start = new Date(),
  ) {
    const name = `training_log_${start.getFullYear()}_${start.getMonth() + 1}_${start.getDate()}_${two(start.getHours())}_${two(start.getMinutes())}_${two(start.getSeconds())}.txt`;
    this.file = path.join(folder, name);
  }

  /** print_to_log_file(*args): args joined by spaces, prefixed with the timestamp. */
  async print(...args: unknown[]): Promise<void> {
    const msg = args
      .map((a) =>
        typeof a === "number" ? pyRepr(a) : Array.isArray(a) ? `[${a.map((x) => (typeof x === "number" ? pyRepr(x) : String(x))).join(", ")}]` : String(a),
      )
      .join(" ");
    const line = `${pyNow()}: ${msg}\n`;
    await ensureDir(path.dirname(this.file));
    await fsp.appendFile(this.file, line).catch((err) => {
      throw ioError(err, "write", this.file);
    });
    this.echo?.(msg);
  }
}
