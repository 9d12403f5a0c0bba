// Progress of long steps (preprocessing, epochs) as one notebook output updated in place, throttled so a fast loop
// does not flood the front end. Outside a notebook it falls back to one line per 10% on stdout.

import type { ProgressCallback, ProgressEvent } from "../sdk/index.js";
import { UpdatingDisplay, escapeHtml, inNotebook } from "./mime.js";

/**
 * A ProgressCallback that draws an HTML progress bar per task (text fallback included). `label` names what runs
 * (e.g. the adaptation mode) in front of the task, so bars of several runs in one cell can be told apart.
 */
export function notebookProgress({ minIntervalMs = 200, label = "" } = {}): ProgressCallback {
  const displays = new Map<string, { d: UpdatingDisplay; last: number; decile: number }>();
  return (event: ProgressEvent) => {
    const e = label ? { ...event, task: `${label}: ${event.task}` } : event;
    let s = displays.get(e.task);
    if (!s) {
      s = { d: new UpdatingDisplay(), last: 0, decile: -1 };
      displays.set(e.task, s);
    }
    const now = Date.now();
    const finished = e.done >= e.total;
    const detail = e.detail
      ? Object.entries(e.detail)
          .map(([k, v]) => `${k} ${v}`)
          .join(" · ")
      : "";
    if (!inNotebook()) {
      const decile = e.total ? Math.floor((10 * e.done) / e.total) : 10;
      if (decile !== s.decile) {
        s.decile = decile;
        process.stdout.write(`${e.task}: ${e.done}/${e.total} ${detail}\n`);
      }
      return;
    }
    if (!finished && now - s.last < minIntervalMs) return;
    s.last = now;
    const pct = e.total ? Math.round((100 * e.done) / e.total) : 100;
    s.d.update({
      "text/html":
        `<div style="font:12px sans-serif"><b>${escapeHtml(e.task)}</b> <progress value="${e.done}" max="${e.total}" style="width:240px"></progress> ` +
        `${e.done}/${e.total} (${pct}%) ${escapeHtml(detail)}</div>`,
      "text/plain": `${e.task}: ${e.done}/${e.total} (${pct}%) ${detail}`,
    });
  };
}
