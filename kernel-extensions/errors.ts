// Errors in a notebook as one readable message. tslab prints a failed cell's error with console.error, i.e. Node's
// util.inspect: the stack through the compiled cell and the SDK's dist/ files, and every own property. Our typed
// errors (sdk/errors.ts) already say what went wrong in one line, so inside a kernel they print as that line alone;
// `verboseErrors()` brings the stacks back. Other errors (bugs, TypeErrors in the user's code) print as before.

import { inspect } from "node:util";
import { NnsslAdaptError } from "../sdk/index.js";
import { inNotebook } from "./mime.js";

let verbose = process.env.NNSSL_ADAPT_VERBOSE === "1";

/** One line per error in the cause chain: "InputError: <message>" (+ "caused by ..." for a typed cause). */
export function errorSummary(err: NnsslAdaptError): string {
  const lines = [`${err.name}: ${err.message}`];
  let c: unknown = err.cause;
  for (let depth = 0; c instanceof Error && depth < 4; depth++, c = (c as Error).cause) {
    if (!err.message.includes(c.message)) lines.push(`  caused by ${c.name}: ${c.message}`);
  }
  return lines.join("\n");
}

/** Shows full stacks of nnssl-adapt errors again (or hides them with `false`). */
export function verboseErrors(on = true): void {
  verbose = on;
}

/** Installs the one-line form on the typed errors when running inside a notebook kernel (idempotent). */
export function installNotebookErrors(): boolean {
  if (!inNotebook()) return false;
  const proto = NnsslAdaptError.prototype as unknown as Record<symbol, unknown>;
  if (proto[inspect.custom]) return true;
  Object.defineProperty(proto, inspect.custom, {
    value(this: NnsslAdaptError, _depth: number, options: object, insp: typeof inspect) {
      if (verbose) {
        // The default form, without recursing into this hook.
        const plain = Object.assign(new Error(this.message), { stack: this.stack, cause: this.cause });
        return insp(plain, options);
      }
      return errorSummary(this);
    },
    configurable: true,
    enumerable: false,
    writable: true,
  });
  return true;
}
