// Validation of numeric options before any work starts. SDK functions name the option as the caller wrote it
// (`numWorkers`), the CLI names the flag (`--num_workers`, through the min/max/gt fields of sdk/cli/argparse.ts), and
// both say the accepted range. JavaScript callers can pass NaN, strings or floats where an integer is meant; such
// values used to reach Math.min / postMessage and fail much later, or never.

import { ConfigError } from "../errors.js";

export interface NumberRange {
  /** Smallest accepted value (inclusive). */
  min?: number;
  /** Largest accepted value (inclusive). */
  max?: number;
  /** Exclusive lower bound (for spacings, learning rates: > 0). */
  gt?: number;
}

/** Quoted like the caller wrote it: strings in quotes, NaN and Infinity by name. */
export function formatValue(v: unknown): string {
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean" || v === null || v === undefined) return String(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** "an integer >= 1", "a number > 0", "an integer between 0 and 4". */
export function describeRange(kind: "integer" | "number", { min, max, gt }: NumberRange): string {
  const what = kind === "integer" ? "an integer" : "a number";
  if (gt !== undefined) return max !== undefined ? `${what} > ${gt} and <= ${max}` : `${what} > ${gt}`;
  if (min !== undefined && max !== undefined) return `${what} between ${min} and ${max}`;
  if (min !== undefined) return `${what} >= ${min}`;
  if (max !== undefined) return `${what} <= ${max}`;
  return kind === "integer" ? "an integer" : "a finite number";
}

/** Whether `v` lies in `range` (`v` is a finite number already). */
export function inRange(v: number, { min, max, gt }: NumberRange): boolean {
  return (min === undefined || v >= min) && (max === undefined || v <= max) && (gt === undefined || v > gt);
}

/**
 * `value` as an integer in `range`, else a ConfigError `invalid numWorkers: NaN (expected an integer >= 1)`.
 * @example checkInt(opts.numWorkers, "numWorkers", { min: 1 })
 */
export function checkInt(value: unknown, name: string, range: NumberRange = {}): number {
  if (typeof value !== "number" || !Number.isInteger(value) || !inRange(value, range)) {
    throw new ConfigError(`invalid ${name}: ${formatValue(value)} (expected ${describeRange("integer", range)})`);
  }
  return value;
}

/** Like checkInt for an optional option: undefined (and null) pass through. */
export function checkOptionalInt(value: unknown, name: string, range: NumberRange = {}): number | undefined {
  return value === undefined || value === null ? undefined : checkInt(value, name, range);
}

/** `value` as a finite number in `range`, else a ConfigError naming `name`. */
export function checkNumber(value: unknown, name: string, range: NumberRange = {}): number {
  if (typeof value !== "number" || !Number.isFinite(value) || !inRange(value, range)) {
    throw new ConfigError(`invalid ${name}: ${formatValue(value)} (expected ${describeRange("number", range)})`);
  }
  return value;
}

/** Like checkNumber for an optional option. */
export function checkOptionalNumber(value: unknown, name: string, range: NumberRange = {}): number | undefined {
  return value === undefined || value === null ? undefined : checkNumber(value, name, range);
}

/**
 * A spacing given by the user: exactly `n` finite numbers > 0; the message says which entry is wrong and why.
 * @example checkSpacing([0, -1, 1], "overrideSpacing") // invalid overrideSpacing: entry 0 is 0 (expected a number > 0)
 */
export function checkSpacing(value: unknown, name: string, n = 3): number[] {
  if (!Array.isArray(value)) throw new ConfigError(`invalid ${name}: ${formatValue(value)} (expected ${n} numbers > 0, one per axis)`);
  if (value.length !== n) throw new ConfigError(`invalid ${name}: ${value.length} value(s) given (expected ${n} numbers > 0, one per axis)`);
  const bad = value.map((v, i) => [v, i] as const).filter(([v]) => typeof v !== "number" || !Number.isFinite(v) || v <= 0);
  if (bad.length) {
    throw new ConfigError(`invalid ${name}: ${bad.map(([v, i]) => `entry ${i} is ${formatValue(v)}`).join(", ")} (expected ${n} numbers > 0, one per axis)`);
  }
  return [...(value as number[])];
}

/** A list option given either as one number or one per item (like `-np 8 4 8`): each entry checked as checkInt. */
export function checkIntOrList(value: unknown, name: string, range: NumberRange = {}): number | number[] {
  if (Array.isArray(value)) {
    if (value.length === 0) throw new ConfigError(`invalid ${name}: an empty list (expected ${describeRange("integer", range)}, or one per configuration)`);
    return value.map((v, i) => checkInt(v, value.length === 1 ? name : `${name}[${i}]`, range));
  }
  return checkInt(value, name, range);
}
