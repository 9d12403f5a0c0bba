// Shared entry wrapper for every command: one-line errors, exit codes, --verbose stacks, warnings on stderr.

import { HelpRequested, UsageError } from "./argparse.js";
import { NnsslAdaptError } from "../errors.js";
import { onWarning } from "../warnings.js";
import { debugErrors } from "../config/switches.js";
import { ioError, isSystemError } from "../util/fs.js";

/** libuv's syscall names as the operation the user asked for. */
const SYSCALL_WORDS: Readonly<Record<string, string>> = {
  open: "open",
  read: "read",
  write: "write",
  mkdir: "create folder",
  rename: "rename",
  unlink: "remove",
  rmdir: "remove the folder",
  scandir: "list the folder",
  stat: "read",
  lstat: "read",
  copyfile: "copy",
  access: "access",
  link: "create",
  symlink: "create",
};

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
    // a system error that escaped the SDK's own wrapping still gets one line naming the path and the operation
    const e = (isSystemError(err) && err.path ? ioError(err, SYSCALL_WORDS[err.syscall!] ?? err.syscall!, err.path) : err) as Error;
    const known = e instanceof NnsslAdaptError;
    process.stderr.write(`${prog}: error: ${known ? e.message : `${e?.name ?? "Error"}: ${e?.message ?? String(err)}`}\n`);
    if (verbose && e?.stack) process.stderr.write(e.stack + "\n");
    process.exitCode = 1;
  }
}
