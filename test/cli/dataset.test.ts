// `nnssl-adapt dataset verify` through the built CLI (npm test builds first).

import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { makeDataset, tempRoot } from "../dataset/helpers.js";

const BIN = path.resolve("bin/nnssl-adapt.js");
const TINY = path.resolve("test/fixtures/datasets/Dataset900_Tiny");
const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 120_000, env: { ...process.env, ...env } });

describe("nnssl-adapt dataset verify -d ID", () => {
  it.each([
    ["a folder", [TINY], {}],
    ["an id", ["900"], { nnUNet_raw: path.dirname(TINY) }],
    ["a name", ["Dataset900_Tiny"], { nnUNet_raw: path.dirname(TINY) }],
  ] as const)("accepts %s and says OK (worker threads)", (_, d, env) => {
    const r = cli(["dataset", "verify", "-d", ...d, "--np", "2"], env);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Dataset900_Tiny: OK: 5 training case\(s\)/);
  });
  it("prints one line per problem naming the file and exits 1", async () => {
    const folder = await makeDataset(tempRoot(), "Dataset030_Cli", [{ id: "c0" }, { id: "c1" }], { numTraining: 3 });
    rmSync(path.join(folder, "labelsTr/c0.nii.gz"));
    const r = cli(["dataset", "verify", "-d", folder, "--np", "2"]);
    expect(r.status).toBe(1);
    const lines = r.stderr
      .trim()
      .split("\n")
      .filter((l) => !/^verify/.test(l));
    expect(lines).toEqual([
      `nnssl-adapt: error: ${folder}: dataset integrity check failed with 2 problem(s):`,
      `${folder}/dataset.json: numTraining is 3 but 2 training case(s) were found`,
      `${folder}/labelsTr/c0.nii.gz: label file of case c0 not found`,
    ]);
  });
  it("names the variable to set when an id cannot be resolved", () => {
    const r = cli(["dataset", "verify", "-d", "77"], { nnUNet_raw: tempRoot() });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^nnssl-adapt: error: could not find a dataset with id 77/);
  });
});
