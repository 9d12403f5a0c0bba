// arquero tables (and plain row objects) as HTML with a Markdown/text fallback.

import { displayBundle, escapeHtml, markDisplayed, type MimeBundle } from "./mime.js";

interface ArqueroLike {
  toHTML(opts?: object): string;
  toMarkdown(opts?: object): string;
  numRows(): number;
}

function isArquero(x: unknown): x is ArqueroLike {
  return typeof (x as ArqueroLike)?.toHTML === "function" && typeof (x as ArqueroLike)?.toMarkdown === "function";
}

const cell = (v: unknown): string =>
  typeof v === "number" ? (Number.isInteger(v) ? String(v) : String(+v.toPrecision(5))) : Array.isArray(v) ? `[${v.map(cell).join(", ")}]` : String(v);

/** Renders rows or an arquero table as a MIME bundle (HTML + Markdown + text). */
export function tableBundle(table: ArqueroLike | readonly Record<string, unknown>[], { limit = 50 } = {}): MimeBundle {
  if (isArquero(table)) {
    const md = table.toMarkdown({ limit });
    return { "text/html": table.toHTML({ limit }), "text/markdown": md, "text/plain": md };
  }
  const rows = table as readonly Record<string, unknown>[];
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const shown = rows.slice(0, limit);
  const html =
    `<table><thead><tr>${cols.map((c) => `<th>${escapeHtml(c)}</th>`).join("")}</tr></thead><tbody>` +
    shown.map((r) => `<tr>${cols.map((c) => `<td>${escapeHtml(cell(r[c]))}</td>`).join("")}</tr>`).join("") +
    "</tbody></table>";
  const md = [`|${cols.join("|")}|`, `|${cols.map(() => "-").join("|")}|`, ...shown.map((r) => `|${cols.map((c) => cell(r[c])).join("|")}|`)].join("\n");
  return { "text/html": html, "text/markdown": md, "text/plain": md };
}

/** Displays a table in the notebook (no-op outside one) and returns its bundle. */
export function showTable(table: ArqueroLike | readonly Record<string, unknown>[], opts: { limit?: number } = {}): MimeBundle {
  const b = tableBundle(table, opts);
  displayBundle(b);
  // One line, not the table again: tslab prints a cell's last value below the table it just displayed.
  const n = isArquero(table) ? table.numRows() : (table as readonly unknown[]).length;
  return markDisplayed(b, `[table: ${n} row${n === 1 ? "" : "s"}]`);
}
