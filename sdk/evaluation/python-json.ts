// JSON text exactly as Python's `json.dump(obj, f, sort_keys=True, indent=4)` writes it (nnU-Net's save_json), so
// summary.json files can be diffed against upstream's: Python float repr (`1.0`, `1e-05`), bare `NaN`/`Infinity`,
// `ensure_ascii` escapes, sorted keys, and no trailing newline.

/** Marks a number that Python holds as a float (written `1.0`, not `1`). Plain numbers are written as Python ints. */
export class PyFloat {
  constructor(readonly value: number) {}
}

export const pyFloat = (x: number): PyFloat => new PyFloat(x);

/** Python's repr(float): shortest round-trip digits, scientific when the exponent is < -4 or >= 16. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mant, expStr] = x.toExponential().split("e") as [string, string];
  const exp = parseInt(expStr, 10);
  const neg = mant.startsWith("-");
  const digits = mant.replace("-", "").replace(".", "");
  let s: string;
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp) < 10 ? `0${Math.abs(exp)}` : String(Math.abs(exp));
    s = `${m}e${exp < 0 ? "-" : "+"}${e}`;
  } else if (exp < 0) {
    s = `0.${"0".repeat(-exp - 1)}${digits}`;
  } else if (digits.length <= exp + 1) {
    s = `${digits}${"0".repeat(exp + 1 - digits.length)}.0`;
  } else {
    s = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  }
  return neg ? `-${s}` : s;
}

function pythonString(s: string): string {
  // JSON.stringify escapes the same control characters as Python; Python additionally escapes non-ASCII (ensure_ascii).
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * Serialises `value` like Python's json.dumps(value, sort_keys=sortKeys, indent=indent). Numbers are ints unless
 * wrapped in PyFloat (non-integer plain numbers are written as floats anyway).
 */
export function formatPythonJson(value: unknown, { indent = 4, sortKeys = true }: { indent?: number; sortKeys?: boolean } = {}): string {
  const rec = (v: unknown, level: number): string => {
    if (v === null || v === undefined) return "null";
    if (v instanceof PyFloat) return pythonFloatRepr(v.value);
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : pythonFloatRepr(v);
    if (typeof v === "bigint") return v.toString();
    if (typeof v === "boolean") return v ? "true" : "false";
    if (typeof v === "string") return pythonString(v);
    const pad = "\n" + " ".repeat(indent * (level + 1));
    const end = "\n" + " ".repeat(indent * level);
    if (Array.isArray(v) || ArrayBuffer.isView(v)) {
      const arr = Array.from(v as ArrayLike<unknown>);
      if (arr.length === 0) return "[]";
      return "[" + arr.map((x) => pad + rec(x, level + 1)).join(",") + end + "]";
    }
    const entries = Object.entries(v as Record<string, unknown>);
    if (sortKeys) entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (entries.length === 0) return "{}";
    return "{" + entries.map(([k, x]) => `${pad}${pythonString(k)}: ${rec(x, level + 1)}`).join(",") + end + "}";
  };
  return rec(value, 0);
}
