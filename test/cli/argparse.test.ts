import { describe, expect, it } from "vitest";
import { HelpRequested, parseArgs, UsageError, type ParserSpec } from "../../sdk/cli/argparse.js";

const spec: ParserSpec = {
  prog: "nnUNetv2_preprocess_like_nnssl",
  args: [
    { flags: ["-d"], type: "int", required: true },
    { flags: ["-n", "--pretraining_name"], required: true },
    { flags: ["-am", "--adaptation_mode"], choices: ["fixed", "default_nnunet", "no_resample", "like_pretrained"], default: "default_nnunet" },
    { flags: ["-os", "--override_spacing"], type: "float", nargs: "+" },
    { flags: ["-np"], type: "int", default: 4 },
    { flags: ["--verbose"], action: "store_true" },
  ],
};

describe("parseArgs(spec, argv)", () => {
  it("reads single-dash multi-letter flags, nargs '+', defaults and store_true like argparse", () => {
    const a = parseArgs(spec, ["-d", "900", "-n", "X", "-os", "2", "1", "1", "-np", "2", "--verbose"]);
    expect(a).toEqual({ d: 900, pretraining_name: "X", adaptation_mode: "default_nnunet", override_spacing: [2, 1, 1], np: 2, verbose: true });
  });
  it("accepts --flag=value", () => {
    expect(parseArgs(spec, ["-d", "1", "-n", "X", "--adaptation_mode=fixed"]).adaptation_mode).toBe("fixed");
  });
  it.each([
    [["-d", "x", "-n", "X"], "argument -d: invalid int value: 'x'"],
    [
      ["-d", "1", "-n", "X", "-am", "bogus"],
      "argument -am/--adaptation_mode: invalid choice: 'bogus' (choose from 'fixed', 'default_nnunet', 'no_resample', 'like_pretrained')",
    ],
    [["-d", "1"], "the following arguments are required: -n/--pretraining_name"],
    [["-d", "1", "-n", "X", "--nope"], "unrecognized arguments: --nope"],
    [["-d", "1", "-n", "X", "-os"], "argument -os/--override_spacing: expected at least one argument"],
  ])("rejects %j with argparse's message", (argv, message) => {
    expect(() => parseArgs(spec, argv)).toThrow(new UsageError(spec.prog, message));
  });
  it("positionals, including a trailing nargs '+'", () => {
    const s: ParserSpec = { prog: "p", args: [{ flags: ["dataset"] }, { flags: ["configuration"] }, { flags: ["fold"] }, { flags: ["-tr"], default: "T" }] };
    expect(parseArgs(s, ["Dataset001_X", "3d_fullres", "0", "-tr", "PretrainedTrainer"])).toEqual({
      dataset: "Dataset001_X",
      configuration: "3d_fullres",
      fold: "0",
      tr: "PretrainedTrainer",
    });
    expect(() => parseArgs(s, ["a", "b"])).toThrow("the following arguments are required: fold");
  });
  it("-h raises HelpRequested with a usage line", () => {
    expect(() => parseArgs(spec, ["-h"])).toThrow(HelpRequested);
    try {
      parseArgs(spec, ["-h"]);
    } catch (e) {
      expect((e as HelpRequested).text).toMatch(/^usage: nnUNetv2_preprocess_like_nnssl -d D -n PRETRAINING_NAME/);
    }
  });
});
