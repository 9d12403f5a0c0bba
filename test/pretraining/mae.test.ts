import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createBlockyMask } from "../../sdk/pretraining/mae-mask.js";
import { pretrainMae, maeMseLoss } from "../../sdk/pretraining/mae-trainer.js";
import { RandomState } from "../../sdk/util/random-state.js";
import { Checkpoint } from "../../sdk/checkpoint/checkpoint.js";
import { tf } from "../../sdk/backend/index.js";
import { hasTorch, runPython } from "../helpers/python.js";
import { skipUnlessCI } from "../helpers/ci.js";

const TINY = path.resolve("test/fixtures/datasets/Dataset900_Tiny");
const NNSSL_SHAPES = path.resolve("test/fixtures/nnssl/nnssl_ResEncMini_state_dict_shapes.json");

describe("createBlockyMask(patch, block, ratio, rs)", () => {
  it("masks int(ratio * blocks) whole blocks, like nnssl's create_blocky_mask", () => {
    const m = createBlockyMask([16, 16, 8], 4, 0.75, new RandomState(3));
    const blocks = 4 * 4 * 2;
    expect(m.reduce((a, b) => a + b, 0)).toBe((blocks - Math.floor(0.75 * blocks)) * 64);
    // constant inside each 4x4x4 block
    for (let x = 0; x < 16; x += 4)
      for (let y = 0; y < 16; y += 4)
        for (let z = 0; z < 8; z += 4) {
          const v = m[(x * 16 + y) * 8 + z];
          for (let d = 0; d < 64; d++) expect(m[((x + (d >> 4)) * 16 + y + ((d >> 2) & 3)) * 8 + z + (d & 3)]).toBe(v);
        }
  });
  it("rejects a block that does not divide the patch", () => {
    expect(() => createBlockyMask([16, 16, 10], 4, 0.5, new RandomState(1))).toThrow("invalid --block: 4 does not divide the patch size [16, 16, 10]");
  });
});

describe("maeMseLoss(output, target, mask)", () => {
  it("averages the squared error over masked voxels only", () => {
    const out = tf.tensor5d([1, 2, 3, 4], [1, 1, 1, 2, 2]);
    const tgt = tf.tensor5d([0, 0, 0, 0], [1, 1, 1, 2, 2]);
    const mask = tf.tensor5d([1, 0, 0, 1], [1, 1, 1, 2, 2]);
    expect(maeMseLoss(out, tgt, mask).dataSync()[0]).toBeCloseTo((4 + 9) / 2, 6);
  });
});

describe("pretrainMae(opts)", () => {
  it("writes an nnssl checkpoint whose weights have nnssl's key names and shapes, and resumes to the same result", async () => {
    const opts = {
      input: TINY,
      features: [8, 16, 32, 64, 64],
      blocks: [1, 1, 2, 2, 2],
      patch: [32, 32, 32],
      epochs: 2,
      iterationsPerEpoch: 1,
      batchSize: 1,
      block: 8,
      seed: 7,
    };
    const outA = mkdtempSync(path.join(tmpdir(), "mae-a-"));
    const a = await pretrainMae({ ...opts, output: outA });

    // Same architecture as the nnssl fixture checkpoint: identical state-dict keys and shapes.
    const expected = JSON.parse(readFileSync(NNSSL_SHAPES, "utf8")) as Record<string, { shape: number[] }>;
    const ck = await Checkpoint.load(a.checkpoint);
    expect([...ck.weights.keys()].sort()).toEqual(Object.keys(expected).sort());
    for (const [k, t] of ck.weights) expect(t.shape, k).toEqual(expected[k]!.shape);
    expect(ck.adaptationPlan.architecture_plans.arch_class_name).toBe("ResidualEncoderUNet");
    expect(ck.adaptationPlan.recommended_downstream_patchsize).toEqual([32, 32, 32]);
    const plan = JSON.parse(readFileSync(a.adaptationPlanFile, "utf8"));
    const fixturePlan = JSON.parse(readFileSync(path.resolve("test/fixtures/nnssl/nnssl_ResEncMini_adaptation_plan.json"), "utf8"));
    expect(Object.keys(plan)).toEqual(Object.keys(fixturePlan));
    expect(plan.architecture_plans).toEqual(fixturePlan.architecture_plans);
    expect(existsSync(path.join(outA, "checkpoint_latest.pth"))).toBe(false);

    // A run killed after its first epoch continues from checkpoint_latest.pth and ends with the same weights.
    const outB = mkdtempSync(path.join(tmpdir(), "mae-b-"));
    await expect(
      pretrainMae({
        ...opts,
        output: outB,
        onEpochEnd: () => {
          throw new Error("killed");
        },
      }),
    ).rejects.toThrow("killed");
    expect(existsSync(path.join(outB, "checkpoint_latest.pth"))).toBe(true);
    const b = await pretrainMae({ ...opts, output: outB });
    expect(b.log.train_losses).toHaveLength(2);
    expect(b.log.train_losses).toEqual(a.log.train_losses);
    const wb = (await Checkpoint.load(b.checkpoint)).weights;
    for (const [k, t] of ck.weights) expect(Array.from(wb.get(k)!.toFloat32()), k).toEqual(Array.from(t.toFloat32()));

    if (skipUnlessCI(hasTorch() ? null : "python3 cannot import torch") === null) {
      const out = runPython(`
import torch, json
ck = torch.load(${JSON.stringify(a.checkpoint)}, map_location="cpu", weights_only=False)
print(json.dumps({"keys": sorted(ck.keys()), "n": len(ck["network_weights"]), "plan": ck["nnssl_adaptation_plan"]["key_to_encoder"], "tuple": isinstance(ck["nnssl_adaptation_plan"]["keys_to_in_proj"], tuple)}))
`);
      expect(JSON.parse(out)).toEqual({
        keys: ["citations", "init_args", "network_weights", "nnssl_adaptation_plan", "trainer_name"],
        n: Object.keys(expected).length,
        plan: "encoder.stages",
        tuple: true,
      });
    }
  }, 600_000);
});
