// `nnssl-adapt dataset verify -d ID|NAME|PATH [--np N]`: upstream's verify_dataset_integrity on a raw dataset, printing
// one line per problem (each naming the file) and exiting non-zero when there is any.

import { InvalidArgumentError, type Command } from "commander";
import { channelNames, openRawDataset, verifyDatasetIntegrity } from "../../dataset/raw.js";
import { terminalProgress } from "../progress.js";

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

export function register(program: Command): void {
  const dataset = program.command("dataset").description("raw nnU-Net datasets");
  dataset
    .command("verify")
    .description("check a raw dataset like nnU-Net's verify_dataset_integrity")
    .requiredOption("-d, --dataset <id>", "dataset id (123), name (Dataset123_X) or folder")
    .option("--np <n>", "worker threads for reading cases (default: number of cores)", positiveInt)
    .action(async (opts: { dataset: string; np?: number }) => {
      const ds = await openRawDataset(opts.dataset);
      const progress = terminalProgress();
      try {
        await verifyDatasetIntegrity(ds, {
          numWorkers: opts.np,
          onProgress: (done, total) => progress({ task: "verify", done, total }),
        });
      } finally {
        progress.stop();
      }
      const j = ds.datasetJson;
      const labels = Object.entries(j.labels)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(", ");
      process.stdout.write(
        `${ds.name}: OK: ${ds.identifiers.length} training case(s), channels ${JSON.stringify(channelNames(j))}, ` +
          `labels ${labels}, file_ending ${j.file_ending}, reader ${ds.readerWriter}\n`,
      );
    });
}
