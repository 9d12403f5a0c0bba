// Every numeric flag is checked while parsing: the message names the flag as the user wrote it and the accepted
// range, exit code 2 like argparse. Before, `-np 0`, `-np -2` and `--num_workers -3` were accepted silently and
// `--num_epochs -5` was reported as "invalid numEpochs: -5".

import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parseArgs, UsageError, type ParserSpec } from "../../sdk/cli/argparse.js";
import { spec as preprocessSpec } from "../../sdk/cli/commands/preprocess.js";
import { spec as likeSpec } from "../../sdk/cli/commands/preprocess-like-nnssl.js";
import { spec as fingerprintSpec } from "../../sdk/cli/commands/extract-fingerprint.js";
import { spec as planAndPreprocessSpec } from "../../sdk/cli/commands/plan-and-preprocess.js";
import { spec as trainSpec } from "../../sdk/cli/commands/train.js";
import { spec as predictSpec } from "../../sdk/cli/commands/predict.js";
import { spec as evaluateSpec } from "../../sdk/cli/commands/evaluate-folder.js";

const fails = (spec: ParserSpec, argv: string[]) => {
  try {
    parseArgs(spec, argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`${spec.prog} ${argv.join(" ")} was accepted`);
};

const TRAIN = ["1", "3d_fullres", "0"];
const PREDICT = ["-i", "in", "-o", "out", "-d", "1", "-c", "3d_fullres"];

describe("numeric flags: one line naming the flag and the range", () => {
  it.each(
    [
      [preprocessSpec, ["-d", "1", "-np", "0"], "argument -np: invalid value: '0' (expected an integer >= 1)"],
      [preprocessSpec, ["-d", "1", "-np", "4", "-2"], "argument -np: invalid value: '-2' (expected an integer >= 1)"],
      [likeSpec, ["-d", "1", "-n", "X", "-pc", "c.pth", "-np", "-2"], "argument -np: invalid value: '-2' (expected an integer >= 1)"],
      [
        likeSpec,
        ["-d", "1", "-n", "X", "-pc", "c.pth", "-am", "fixed", "-os", "0", "-1", "1"],
        "argument -os/--override_spacing: invalid value: '0' (expected a number > 0)",
      ],
      [
        likeSpec,
        ["-d", "1", "-n", "X", "-pc", "c.pth", "-am", "fixed", "-os", "1", "nan", "1"],
        "argument -os/--override_spacing: invalid value: 'nan' (expected a number > 0)",
      ],
      [fingerprintSpec, ["-d", "1", "-np", "0"], "argument -np: invalid value: '0' (expected an integer >= 1)"],
      [planAndPreprocessSpec, ["-d", "1", "-npfp", "-1"], "argument -npfp: invalid value: '-1' (expected an integer >= 1)"],
      [trainSpec, [...TRAIN, "--num_workers", "-3"], "argument --num_workers: invalid value: '-3' (expected an integer >= 0)"],
      [trainSpec, [...TRAIN, "--num_epochs", "-5"], "argument --num_epochs: invalid value: '-5' (expected an integer >= 1)"],
      [trainSpec, [...TRAIN, "--num_epochs", "0"], "argument --num_epochs: invalid value: '0' (expected an integer >= 1)"],
      [trainSpec, [...TRAIN, "--num_iterations_per_epoch", "0"], "argument --num_iterations_per_epoch: invalid value: '0' (expected an integer >= 1)"],
      [
        trainSpec,
        [...TRAIN, "--num_val_iterations_per_epoch", "-1"],
        "argument --num_val_iterations_per_epoch: invalid value: '-1' (expected an integer >= 0)",
      ],
      [trainSpec, [...TRAIN, "--initial_lr", "0"], "argument --initial_lr: invalid value: '0' (expected a number > 0)"],
      [trainSpec, [...TRAIN, "--initial_lr", "1e999"], "argument --initial_lr: invalid value: '1e999' (expected a number > 0)"],
      [trainSpec, [...TRAIN, "--seed", "-1"], "argument --seed: invalid value: '-1' (expected an integer between 0 and 4294967295)"],
      [predictSpec, [...PREDICT, "-step_size", "1.5"], "argument -step_size: invalid value: '1.5' (expected a number > 0 and <= 1)"],
      [predictSpec, [...PREDICT, "-npp", "0"], "argument -npp: invalid value: '0' (expected an integer >= 1)"],
      [predictSpec, [...PREDICT, "-num_parts", "0"], "argument -num_parts: invalid value: '0' (expected an integer >= 1)"],
      [evaluateSpec, ["gt", "pred", "-djfile", "d.json", "-pfile", "p.json", "-np", "0"], "argument -np: invalid value: '0' (expected an integer >= 1)"],
    ].map(([spec, argv, msg]) => [`${(spec as ParserSpec).prog} ${(argv as readonly string[]).join(" ")}`, spec, argv, msg] as const),
  )("%s", (_, spec, argv, msg) => {
    expect(fails(spec as ParserSpec, [...(argv as readonly string[])])).toBe(msg);
  });

  it("valid values still parse", () => {
    expect(parseArgs(trainSpec, [...TRAIN, "--num_workers", "0", "--num_val_iterations_per_epoch", "0", "--seed", "0"])).toMatchObject({
      num_workers: 0,
      num_val_iterations_per_epoch: 0,
      seed: 0,
    });
    expect(parseArgs(likeSpec, ["-d", "1", "-n", "X", "-pc", "c.pth", "-os", "0.5", "1", "2.5"]).override_spacing).toEqual([0.5, 1, 2.5]);
  });

  it("the binaries exit 2 with the flag's name (-np 0, --num_epochs -5, -part_id beyond -num_parts)", () => {
    const run = (bin: string, args: string[]) =>
      spawnSync(process.execPath, [path.resolve("bin", `${bin}.js`), ...args], { encoding: "utf8", timeout: 120_000 });
    const a = run("nnUNetv2_preprocess", ["-d", "1", "-np", "0"]);
    expect([a.status, a.stderr]).toEqual([2, "nnUNetv2_preprocess: error: argument -np: invalid value: '0' (expected an integer >= 1)\n"]);
    const b = run("nnUNetv2_train", [...TRAIN, "--num_epochs", "-5"]);
    expect([b.status, b.stderr]).toEqual([2, "nnUNetv2_train: error: argument --num_epochs: invalid value: '-5' (expected an integer >= 1)\n"]);
    const c = run("nnUNetv2_predict", [...PREDICT, "-num_parts", "2", "-part_id", "2"]);
    expect([c.status, c.stderr]).toEqual([
      2,
      "nnUNetv2_predict: error: argument -part_id: invalid value: '2' (expected an integer between 0 and 1 for -num_parts 2)\n",
    ]);
  });
});
