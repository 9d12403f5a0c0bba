// Error classes for nnssl-adapt. Every error that reaches a user names the file (or flag) and the problem in one line:
// `${file}: ${problem}`. The CLI prints `err.message` and exits non-zero; the stack is shown only with --verbose.

/** Options shared by all nnssl-adapt errors. */
export interface ErrorOptions {
  /** The file the problem is about, when there is one. */
  file?: string;
  cause?: unknown;
}

/** Base class: a problem the user can act on (bad input, bad configuration), as opposed to a bug. */
export class NnsslAdaptError extends Error {
  readonly file: string | undefined;
  constructor(problem: string, { file, cause }: ErrorOptions = {}) {
    super(file ? `${file}: ${problem}` : problem, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.file = file;
  }
}

/** Bad or missing input data: images, labels, dataset.json, preprocessed files. */
export class InputError extends NnsslAdaptError {}

/** A checkpoint that cannot be read safely or does not have the expected content. */
export class CheckpointError extends NnsslAdaptError {}

/** A configuration problem: environment variables, plans, flags. */
export class ConfigError extends NnsslAdaptError {}

/**
 * A system error while reading or writing (no space left, read-only folder, a file where a folder is expected...),
 * naming the path as the user gave it and the operation; `code` is the errno name (ENOSPC, EROFS, ...).
 */
export class IOError extends NnsslAdaptError {
  readonly code: string | undefined;
  constructor(problem: string, opts: ErrorOptions & { code?: string } = {}) {
    super(problem, opts);
    this.code = opts.code;
  }
}

/** Another process is writing the same output folder (see sdk/util/lock.ts). */
export class LockError extends NnsslAdaptError {}

/** Throws `invalid ${name}: ${value} (expected one of ...)` unless `value` is one of `allowed`. */
export function keyword<T extends string>(value: string, name: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new ConfigError(`invalid ${name}: ${JSON.stringify(value)} (expected one of ${allowed.join(", ")})`);
}

/**
 * Runs `fn`; if it throws, rethrows a NnsslAdaptError that says which step failed, keeping the original as `cause`.
 * User-facing errors that already name a file pass through unchanged.
 */
export async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof NnsslAdaptError) throw err;
    throw new NnsslAdaptError(`${name} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
}
