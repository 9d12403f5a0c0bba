import { describe, it, expect, beforeAll } from "vitest";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { tf } from "../../sdk/backend/index.js";
import { trainPretrained, type TrainOptions } from "../../sdk/training/run-training.js";
import { buildNetwork } from "../../sdk/networks/build-network.js";
import { encoderLayout, frozenMask, layerwiseLrScales, parseFreeze, runFrozenPrefixWithoutTape } from "../../sdk/training/freeze.js";
import { SGD } from "../../sdk/training/optimizers.js";
import { loadTorchFile, type TorchTensor } from "../../sdk/io/torch/index.js";
import { writeSyntheticDataset, type SyntheticDataset } from "./helpers/synthetic-dataset.js";
import { PRIMUS_ARCH, writePretrainedPlans } from "./helpers/pretrained-plans.js";
import { runPythonJson, pythonSkipReason } from "../helpers/python.js";

const get = (o: unknown, k: string): any => (o instanceof Map ? o.get(k) : (o as Record<string, unknown>)[k]);
const keysOf = (o: unknown): string[] => (o instanceof Map ? [...o.keys()] : Object.keys(o as object));
const same = (a: TorchTensor, b: TorchTensor) => a.toFloat32().every((v, i) => v === b.toFloat32()[i]);

const RESENC_ARCH = () => JSON.parse(readFileSync("test/fixtures/forward/ResidualEncoderUNet_2ch/config.json", "utf8")).kwargs;

describe("--freeze targets, layer-wise decay", () => {
  const resEnc = () => {
    const { input_channels: _i, num_classes: _n, deep_supervision: _d, ...k } = RESENC_ARCH();
    return buildNetwork({ network_class_name: "ResidualEncoderUNet", arch_kwargs: k }, { inputChannels: 2, numClasses: 2, patchSize: [8, 8, 8], seed: 1 });
  };

  it("parses encoder, stem and stages:A-B and names the flag in errors", () => {
    expect(parseFreeze("encoder")).toEqual({ kind: "encoder" });
    expect(parseFreeze("stages:0-2")).toEqual({ kind: "stages", from: 0, to: 2 });
    expect(parseFreeze("stages:1")).toEqual({ kind: "stages", from: 1, to: 1 });
    expect(() => parseFreeze("decoder")).toThrow(/^--freeze "decoder": expected encoder, stem or stages:A-B/);
    expect(() => parseFreeze("stages:2-1")).toThrow(/^--freeze stages:2-1: the range must go upwards/);
  });

  it("freezes the stem, stages or the encoder of a ResidualEncoderUNet and of a Primus", () => {
    const net = resEnc();
    const names = net.namedParameters().map(([n]) => n);
    const pick = (m: boolean[]) => names.filter((_, i) => m[i]);
    expect(encoderLayout(net)).toMatchObject({ firstStage: 1, numStages: 3 });
    expect(pick(frozenMask(net, { kind: "stem" })).every((n) => n.startsWith("encoder.stem."))).toBe(true);
    expect(pick(frozenMask(net, { kind: "stages", from: 0, to: 1 })).every((n) => /^encoder\.stages\.[01]\./.test(n))).toBe(true);
    expect(pick(frozenMask(net, { kind: "encoder" }))).toEqual(names.filter((n) => n.startsWith("encoder.")));
    expect(() => frozenMask(net, { kind: "stages", from: 0, to: 3 })).toThrow(/--freeze stages:0-3: ResidualEncoderUNet has encoder stages 0-2/);
    // decoder x1, deepest stage x0.5, ..., stem x0.5^4
    const scales = layerwiseLrScales(net, 0.5);
    expect(scales[names.indexOf("decoder.seg_layers.0.weight")]).toBe(1);
    expect(scales[names.findIndex((n) => n.startsWith("encoder.stages.2."))]).toBe(0.5);
    expect(scales[names.findIndex((n) => n.startsWith("encoder.stages.0."))]).toBe(0.125);
    expect(scales[names.indexOf("encoder.stem.convs.0.conv.weight")]).toBe(0.0625);
    net.dispose();
    const primus = buildNetwork(PRIMUS_ARCH, { inputChannels: 1, numClasses: 2, patchSize: [8, 8, 8], seed: 1 });
    const pn = primus.namedParameters().map(([n]) => n);
    expect(pn.filter((_, i) => frozenMask(primus, { kind: "stem" })[i])).toEqual(pn.filter((n) => n.startsWith("down_projection.") || n === "eva.pos_embed"));
    expect(
      pn.filter((_, i) => frozenMask(primus, { kind: "stages", from: 1, to: 1 })[i]).every((n) => n.startsWith("eva.blocks.1.") || n.startsWith("eva.norm.")),
    ).toBe(true);
    primus.dispose();
  });

  it("runs the frozen prefix off the gradient tape: same decoder gradients, less memory kept for the backward pass", () => {
    const net = resEnc();
    const frozen = frozenMask(net, { kind: "encoder" });
    const vars = net
      .namedParameters()
      .map(([, v]) => v)
      .filter((_, i) => !frozen[i]);
    const x = tf.randomNormal([2, 2, 8, 8, 8], 0, 1, "float32", 4);
    // Bytes alive right after the forward pass inside variableGrads: weights, input, output and what the tape saved.
    let kept = 0;
    const loss = () => {
      const out = net.forward(x) as tf.Tensor;
      kept = tf.memory().numBytes;
      return tf.mean(tf.square(out)) as tf.Scalar;
    };
    const grads = () => {
      const { value, grads: g } = tf.variableGrads(loss, vars);
      value.dispose();
      return vars.map((v) => g[v.name]);
    };
    const ref = grads();
    const keptOn = kept;
    const prefix = runFrozenPrefixWithoutTape(net, frozen);
    expect(prefix.units).toBe(4); // stem + 3 stages
    const got = grads();
    const keptOff = kept;
    // The lower-resolution seg layer is unused without deep supervision: no gradient either way.
    expect(got.map((g) => g === undefined)).toEqual(ref.map((g) => g === undefined));
    got.forEach((g, i) => {
      if (g) expect(Array.from(g.dataSync())).toEqual(Array.from(ref[i]!.dataSync()));
    });
    expect(keptOff).toBeLessThan(0.6 * keptOn);
    prefix.restore();
    tf.dispose([...ref, ...got, x].filter((t): t is tf.Tensor => t !== undefined));
    net.dispose();
  });

  it("SGD with per-parameter LR factors steps each parameter at its own rate", () => {
    const a = tf.variable(tf.tensor([1, 1])),
      b = tf.variable(tf.tensor([1, 1]));
    const opt = new SGD([a, b], { lr: 0.1, momentum: 0, weightDecay: 0, nesterov: false, lrScales: [1, 0.5] });
    const g = tf.tensor([1, 2]);
    opt.step([g, g]);
    expect(Array.from(a.dataSync())).toEqual([1 - 0.1, 1 - 0.2].map((v) => Math.fround(v)));
    expect(Array.from(b.dataSync())).toEqual([1 - 0.05, 1 - 0.1].map((v) => Math.fround(v)));
    expect(opt.stateDict().param_groups).toHaveLength(1);
    tf.dispose([a, b, g]);
  });
});

describe("partial fine-tuning end to end (PretrainedTrainer on the synthetic dataset)", () => {
  let ds: SyntheticDataset;
  let plans: string;
  let pretrained: Map<string, TorchTensor>;
  beforeAll(async () => {
    ds = await writeSyntheticDataset(mkdtempSync(path.join(tmpdir(), "nnssl-freeze-")), { id: 983, numCases: 5 });
    plans = await writePretrainedPlans(ds, "ResEnc");
    const ck = await loadTorchFile(path.join(ds.root, "pretrained_ResEnc.pth"));
    const w = get(ck, "network_weights");
    pretrained = new Map(keysOf(w).map((k) => [k, get(w, k)]));
  });
  const opts = (extra: Partial<TrainOptions>): TrainOptions => ({
    dataset: ds.datasetName,
    configuration: "3d_fullres",
    fold: 0,
    plans,
    trainer: "PretrainedTrainer_1epoch",
    numIterationsPerEpoch: 2,
    numValIterationsPerEpoch: 0,
    seed: 9,
    numWorkers: 0,
    skipValidation: true,
    paths: ds.paths,
    ...extra,
  });

  it("--freeze encoder: encoder weights stay as loaded, no optimizer state for them, same checkpoint keys", async () => {
    const run = await trainPretrained(opts({ freeze: "encoder" }));
    const ck = await loadTorchFile(run.checkpointFinal!);
    const w = get(ck, "network_weights");
    const fresh = buildNetwork(
      JSON.parse(readFileSync(path.join(ds.paths.nnUNet_preprocessed, ds.datasetName, `${plans}.json`), "utf8")).configurations["3d_fullres"].architecture,
      { inputChannels: 2, numClasses: 2, patchSize: [8, 8, 8], seed: 9 },
    );
    expect(keysOf(w)).toEqual([...fresh.stateDict().keys()]);
    const names = fresh.namedParameters().map(([n]) => n);
    // Encoder stages unchanged (the stem's input projection was repeated to 2 channels, so compare the stages).
    for (const k of keysOf(w).filter((n) => n.startsWith("encoder.stages."))) expect(same(get(w, k), pretrained.get(k)!)).toBe(true);
    const initial = fresh.stateDict();
    expect(
      keysOf(w)
        .filter((k) => k.startsWith("decoder.stages."))
        .some((k) => !same(get(w, k), initial.get(k)!)),
    ).toBe(true);
    const opt = get(ck, "optimizer_state");
    const withState = keysOf(get(opt, "state")).map(Number);
    expect(withState.length).toBeGreaterThan(0);
    expect(withState.every((i) => !names[i]!.startsWith("encoder."))).toBe(true);
    expect(get(get(opt, "param_groups")[0], "params")).toHaveLength(names.length);
    expect(readFileSync(run.logFile!, "utf8")).toMatch(
      /Frozen \(--freeze encoder\): \d+ of \d+ parameter tensors, the first 4 encoder part\(s\) without gradient tape/,
    );
    fresh.dispose();
  });

  const skip = pythonSkipReason(["torch"]);
  it.skipIf(skip !== null)(`a frozen run's optimizer_state loads into torch.optim.SGD over all parameters and steps ${skip ?? ""}`, async () => {
    const run = await trainPretrained(
      opts({ freeze: "stages:0-1", trainer: "PretrainedTrainer_1epoch", disableCheckpointing: false, numIterationsPerEpoch: 1 }),
    );
    const fresh = buildNetwork(
      JSON.parse(readFileSync(path.join(ds.paths.nnUNet_preprocessed, ds.datasetName, `${plans}.json`), "utf8")).configurations["3d_fullres"].architecture,
      { inputChannels: 2, numClasses: 2, patchSize: [8, 8, 8], seed: 9 },
    );
    const names = fresh.namedParameters().map(([n]) => n);
    fresh.dispose();
    const out = runPythonJson<{ nState: number; frozenWithState: number }>(
      `
import json, sys, torch
ck = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
names = json.loads(sys.argv[2])
w = ck["network_weights"]
ps = [torch.nn.Parameter(w[n].clone()) for n in names]
opt = torch.optim.SGD(ps, lr=1e-3, momentum=0.99, nesterov=True, weight_decay=3e-5)
opt.load_state_dict(ck["optimizer_state"])
for p in ps: p.grad = torch.ones_like(p)
opt.step()
frozen = [i for i, n in enumerate(names) if n.startswith("encoder.stages.0.") or n.startswith("encoder.stages.1.")]
print(json.dumps({"nState": len(ck["optimizer_state"]["state"]), "frozenWithState": sum(1 for i in frozen if i in ck["optimizer_state"]["state"])}))
`,
      [run.checkpointFinal!, JSON.stringify(names)],
    );
    expect(out.nState).toBeGreaterThan(0);
    expect(out.frozenWithState).toBe(0);
  });

  it("--unfreeze_at_epoch trains the frozen stages again from that epoch; --lr_decay_per_stage keeps one param group", async () => {
    const run = await trainPretrained(
      opts({ trainer: "PretrainedTrainer_2epochs", freeze: "stages:0-1", unfreezeAtEpoch: 1, lrDecayPerStage: 0.5, numIterationsPerEpoch: 1 }),
    );
    const ck = await loadTorchFile(run.checkpointFinal!);
    const w = get(ck, "network_weights");
    expect(
      keysOf(w)
        .filter((n) => n.startsWith("encoder.stages.0."))
        .some((n) => !same(get(w, n), pretrained.get(n)!)),
    ).toBe(true);
    const opt = get(ck, "optimizer_state");
    expect(get(opt, "param_groups")).toHaveLength(1);
    expect(keysOf(get(opt, "state")).length).toBeGreaterThan(40);
    expect(readFileSync(run.logFile!, "utf8")).toMatch(/Unfrozen: every parameter trains from this epoch on/);
  });

  it("validates the options, naming the flag", async () => {
    await expect(trainPretrained(opts({ freeze: "head" }))).rejects.toThrow(/^--freeze "head"/);
    await expect(trainPretrained(opts({ unfreezeAtEpoch: 2 }))).rejects.toThrow(/^--unfreeze_at_epoch needs --freeze/);
    await expect(trainPretrained(opts({ freeze: "stem", unfreezeAtEpoch: 0 }))).rejects.toThrow(/^invalid --unfreeze_at_epoch: 0/);
    await expect(trainPretrained(opts({ lrDecayPerStage: 1.5 }))).rejects.toThrow(/^invalid --lr_decay_per_stage: 1.5/);
    await expect(trainPretrained(opts({ freeze: "stages:0-7" }))).rejects.toThrow(/--freeze stages:0-7: ResidualEncoderUNet has encoder stages 0-2/);
  });
});
