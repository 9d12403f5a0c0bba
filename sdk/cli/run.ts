// Shared entry wrapper for every command: one-line errors, exit codes, --verbose stacks, warnings on stderr.

import { HelpRequested, UsageError } from "./argparse.js";
import { NnsslAdaptError } from "../errors.js";
import { onWarning } from "../warnings.js";
import { debugErrors } from "../config/switches.js";

/**
 * Runs a command's main function. Bad command lines exit 2 (`prog: error: ...`, like argparse); user-facing errors
 * exit 1 with their one-line message; anything else is a bug and also exits 1, with the stack under --verbose or
 * NNSSL_ADAPT_DEBUG=1.
 */
export async function runCommand(prog: string, main: (argv: string[]) => Promise<void>, argv = process.argv.slice(2)): Promise<void> {
  const verbose = argv.includes("--verbose") || debugErrors();
  onWarning((m) => process.stderr.write(`${prog}: warning: ${m}\n`));
  try {
    await main(argv);
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(err.text + "\n");
      process.exitCode = 0;
      return;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`${err.prog}: error: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    const e = err as Error;
    const known = err instanceof NnsslAdaptError;
    process.stderr.write(`${prog}: error: ${known ? e.message : `${e?.name ?? "Error"}: ${e?.message ?? String(err)}`}\n`);
    if (verbose && e?.stack) process.stderr.write(e.stack + "\n");
    process.exitCode = 1;
  }
}
