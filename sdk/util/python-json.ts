// JSON text exactly as Python's `json.dumps(obj, indent=4, sort_keys=...)` writes it (batchgenerators' save_json, which
// nnU-Net uses for plans, fingerprints and summaries), so our files diff cleanly against upstream's: Python float repr
// (`1.0`, `1e-05`), bare `NaN`/`Infinity`, `ensure_ascii` escapes and no trailing newline. TypeScript has one number
// type, so whether a value is a Python float (`3.0`) or int (`3`) comes from a `PyFloat` marker or an `isFloat(path)`
// rule that knows which keys upstream's dict holds as floats.

/** A number a writer must emit as a Python float even when it is integral (`pyFloat(1)` -> `1.0`); JSON and pickle alike. */
export class PyFloat {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value;
  }
}

export function pyFloat(x: number): PyFloat {
  return new PyFloat(x);
}

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

export type JsonPath = readonly (string | number)[];

export interface PythonJsonOptions {
  /** Spaces per level (json.dumps `indent`). Default 4. */
  indent?: number;
  /** json.dumps(sort_keys=True): keys in Python's string order. Default false (insertion order). */
  sortKeys?: boolean;
  /**
   * With `sortKeys`: integer-like keys sort numerically ("2" before "10"). Python sorts the keys a dict holds in memory
   * and only then turns them into strings, so a dict with int keys (fingerprint channels) sorts by number.
   */
  numericIntKeys?: boolean;
  /** True when the number at `path` is a Python float. Default: non-integers (and PyFloat) only. */
  isFloat?: (path: JsonPath, value: number) => boolean;
}

const INT_KEY = /^(0|[1-9]\d*)$/;

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function compareIntKeys(a: string, b: string): number {
  if (INT_KEY.test(a) && INT_KEY.test(b)) return Number(a) - Number(b);
  return compareStrings(a, b);
}

function pythonString(s: string): string {
  // JSON.stringify escapes the same control characters as Python; Python additionally escapes non-ASCII (ensure_ascii).
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * Serialises `value` like Python's `json.dumps(value, indent=indent, sort_keys=sortKeys)`. Object entries whose value is
 * `undefined` are left out (as JSON.stringify does); `undefined` in an array is `null`.
 * @example formatPythonJson({ b: [1, pyFloat(2)], a: 0.5 }, { sortKeys: true }) // '{\n    "a": 0.5,\n    "b": [\n        1,\n        2.0\n    ]\n}'
 */
export function formatPythonJson(value: unknown, { indent = 4, sortKeys = false, numericIntKeys = false, isFloat }: PythonJsonOptions = {}): string {
  const compare = numericIntKeys ? compareIntKeys : compareStrings;
  const path: (string | number)[] = [];
  const rec = (v: unknown, level: number): string => {
    if (v === null || v === undefined) return "null";
    if (v instanceof PyFloat) return pythonFloatRepr(v.value);
    if (typeof v === "number") {
      const float = !Number.isFinite(v) || !Number.isInteger(v) || (isFloat?.(path, v) ?? false);
      return float ? pythonFloatRepr(v) : String(v);
    }
    if (typeof v === "bigint") return v.toString();
    if (typeof v === "boolean") return v ? "true" : "false";
    if (typeof v === "string") return pythonString(v);
    const pad = "\n" + " ".repeat(indent * (level + 1));
    const end = "\n" + " ".repeat(indent * level);
    if (Array.isArray(v) || ArrayBuffer.isView(v)) {
      const arr = Array.from(v as ArrayLike<unknown>);
      if (arr.length === 0) return "[]";
      const items = arr.map((x, i) => {
        path.push(i);
        const s = pad + rec(x, level + 1);
        path.pop();
        return s;
      });
      return "[" + items.join(",") + end + "]";
    }
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    if (sortKeys) entries.sort(([a], [b]) => compare(a, b));
    if (entries.length === 0) return "{}";
    const items = entries.map(([k, x]) => {
      path.push(k);
      const s = `${pad}${pythonString(k)}: ${rec(x, level + 1)}`;
      path.pop();
      return s;
    });
    return "{" + items.join(",") + end + "}";
  };
  return rec(value, 0);
}

/**
 * Parses JSON like Python's json.loads, keeping what TypeScript's JSON.parse forgets: a number written with a
 * fraction or exponent (`1.0`, `1e-05`) is a Python float and comes back as a PyFloat, so that formatPythonJson
 * writes a loaded-and-resaved file exactly as Python would. NaN / Infinity / -Infinity are accepted, as Python does.
 * @example formatPythonJson(parsePythonJson('{"a": 1.0, "b": 1}')) // '{\n    "a": 1.0,\n    "b": 1\n}'
 */
export function parsePythonJson(text: string): unknown {
  let i = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`invalid JSON at offset ${i}: ${what}`);
  };
  const ws = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\n" || text[i] === "\r" || text[i] === "\t")) i++;
  };
  const NUMBER = /-?(?:Infinity|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/y;
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const out: Record<string, unknown> = {};
      ws();
      if (text[i] === "}") {
        i++;
        return out;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expected a string key");
        const k = value() as string;
        ws();
        if (text[i++] !== ":") fail("expected ':'");
        out[k] = value();
        ws();
        const sep = text[i++];
        if (sep === "}") return out;
        if (sep !== ",") fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const out: unknown[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return out;
      }
      for (;;) {
        out.push(value());
        ws();
        const sep = text[i++];
        if (sep === "]") return out;
        if (sep !== ",") fail("expected ',' or ']'");
      }
    }
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (j >= text.length) fail("unterminated string");
      const s = JSON.parse(text.slice(i, j + 1)) as string;
      i = j + 1;
      return s;
    }
    for (const [word, v] of [
      ["true", true],
      ["false", false],
      ["null", null],
      ["NaN", new PyFloat(NaN)],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) fail("unexpected character");
    i += m![0].length;
    const tok = m![0];
    const n = tok.endsWith("Infinity") ? (tok.startsWith("-") ? -Infinity : Infinity) : Number(tok);
    return /[.eEI]/.test(tok) ? new PyFloat(n) : n;
  };
  const v = value();
  ws();
  if (i !== text.length) fail("trailing data");
  return v;
}
