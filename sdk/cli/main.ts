// `nnssl-adapt`: our own commands (doctor, image info, dataset verify, checkpoint inspect, pretrain, demo, trainers).
// Upstream-named commands (nnUNetv2_*) have their own entry points: see upstream.ts.
// Each subcommand module in ./commands exports `register(program)`; modules not in this build are skipped.

import { Command } from "commander";
import { runCommand } from "./run.js";

const SUBCOMMAND_MODULES = [
  "./commands/doctor.js",
  "./commands/image.js",
  "./commands/dataset.js",
  "./commands/checkpoint.js",
  "./commands/pretrain.js",
  "./commands/demo.js",
  "./commands/trainers.js",
];

export async function buildProgram(): Promise<Command> {
  const program = new Command("nnssl-adapt")
    .description("Fine-tune nnssl checkpoints into nnU-Net segmentation models")
    .option("--verbose", "show stack traces on errors")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  for (const rel of SUBCOMMAND_MODULES) {
    let mod: { register?: (p: Command) => void };
    try {
      mod = await import(rel);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND" && String((err as Error).message).includes(rel.slice(2))) continue;
      throw err;
    }
    mod.register?.(program);
  }
  return program;
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  await runCommand(
    "nnssl-adapt",
    async (args) => {
      const program = await buildProgram();
      try {
        await program.parseAsync(args, { from: "user" });
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === "commander.helpDisplayed" || code === "commander.help" || code === "commander.version") return;
        if (code?.startsWith("commander.")) {
          process.exitCode = 2;
          return;
        }
        throw err;
      }
    },
    argv,
  );
}
