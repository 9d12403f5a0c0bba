// A small argparse work-alike for the upstream-named commands (nnUNetv2_*). Upstream uses Python's argparse with
// single-dash multi-letter flags (`-np`, `-pl`, `-gpu_memory_target`), which commander cannot express, and users copy
// those command lines from nnU-Net's docs. Messages follow argparse's wording, on one line, with exit code 2.

import { describeRange, inRange } from "../util/check-options.js";

export type ArgType = "str" | "int" | "float";

export interface ArgSpec {
  /** Flag spellings (`["-np"]`, `["-am", "--adaptation_mode"]`), or one positional name without dashes. */
  flags: string[];
  /** Property name in the result; defaults to the longest flag without dashes. */
  dest?: string;
  type?: ArgType;
  /** undefined: one value; "?": zero or one; "+": one or more; "*": any; n: exactly n. */
  nargs?: "?" | "+" | "*" | number;
  action?: "store" | "store_true" | "store_false";
  choices?: readonly (string | number)[];
  required?: boolean;
  default?: unknown;
  help?: string;
  metavar?: string;
  /** For int/float: smallest accepted value (inclusive); checked like `choices`, with the range in the message. */
  min?: number;
  /** For int/float: largest accepted value (inclusive). */
  max?: number;
  /** For int/float: exclusive lower bound (spacings, learning rates: > 0). */
  gt?: number;
}

export interface ParserSpec {
  prog: string;
  description?: string;
  args: ArgSpec[];
  /** Text after the options (argparse's epilog), e.g. a table of accepted values. */
  epilog?: string | (() => string);
}

/** Thrown for bad command lines; the CLI runner prints `${prog}: error: ${message}` and exits with code 2. */
export class UsageError extends Error {
  constructor(
    readonly prog: string,
    message: string,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

/** Thrown for -h/--help; carries the help text. */
export class HelpRequested extends Error {
  constructor(readonly text: string) {
    super("help requested");
  }
}

const isFlag = (s: string) => s.startsWith("-") && s.length > 1 && !/^-\d/.test(s);
const destOf = (a: ArgSpec) =>
  a.dest ??
  [...a.flags]
    .sort((x, y) => y.length - x.length)[0]!
    .replace(/^-+/, "")
    .replace(/-/g, "_");
const label = (a: ArgSpec) => (isFlag(a.flags[0]!) ? a.flags.join("/") : a.flags[0]!);

function convert(prog: string, a: ArgSpec, raw: string): string | number {
  let v: string | number = raw;
  if (a.type === "int") {
    if (!/^[+-]?\d+$/.test(raw)) throw new UsageError(prog, `argument ${label(a)}: invalid int value: '${raw}'`);
    v = parseInt(raw, 10);
  } else if (a.type === "float") {
    const f = Number(raw);
    if (raw.trim() === "" || (Number.isNaN(f) && raw.toLowerCase() !== "nan")) {
      throw new UsageError(prog, `argument ${label(a)}: invalid float value: '${raw}'`);
    }
    v = f;
  }
  if (typeof v === "number" && (a.min !== undefined || a.max !== undefined || a.gt !== undefined)) {
    if (!Number.isFinite(v) || !inRange(v, a)) {
      throw new UsageError(prog, `argument ${label(a)}: invalid value: '${raw}' (expected ${describeRange(a.type === "int" ? "integer" : "number", a)})`);
    }
  }
  if (a.choices && !a.choices.includes(v)) {
    const list = a.choices.map((c) => (typeof c === "string" ? `'${c}'` : String(c))).join(", ");
    throw new UsageError(prog, `argument ${label(a)}: invalid choice: '${raw}' (choose from ${list})`);
  }
  return v;
}

/** argparse-style usage and help text. */
export function formatHelp(spec: ParserSpec): string {
  const parts = spec.args.map((a) => {
    const name = isFlag(a.flags[0]!) ? a.flags[0]! : a.flags[0]!;
    const meta = a.metavar ?? destOf(a).toUpperCase();
    if (!isFlag(name)) return meta;
    if (a.action === "store_true" || a.action === "store_false") return `[${name}]`;
    const val =
      a.nargs === "+"
        ? `${meta} [${meta} ...]`
        : a.nargs === "*"
          ? `[${meta} ...]`
          : a.nargs === "?"
            ? `[${meta}]`
            : typeof a.nargs === "number"
              ? Array(a.nargs).fill(meta).join(" ")
              : meta;
    return a.required ? `${name} ${val}` : `[${name} ${val}]`;
  });
  const lines = [`usage: ${spec.prog} ${parts.join(" ")}`, ""];
  if (spec.description) lines.push(spec.description, "");
  const pos = spec.args.filter((a) => !isFlag(a.flags[0]!));
  const opt = spec.args.filter((a) => isFlag(a.flags[0]!));
  const row = (a: ArgSpec) => {
    const extra = a.default !== undefined && a.action !== "store_true" ? ` (default: ${JSON.stringify(a.default)})` : "";
    return `  ${label(a).padEnd(30)} ${a.help ?? ""}${extra}`;
  };
  if (pos.length) lines.push("positional arguments:", ...pos.map(row), "");
  lines.push("options:", `  ${"-h/--help".padEnd(30)} show this help message and exit`, ...opt.map(row));
  if (spec.epilog) lines.push("", typeof spec.epilog === "function" ? spec.epilog() : spec.epilog);
  return lines.join("\n");
}

/**
 * Parses `argv` (without node and script) like argparse would.
 * @example parseArgs({ prog: "x", args: [{ flags: ["-np"], type: "int", default: 4 }] }, ["-np", "2"]) // { np: 2 }
 */
export function parseArgs(spec: ParserSpec, argv: readonly string[]): Record<string, any> {
  const { prog } = spec;
  const out: Record<string, any> = {};
  const byFlag = new Map<string, ArgSpec>();
  for (const a of spec.args) {
    for (const f of a.flags) if (isFlag(f)) byFlag.set(f, a);
    const d = destOf(a);
    out[d] = a.action === "store_true" ? (a.default ?? false) : a.action === "store_false" ? (a.default ?? true) : a.default;
  }
  const positionals = spec.args.filter((a) => !isFlag(a.flags[0]!));
  const seen = new Set<ArgSpec>();
  const loose: string[] = [];
  const unknown: string[] = [];

  for (let i = 0; i < argv.length; i++) {
    let tok = argv[i]!;
    if (tok === "--") {
      loose.push(...argv.slice(i + 1));
      break;
    }
    if (tok === "-h" || tok === "--help") throw new HelpRequested(formatHelp(spec));
    if (!isFlag(tok)) {
      loose.push(tok);
      continue;
    }
    let inline: string | undefined;
    const eq = tok.indexOf("=");
    if (eq > 0 && tok.startsWith("-")) {
      inline = tok.slice(eq + 1);
      tok = tok.slice(0, eq);
    }
    const a = byFlag.get(tok);
    if (!a) {
      unknown.push(argv[i]!);
      continue;
    }
    seen.add(a);
    const d = destOf(a);
    if (a.action === "store_true" || a.action === "store_false") {
      if (inline !== undefined) throw new UsageError(prog, `argument ${label(a)}: ignored explicit argument '${inline}'`);
      out[d] = a.action === "store_true";
      continue;
    }
    const vals: string[] = inline !== undefined ? [inline] : [];
    const want = a.nargs;
    if (inline === undefined) {
      const max = want === undefined ? 1 : want === "?" ? 1 : typeof want === "number" ? want : Infinity;
      while (vals.length < max && i + 1 < argv.length && !isFlag(argv[i + 1]!)) vals.push(argv[++i]!);
    }
    if (want === undefined && vals.length !== 1) throw new UsageError(prog, `argument ${label(a)}: expected one argument`);
    if (want === "+" && vals.length < 1) throw new UsageError(prog, `argument ${label(a)}: expected at least one argument`);
    if (typeof want === "number" && vals.length !== want) {
      throw new UsageError(prog, `argument ${label(a)}: expected ${want} arguments`);
    }
    const conv = vals.map((v) => convert(prog, a, v));
    out[d] = want === undefined || want === "?" ? (conv[0] ?? a.default ?? null) : conv;
  }
  if (unknown.length) throw new UsageError(prog, `unrecognized arguments: ${unknown.join(" ")}`);

  // Positionals: each takes one value, except a trailing "+"/"*" one, which takes the rest.
  let k = 0;
  for (const a of positionals) {
    const d = destOf(a);
    if (a.nargs === "+" || a.nargs === "*") {
      const rest = loose.slice(k);
      k = loose.length;
      if (a.nargs === "+" && rest.length === 0) continue;
      out[d] = rest.map((v) => convert(prog, a, v));
      seen.add(a);
    } else if (k < loose.length) {
      out[d] = convert(prog, a, loose[k++]!);
      seen.add(a);
    }
  }
  if (k < loose.length) throw new UsageError(prog, `unrecognized arguments: ${loose.slice(k).join(" ")}`);
  const missing = spec.args.filter((a) => (a.required || (!isFlag(a.flags[0]!) && a.nargs !== "?" && a.nargs !== "*")) && !seen.has(a));
  if (missing.length) throw new UsageError(prog, `the following arguments are required: ${missing.map(label).join(", ")}`);
  return out;
}
