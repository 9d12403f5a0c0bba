// nnUNetv2_extract_fingerprint: upstream's extract_fingerprint_entry flags (plan_and_preprocess_entrypoints.py).

import type { ParserSpec } from "../argparse.js";
import { openRawDataset } from "../../dataset/raw.js";
import { extractFingerprint } from "../../fingerprint/extract-fingerprint.js";
import { terminalProgress } from "../progress.js";
import { defaultNumProcesses } from "../../config/switches.js";

/** -np default: nnUNet_def_n_proc, else 8. */
export const DEFAULT_NUM_PROCESSES = defaultNumProcesses();

export const spec: ParserSpec = {
  prog: "nnUNetv2_extract_fingerprint",
  args: [
    { flags: ["-d"], nargs: "+", type: "int", required: true, help: "[REQUIRED] List of dataset IDs. Example: 2 4 5." },
    {
      flags: ["-fpe"],
      default: "DatasetFingerprintExtractor",
      choices: ["DatasetFingerprintExtractor"],
      help: "[OPTIONAL] Name of the Dataset Fingerprint Extractor class. Default: 'DatasetFingerprintExtractor'.",
    },
    {
      flags: ["-np"],
      type: "int",
      min: 1,
      default: DEFAULT_NUM_PROCESSES,
      help: `[OPTIONAL] Number of processes used for fingerprint extraction. Default: ${DEFAULT_NUM_PROCESSES}`,
    },
    { flags: ["--verify_dataset_integrity"], action: "store_true", help: "[RECOMMENDED] set this flag to check the dataset integrity." },
    {
      flags: ["--clean"],
      action: "store_true",
      help: "[OPTIONAL] Set this flag to overwrite existing fingerprints. If this flag is not set and a fingerprint already exists, the fingerprint extractor will not run.",
    },
    { flags: ["--verbose"], action: "store_true", help: "Set this to print a lot of stuff. Useful for debugging." },
  ],
};

/** extract_fingerprints(dataset_ids, ..., num_processes, check_dataset_integrity, clean, verbose) */
export async function extractFingerprints(ids: number[], numProcesses: number, verify: boolean, clean: boolean): Promise<void> {
  for (const id of ids) {
    const ds = await openRawDataset(id);
    process.stdout.write(`${ds.name}\n`);
    const progress = terminalProgress();
    try {
      await extractFingerprint(ds, { numProcesses, verifyDatasetIntegrity: verify, clean, onProgress: progress });
    } finally {
      progress.stop();
    }
  }
}

export async function run(args: Record<string, any>): Promise<void> {
  await extractFingerprints(args.d, args.np, args.verify_dataset_integrity, args.clean);
}
