// `nnssl-adapt trainers [--json]`: every trainer name -tr accepts (nnUNetv2_train / nnUNetv2_train_pretrained), with
// optimizer, learning rate, warm-up, epochs, mirroring and what it is for, read from the registry (training/trainers.ts).

import type { Command } from "commander";
import { formatTrainerTable, trainerRows } from "../../training/trainers.js";

export function register(program: Command): void {
  program
    .command("trainers")
    .description("list the trainers -tr accepts (optimizer, learning rate, warm-up, epochs, mirroring, purpose)")
    .option("--json", "print the table as JSON")
    .action((opts: { json?: boolean }) => {
      const rows = trainerRows();
      process.stdout.write(
        opts.json
          ? JSON.stringify(rows, null, 2) + "\n"
          : `${formatTrainerTable(rows)}\n\nEach name also accepts an _<N>epochs suffix (N epochs, the trainer's warm-up kept).\n`,
      );
    });
}
