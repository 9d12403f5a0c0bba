// like_pretrained with a checkpoint pretrained without resampling (pretrain_plan spacing null, e.g. nnFoundationCNN):
// nnU-Net master prints that it falls back to default_nnunet and uses the base plans' 3d_fullres spacing.

import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { buildAdaptedPlans, newSpacingFromMode } from "../../sdk/preprocessing/adapted-plans.js";
import type { AdaptationPlan } from "../../sdk/checkpoint/adaptation-plan.js";
import type { Plans } from "../../sdk/planning/plans.js";
import { EXPECTED } from "./helpers.js";

const MASTER_LINE =
  "[like_nnssl] The pre-training used no fixed target spacing (spacing=None). " +
  "Falling back to 'default_nnunet' behaviour (using the dataset's default nnU-Net spacing).";

describe("like_pretrained with a null pretraining spacing", () => {
  it("falls back to the base plans' spacing and prints master's line", () => {
    const lines: string[] = [];
    expect(newSpacingFromMode("like_pretrained", [1.7, 0.8, 0.8], null, null, (l) => lines.push(l))).toEqual([1.7, 0.8, 0.8]);
    expect(lines).toEqual([MASTER_LINE]);
    expect(newSpacingFromMode("like_pretrained", [1.7, 0.8, 0.8], [1, 1, 1], null, (l) => lines.push(l))).toEqual([1, 1, 1]);
    expect(lines).toHaveLength(1);
  });

  it("gives the ptPlans the base spacing and its data identifier", () => {
    const basePlans = JSON.parse(readFileSync(EXPECTED + "nnUNetPlans.json", "utf8")) as Plans;
    const ap = JSON.parse(readFileSync(new URL("../fixtures/nnssl/nnssl_ResEncMini_adaptation_plan.json", import.meta.url), "utf8")) as AdaptationPlan;
    const cfgName = Object.keys(ap.pretrain_plan.configurations)[0]!;
    ap.pretrain_plan.configurations[cfgName]!.spacing = null;
    const lines: string[] = [];
    const res = buildAdaptedPlans({
      basePlans,
      adaptationPlan: ap,
      citations: [],
      checkpointPath: "ckpt.pth",
      name: "CNN",
      mode: "like_pretrained",
      log: (l) => lines.push(l),
    });
    expect(res.spacing).toEqual(basePlans.configurations["3d_fullres"]!.spacing);
    expect(res.dataIdentifier).toBe("Spacing__1.70_0.80_0.80___Norm__Z");
    expect(res.plansName).toBe("ptPlans__CNN____Spacing__1.70_0.80_0.80___Norm__Z");
    expect(lines).toEqual([MASTER_LINE]);
  });
});
