import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { formatPlans, loadPlans, resolveConfiguration, savePlans, type Plans } from "../../sdk/planning/plans.js";

const EXPECTED = new URL("../fixtures/datasets/Dataset900_Tiny/expected/", import.meta.url).pathname;

describe("formatPlans", () => {
  it.each([["mic_dkfz_master/nnUNetPlans.json"], ["nnUNetResEncUNetLPlans.json"]])(
    "formatPlans(loadPlans(%s)) is byte-identical to upstream's file",
    async (name) => {
      const file = path.join(EXPECTED, name);
      expect(formatPlans(await loadPlans(file))).toBe(readFileSync(file, "utf8"));
    },
  );
});

describe("savePlans / loadPlans", () => {
  it("savePlans then loadPlans round-trips", async () => {
    const plans = await loadPlans(path.join(EXPECTED, "mic_dkfz_master/nnUNetPlans.json"));
    const file = path.join(mkdtempSync(path.join(tmpdir(), "plans-")), "p.json");
    await savePlans(file, plans);
    expect(await loadPlans(file)).toEqual(plans);
  });

  it("loadPlans on a file without configurations names the file", async () => {
    await expect(loadPlans(path.join(EXPECTED, "dataset_fingerprint.json"))).rejects.toThrow(/dataset_fingerprint\.json: not an nnU-Net plans file/);
  });
});

describe("resolveConfiguration", () => {
  const base = (): Plans => JSON.parse(readFileSync(path.join(EXPECTED, "mic_dkfz_master/nnUNetPlans.json"), "utf8"));

  it("resolveConfiguration applies inherits_from (child keys win, inherits_from kept)", () => {
    const plans = base();
    plans.configurations["3d_cascade_fullres"] = { inherits_from: "3d_fullres", previous_stage: "3d_lowres", batch_size: 7 };
    const c = resolveConfiguration(plans, "3d_cascade_fullres");
    expect(c.patch_size).toEqual([20, 48, 48]);
    expect(c.batch_size).toBe(7);
    expect(c.previous_stage).toBe("3d_lowres");
    expect(c.inherits_from).toBe("3d_fullres");
    expect(plans.configurations["3d_fullres"]!.batch_size).toBe(2);
  });

  it.each([
    ["unknown name", (p: Plans) => p, "nope", /configuration nope not found/],
    [
      "circular inheritance",
      (p: Plans) => {
        p.configurations.a = { inherits_from: "b" };
        p.configurations.b = { inherits_from: "a" };
        return p;
      },
      "a",
      /circular/,
    ],
  ])("resolveConfiguration with %s throws", (_n, mutate, name, re) => {
    expect(() => resolveConfiguration(mutate(base()), name)).toThrow(re);
  });

  it("resolveConfiguration converts a legacy configuration", () => {
    const plans = base();
    plans.configurations.old = {
      patch_size: [20, 48, 48],
      UNet_class_name: "PlainConvUNet",
      UNet_base_num_features: 32,
      unet_max_num_features: 320,
      n_conv_per_stage_encoder: [2, 2, 2, 2],
      n_conv_per_stage_decoder: [2, 2, 2],
      conv_kernel_sizes: [
        [1, 3, 3],
        [3, 3, 3],
        [3, 3, 3],
        [3, 3, 3],
      ],
      pool_op_kernel_sizes: [
        [1, 1, 1],
        [1, 2, 2],
        [2, 2, 2],
        [2, 2, 2],
      ],
    };
    const c = resolveConfiguration(plans, "old");
    expect(c.architecture).toEqual((plans.configurations["3d_fullres"] as any).architecture);
    expect("UNet_class_name" in c).toBe(false);
  });
});
