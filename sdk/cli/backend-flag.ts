// `--backend`, on every command that computes (training, prediction, pretraining, the demo; the benches parse their
// own): forces one tfjs backend instead of the automatic choice, exactly like NNSSL_ADAPT_BACKEND.

import { BACKEND_NAMES, initBackend } from "../backend/index.js";
import type { ArgSpec } from "./argparse.js";

export const BACKEND_FLAG_HELP = `tfjs backend to use: ${BACKEND_NAMES.join(", ")} (default: the fastest present, see nnssl-adapt doctor; same as NNSSL_ADAPT_BACKEND)`;

/** The flag for argparse-style (upstream-named) commands. */
export const backendArg: ArgSpec = { flags: ["--backend"], default: null, choices: BACKEND_NAMES, help: BACKEND_FLAG_HELP };

/** Starts the backend the flag names (an error names the flag and says why it cannot start); no flag: nothing to do yet. */
export async function applyBackendFlag(value: string | null | undefined): Promise<void> {
  if (value) await initBackend({ backend: value, origin: "--backend" });
}
