// Terminal progress bar for CLI commands (cli-progress on a TTY; one line per 10% when output is piped, so logs
// still show that work is moving).

import cliProgress from "cli-progress";
import type { ProgressCallback, ProgressEvent } from "../util/progress.js";

/** Returns a ProgressCallback drawing one bar per task on stderr; call `.stop()` when the command ends. */
export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): ProgressCallback & { stop(): void } {
  let bar: cliProgress.SingleBar | undefined;
  let task: string | undefined;
  let lastDecile = -1;
  const tty = Boolean(stream.isTTY);
  const fmt = (e: ProgressEvent) =>
    e.detail
      ? Object.entries(e.detail)
          .map(([k, v]) => `${k} ${v}`)
          .join(" | ")
      : "";
  const cb = ((e: ProgressEvent) => {
    if (!tty) {
      const decile = e.total > 0 ? Math.floor((10 * e.done) / e.total) : 10;
      if (e.task !== task) {
        task = e.task;
        lastDecile = -1;
      }
      if (decile !== lastDecile) {
        lastDecile = decile;
        stream.write(`${e.task}: ${e.done}/${e.total}${e.detail ? ` | ${fmt(e)}` : ""}\n`);
      }
      return;
    }
    if (e.task !== task) {
      bar?.stop();
      task = e.task;
      bar = new cliProgress.SingleBar(
        { format: `${e.task} |{bar}| {value}/{total} {eta_formatted} {info}`, stream, hideCursor: false, clearOnComplete: false },
        cliProgress.Presets.shades_classic,
      );
      bar.start(e.total, e.done, { info: fmt(e) });
    }
    bar!.setTotal(e.total);
    bar!.update(e.done, { info: fmt(e) });
    if (e.done >= e.total) {
      bar!.stop();
      bar = undefined;
      task = undefined;
    }
  }) as ProgressCallback & { stop(): void };
  cb.stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return cb;
}
