// Registry of the upstream-named commands. Each lives in sdk/cli/commands/<kebab-name>.ts and exports
// `spec: ParserSpec` (its argparse-style flags, same names as upstream) and `run(args)`, which maps the flags to an
// options object and calls the SDK. bin/<name>.js calls runUpstream(name).

import { parseArgs, type ParserSpec } from "./argparse.js";
import { runCommand } from "./run.js";
import { NnsslAdaptError } from "../errors.js";

export interface UpstreamCommand {
  spec: ParserSpec;
  run(args: Record<string, any>): Promise<void>;
}

/** Upstream command name -> module file (relative to this folder, compiled name). */
export const UPSTREAM_COMMANDS: Record<string, string> = {
  nnUNetv2_extract_fingerprint: "./commands/extract-fingerprint.js",
  nnUNetv2_plan_experiment: "./commands/plan-experiment.js",
  nnUNetv2_plan_and_preprocess: "./commands/plan-and-preprocess.js",
  nnUNetv2_preprocess: "./commands/preprocess.js",
  nnUNetv2_preprocess_like_nnssl: "./commands/preprocess-like-nnssl.js",
  nnUNetv2_plan_like_dynamic: "./commands/plan-like-dynamic.js",
  nnUNetv2_train: "./commands/train.js",
  nnUNetv2_train_pretrained: "./commands/train-pretrained.js",
  nnUNetv2_predict: "./commands/predict.js",
  nnUNetv2_predict_from_modelfolder: "./commands/predict-from-modelfolder.js",
  nnUNetv2_evaluate_folder: "./commands/evaluate-folder.js",
};

/** Loads a command module; a command this build does not have yet is a clear error, not a crash. */
export async function loadUpstreamCommand(name: string): Promise<UpstreamCommand> {
  const rel = UPSTREAM_COMMANDS[name];
  if (!rel) throw new NnsslAdaptError(`unknown command ${name}`);
  try {
    return (await import(rel)) as UpstreamCommand;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND" && String((err as Error).message).includes(rel.slice(2))) {
      throw new NnsslAdaptError(`${name} is not implemented in this version of nnssl-adapt yet`);
    }
    throw err;
  }
}

/** Entry point used by bin/<name>.js. */
export async function runUpstream(name: string, argv = process.argv.slice(2)): Promise<void> {
  await runCommand(
    name,
    async (a) => {
      const cmd = await loadUpstreamCommand(name);
      await cmd.run(parseArgs(cmd.spec, a));
    },
    argv,
  );
}
