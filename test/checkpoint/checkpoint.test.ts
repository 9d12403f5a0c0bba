import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { Checkpoint } from "../../sdk/checkpoint/checkpoint.js";
import { CheckpointError } from "../../sdk/errors.js";
import { parseTorch, formatTorch, TorchTensor, floatToHalf } from "../../sdk/io/torch/index.js";

const FIX = new URL("../fixtures/nnssl/", import.meta.url).pathname;
const CKPT = `${FIX}nnssl_ResEncMini.pth`;

describe("Checkpoint.load(path)", () => {
  it("reads the nnssl fixture: plan, citations and float32 weights", async () => {
    const ck = await Checkpoint.load(path.relative(process.cwd(), CKPT));
    expect(ck.path).toBe(path.resolve(CKPT));
    const json = JSON.parse(readFileSync(`${FIX}nnssl_ResEncMini_adaptation_plan.json`, "utf8"));
    delete json.trainer_name; // nnssl adds it to the JSON only
    expect(ck.adaptationPlan).toEqual(json);
    expect(ck.adaptationPlan.keys_to_in_proj).toEqual(["encoder.stem.convs.0.conv", "encoder.stem.convs.0.all_modules.0"]);
    expect(Array.isArray(ck.adaptationPlan.keys_to_in_proj)).toBe(true);
    expect(ck.citations).toEqual(["Synthetic public test checkpoint (random weights); cite nnssl / OpenMind when using real ones"]);
    const ref = JSON.parse(readFileSync(`${FIX}nnssl_ResEncMini_state_dict_shapes.json`, "utf8")) as Record<string, { shape: number[]; sum: number }>;
    expect([...ck.weights.keys()]).toEqual(Object.keys(ref));
    for (const [k, t] of ck.weights) {
      expect(t.dtype).toBe("float32");
      expect(t.shape).toEqual(ref[k]!.shape);
      expect(Math.abs(t.toFloat32().reduce((s, v) => s + v, 0) - ref[k]!.sum)).toBeLessThan(1e-4);
    }
    expect(ck.raw.trainer_name).toBe("BaseMAETrainer_BS2_ep100_Arch_ResEncMini");
  });

  it("converts non-float32 weights to float32", () => {
    const half = TorchTensor.fromTypedArray(new Uint16Array([floatToHalf(1.5), floatToHalf(-2)]), [2], "float16");
    const obj = parseTorch(readFileSync(CKPT)) as Record<string, unknown>;
    obj.network_weights = { "a.weight": half };
    const ck = Checkpoint.fromObject(parseTorch(formatTorch(obj)), "h.pth");
    expect(ck.weights.get("a.weight")!.dtype).toBe("float32");
    expect(Array.from(ck.weights.get("a.weight")!.toFloat32())).toEqual([1.5, -2]);
  });
});

describe("Checkpoint.fromObject(malformed)", () => {
  const base = () => parseTorch(readFileSync(CKPT)) as Record<string, any>;
  it.each([
    ["no plan", (o: any) => delete o.nnssl_adaptation_plan, "x.pth: not an nnssl checkpoint: no nnssl_adaptation_plan"],
    ["plan not a dict", (o: any) => (o.nnssl_adaptation_plan = [1]), "x.pth: nnssl_adaptation_plan is not a dict"],
    ["no key_to_encoder", (o: any) => delete o.nnssl_adaptation_plan.key_to_encoder, "x.pth: nnssl_adaptation_plan.key_to_encoder is missing"],
    ["bad key_to_lpe", (o: any) => (o.nnssl_adaptation_plan.key_to_lpe = 3), "x.pth: nnssl_adaptation_plan.key_to_lpe must be a string or null, got 3"],
    [
      "bad keys_to_in_proj",
      (o: any) => (o.nnssl_adaptation_plan.keys_to_in_proj = "a"),
      "x.pth: nnssl_adaptation_plan.keys_to_in_proj must be a non-empty list of strings",
    ],
    [
      "no arch class",
      (o: any) => delete o.nnssl_adaptation_plan.architecture_plans.arch_class_name,
      "x.pth: nnssl_adaptation_plan.architecture_plans.arch_class_name is missing",
    ],
    [
      "no configurations",
      (o: any) => (o.nnssl_adaptation_plan.pretrain_plan.configurations = {}),
      "x.pth: nnssl_adaptation_plan.pretrain_plan.configurations must be a non-empty dict",
    ],
    [
      "bad patch size",
      (o: any) => (o.nnssl_adaptation_plan.recommended_downstream_patchsize = [32, 0, 32]),
      "x.pth: nnssl_adaptation_plan.recommended_downstream_patchsize must be a list of positive integers",
    ],
    [
      "bad channels",
      (o: any) => (o.nnssl_adaptation_plan.pretrain_num_input_channels = 1.5),
      "x.pth: nnssl_adaptation_plan.pretrain_num_input_channels must be a positive integer",
    ],
    [
      "bad spacing",
      (o: any) => (o.nnssl_adaptation_plan.pretrain_plan.configurations.onemmiso.spacing = ["a"]),
      "x.pth: nnssl_adaptation_plan.pretrain_plan.configurations.onemmiso.spacing must be",
    ],
    ["no weights", (o: any) => delete o.network_weights, "x.pth: network_weights is missing"],
    [
      "non-tensor weight",
      (o: any) => (o.network_weights["encoder.stem.convs.0.conv.weight"] = 1),
      "x.pth: network_weights.encoder.stem.convs.0.conv.weight is not a tensor",
    ],
    ["citations not a list", (o: any) => (o.citations = "x"), "x.pth: citations must be a list"],
  ])("%s is a CheckpointError naming file and key", (_, mutate, message) => {
    const o = base();
    mutate(o);
    let err: unknown;
    try {
      Checkpoint.fromObject(o, "x.pth");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message.startsWith(message)).toBe(true);
  });

  it("refuses a state dict that is not a checkpoint dict", () => {
    expect(() => Checkpoint.fromObject(new Map([[1, 2]]), "m.pth")).toThrow("m.pth: not an nnssl checkpoint: the file holds no dict with string keys");
  });

  it("load of a missing file names it", async () => {
    await expect(Checkpoint.load("/nonexistent/ck.pth")).rejects.toThrow("/nonexistent/ck.pth: file not found");
    await expect(Checkpoint.load("http://huggingface.co/a/b")).rejects.toThrow("only https://huggingface.co/<org>/<repo> URLs are downloaded");
  });
});
