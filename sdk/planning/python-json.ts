// Python's json.dumps layout for the plans and fingerprint files. TypeScript has one number type, so whether a value
// is written as a Python float (`3.0`) or int (`3`) is decided by its key path, the way upstream's dict holds it.

import { pythonFloatRepr } from "../evaluation/python-json.js";

export type JsonPath = readonly (string | number)[];

export interface PythonJsonOptions {
  indent?: number;
  /** json.dumps(sort_keys=True); integer-like keys sort numerically, as Python sorts the int keys it holds in memory. */
  sortKeys?: boolean;
  /** True when the number at `path` is a Python float. Default: non-integers only. */
  isFloat?: (path: JsonPath, value: number) => boolean;
}

const INT_KEY = /^(0|[1-9]\d*)$/;

function compareKeys(a: string, b: string): number {
  if (INT_KEY.test(a) && INT_KEY.test(b)) return Number(a) - Number(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

function pythonString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Serialises `value` like `json.dumps(value, indent=4, sort_keys=...)` (batchgenerators' save_json). */
export function formatPythonJson(value: unknown, { indent = 4, sortKeys = false, isFloat }: PythonJsonOptions = {}): string {
  const path: (string | number)[] = [];
  const rec = (v: unknown, level: number): string => {
    if (v === null || v === undefined) return "null";
    if (typeof v === "number") {
      const float = !Number.isFinite(v) || !Number.isInteger(v) || (isFloat?.(path, v) ?? false);
      return float ? pythonFloatRepr(v) : String(v);
    }
    if (typeof v === "boolean") return v ? "true" : "false";
    if (typeof v === "string") return pythonString(v);
    const pad = "\n" + " ".repeat(indent * (level + 1));
    const end = "\n" + " ".repeat(indent * level);
    if (Array.isArray(v) || ArrayBuffer.isView(v)) {
      const arr = Array.from(v as ArrayLike<unknown>);
      if (arr.length === 0) return "[]";
      const items = arr.map((x, i) => { path.push(i); const s = pad + rec(x, level + 1); path.pop(); return s; });
      return "[" + items.join(",") + end + "]";
    }
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    if (sortKeys) entries.sort(([a], [b]) => compareKeys(a, b));
    if (entries.length === 0) return "{}";
    const items = entries.map(([k, x]) => { path.push(k); const s = `${pad}${pythonString(k)}: ${rec(x, level + 1)}`; path.pop(); return s; });
    return "{" + items.join(",") + end + "}";
  };
  return rec(value, 0);
}
