// The nnssl/layer-order rule of eslint.config.js: lower layers of sdk/ never import higher ones, and
// kernel-extensions/ reaches the SDK only through sdk/index.js.

import * as path from "node:path";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const eslint = new ESLint({ cwd: ROOT });

async function layerMessages(file: string, code: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return r!.messages.filter((m) => m.ruleId === "nnssl/layer-order").map((m) => m.message);
}

describe("nnssl/layer-order", () => {
  it.each([
    ["sdk/io/torch/x.ts", 'import { train } from "../../training/run-training.js";', /sdk\/io \(layer 0\) must not import sdk\/training \(layer 3\)/],
    [
      "sdk/dataset/x.ts",
      'export { planExperiment } from "../planning/plan-experiment.js";',
      /sdk\/dataset \(layer 1\) must not import sdk\/planning \(layer 2\)/,
    ],
    [
      "sdk/fingerprint/x.ts",
      'import type { Plans } from "../planning/plans.js"; import { Dataset } from "../facade.js";',
      /sdk\/fingerprint \(layer 2\) must not import sdk\/facade.ts \(layer 4\)/,
    ],
    ["sdk/inference/x.ts", 'const m = await import("../cli/main.js");', /sdk\/inference \(layer 3\) must not import sdk\/cli \(layer 4\)/],
    ["sdk/util/x.ts", 'import { show } from "../../kernel-extensions/show.js";', /sdk\/ must not import/],
    ["kernel-extensions/x.ts", 'import { readNpyFile } from "../sdk/io/npy.js";', /public API/],
  ])("%s: %s is refused", async (file, code, message) => {
    const messages = await layerMessages(file, code);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(message);
  });

  it.each([
    ["sdk/training/x.ts", 'import { preprocessedDatasetFolder } from "../config/folders.js"; import { buildNetwork } from "../networks/index.js";'],
    ["sdk/planning/x.ts", 'import type { FingerprintJson } from "../fingerprint/fingerprint-json.js";'],
    ["sdk/facade.ts", 'import { train } from "./training/run-training.js";'],
    ["kernel-extensions/x.ts", 'import { readNpyFile } from "../sdk/index.js"; import { escapeHtml } from "./mime.js";'],
  ])("%s: %s is allowed", async (file, code) => {
    expect(await layerMessages(file, code)).toEqual([]);
  });
});
