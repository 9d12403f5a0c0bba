// Rich outputs as MIME bundles. Inside a tslab kernel, a bundle is sent as one display_data message carrying every
// representation (interactive plotly JSON, a static SVG/PNG fallback, plain text), so executed notebooks render in
// nbconvert HTML and on code hosts too. tslab's public API sends one MIME type per message; the multi-MIME writer is
// internal (tslab/dist/jupyter.js `lastWriteDisplayData`), so we find the kernel's own copy in the CommonJS cache.
// Outside a kernel nothing is sent and callers use the returned bundle (e.g. to write HTML files).

import { createRequire } from "node:module";
import { randomBytes } from "node:crypto";

/** MIME type -> content. Binary content (PNG) is base64 text, as Jupyter expects. */
export type MimeBundle = Record<string, string | object>;

type WriteDisplayData = (msg: { data: MimeBundle; metadata: object; transient: { display_id?: string } }, update: boolean) => void;

const require = createRequire(import.meta.url);

function kernelWriter(): WriteDisplayData | null {
  for (const [file, mod] of Object.entries(require.cache)) {
    if (/[\\/]tslab[\\/]dist[\\/]jupyter\.js$/.test(file)) {
      const w = (mod?.exports as { lastWriteDisplayData?: WriteDisplayData | null } | undefined)?.lastWriteDisplayData;
      if (typeof w === "function") return w;
    }
  }
  return null;
}

/** True when running inside a tslab kernel that can show rich output. */
export function inNotebook(): boolean {
  return kernelWriter() !== null;
}

/** Sends a bundle as a new output. Returns false (and sends nothing) outside a notebook. */
export function displayBundle(bundle: MimeBundle): boolean {
  const w = kernelWriter();
  if (!w) return false;
  w({ data: bundle, metadata: {}, transient: {} }, false);
  return true;
}

/** An output that is overwritten in place (progress bars, live training curves). */
export class UpdatingDisplay {
  private readonly id = randomBytes(8).toString("hex");
  private shown = false;
  last: MimeBundle | undefined;

  /** Shows `bundle`, replacing what this display showed before. Returns false outside a notebook. */
  update(bundle: MimeBundle): boolean {
    this.last = bundle;
    const w = kernelWriter();
    if (!w) return false;
    w({ data: bundle, metadata: {}, transient: { display_id: this.id } }, this.shown);
    this.shown = true;
    return true;
  }
}

/** Base64 of binary content for a bundle entry. */
export function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/**
 * Gives a returned display object a one-line printed form. tslab prints a cell's last value with console.log, and a
 * figure's full SVG/PNG payload there would bury the picture it just displayed.
 */
export function withSummary<T extends object>(value: T, summary: string): T {
  Object.defineProperty(value, Symbol.for("nodejs.util.inspect.custom"), { value: () => summary, enumerable: false });
  return value;
}

/** Starts the printed form of a value that has already been displayed (U+2063, an invisible separator). */
const DISPLAYED_MARK = "\u2063";
let stdoutFilter: typeof process.stdout.write | null = null;

/**
 * tslab prints a cell's last value with console.log. A helper that has just displayed its output returns the value
 * marked with this: inside a kernel its printed form starts with an invisible mark, and a line consisting of such a
 * form alone is dropped from stdout, so the picture is not followed by a text line repeating it. (tslab keeps its own
 * reference to console.log, so the filter sits on process.stdout.write, which tslab points at the notebook anew for
every cell; hence it is put back whenever it is missing.) Outside
 * a kernel, and inside other printed values, the one-line summary is the value's printed form.
 */
export function markDisplayed<T extends object>(value: T, summary: string): T {
  if (!inNotebook()) return withSummary(value, summary);
  withSummary(value, DISPLAYED_MARK + summary);
  if (process.stdout.write !== stdoutFilter) {
    const write = process.stdout.write;
    stdoutFilter = process.stdout.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
      if (typeof chunk === "string" && chunk.startsWith(DISPLAYED_MARK) && chunk.endsWith("\n")) {
        const cb = rest.find((r) => typeof r === "function") as (() => void) | undefined;
        cb?.();
        return true;
      }
      return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof process.stdout.write;
  }
  return value;
}
