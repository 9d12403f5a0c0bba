import { describe, it, expect, beforeAll } from "vitest";
import { mkdtempSync, readFileSync } from "node:fs";
import { buildNetwork } from "../../sdk/networks/build-network.js";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { trainPretrained, type TrainOptions } from "../../sdk/training/run-training.js";
import { TRAINERS, resolveTrainer, trainerRows, formatTrainerTable } from "../../sdk/training/trainers.js";
import { trainingStages, stageAt, upstreamSawtoothStage } from "../../sdk/training/stages.js";
import { learningRateSchedule } from "../../sdk/training/trainer.js";
import { loadTorchFile } from "../../sdk/io/torch/index.js";
import { writeSyntheticDataset, type SyntheticDataset } from "./helpers/synthetic-dataset.js";
import { writePretrainedPlans } from "./helpers/pretrained-plans.js";

const get = (o: unknown, k: string): any => (o instanceof Map ? o.get(k) : (o as Record<string, unknown>)[k]);
const keysOf = (o: unknown): string[] => (o instanceof Map ? [...o.keys()] : Object.keys(o as object));

describe("trainer registry (nnU-Net master and the fork's sawtooth trainers)", () => {
  it("has master's hyper-parameters for the added variants", () => {
    expect(resolveTrainer("PretrainedTrainer_smallerlr")).toMatchObject({
      optimizer: "SGD",
      initialLr: 3e-5,
      initialLrFromScratch: 1e-4,
      weightDecay: 5e-2,
      warmupEpochs: 50,
      numEpochs: 1000,
      mirroring: true,
    });
    expect(resolveTrainer("PretrainedTrainer_nomirroring")).toMatchObject({ optimizer: "SGD", initialLr: 1e-3, warmupEpochs: 50, mirroring: false });
    expect(resolveTrainer("PretrainedTrainer_150ep_nomirroring")).toMatchObject({ optimizer: "SGD", warmupEpochs: 15, numEpochs: 150, mirroring: false });
    // Master derives _adam__nomirroring from the SGD PretrainedTrainer; we copy that.
    expect(resolveTrainer("PretrainedTrainer_adam__nomirroring")).toMatchObject({
      optimizer: "SGD",
      initialLr: 1e-3,
      weightDecay: 3e-5,
      gradClip: 12,
      mirroring: false,
    });
    expect(resolveTrainer("PretrainedTrainer_adam_150ep")).toMatchObject({
      optimizer: "AdamW",
      initialLr: 1e-4,
      initialLrFromScratch: 3e-4,
      weightDecay: 5e-2,
      gradClip: 1,
      warmupEpochs: 15,
      numEpochs: 150,
      mirroring: true,
    });
    expect(resolveTrainer("PretrainedTrainer_adam_150ep_nomirroring")).toMatchObject({ optimizer: "AdamW", numEpochs: 150, mirroring: false });
    expect(resolveTrainer("PretrainedTrainer_300ep")).toMatchObject({ warmupEpochs: 15, numEpochs: 300 });
    expect(resolveTrainer("PretrainedTrainer_sawtooth")).toMatchObject({
      optimizer: "SGD",
      initialLr: 1e-3,
      initialLrFromScratch: null,
      weightDecay: 3e-5,
      warmupEpochs: 50,
      numEpochs: 1000,
      batchSize: null,
      sawtooth: { decoderEpochs: 50, warmupLrFactor: 1, heads: "decoder" },
    });
    expect(resolveTrainer("PretrainedTrainer_sawtooth_150ep")).toMatchObject({ warmupEpochs: 15, numEpochs: 150, sawtooth: { decoderEpochs: 15 } });
    expect(resolveTrainer("PretrainedTrainer_Primus_sawtooth")).toMatchObject({
      optimizer: "AdamW",
      initialLr: 1e-4,
      weightDecay: 5e-2,
      gradClip: 1,
      sawtooth: { decoderEpochs: 50, warmupLrFactor: 0.01, heads: "up_projection" },
    });
    expect(resolveTrainer("PretrainedTrainer_Primus_sawtooth_150ep")).toMatchObject({
      warmupEpochs: 50,
      numEpochs: 150,
      sawtooth: { decoderEpochs: 15, warmupLrFactor: 0.1 },
    });
  });

  it("lists every registry entry in the trainers table", () => {
    const rows = trainerRows();
    expect(rows.map((r) => r.name)).toEqual(Object.keys(TRAINERS));
    expect(rows.find((r) => r.name === "PretrainedTrainer_Primus_sawtooth")).toMatchObject({
      optimizer: "AdamW",
      lr: 1e-4,
      warmup: "decoder 50 (lr x0.01), then 50",
      epochs: 1000,
      mirroring: true,
    });
    const table = formatTrainerTable(rows);
    for (const name of Object.keys(TRAINERS)) expect(table).toMatch(new RegExp(`^${name}\\s`, "m"));
    expect(table).toMatch(/PretrainedTrainer_adam__nomirroring\s+SGD .*despite its name SGD/);
  });
});

describe("sawtooth schedule (TaWald/nnUNet sawtooth_trainer.py)", () => {
  it("has the four stages and learning rates of upstream's schedulers", () => {
    const spec = resolveTrainer("PretrainedTrainer_sawtooth");
    const stages = trainingStages(spec, 1e-3);
    expect(stages.map((s) => [s.name, s.start, s.end, s.params, s.keepsOptimizerOf])).toEqual([
      ["warmup_decoder", 0, 25, "heads", null],
      ["train_decoder", 25, 50, "heads", "warmup_decoder"],
      ["warmup_all", 50, 100, "all", null],
      ["train", 100, 1000, "all", "warmup_all"],
    ]);
    const lr = learningRateSchedule(spec, 1e-3);
    expect(lr(0)).toBeCloseTo(1e-3 / 25, 15); // Lin_incr_LRScheduler(lr, D//2)
    expect(lr(24)).toBeCloseTo(1e-3, 15);
    expect(lr(30)).toBeCloseTo(1e-3 * (1 - 5 / 25) ** 0.9, 15); // PolyLRScheduler_offset(lr, D, D//2)
    expect(lr(50)).toBeCloseTo(1e-3 / 50, 15); // Lin_incr_offset_LRScheduler(lr, D+W, D)
    expect(lr(99)).toBeCloseTo(1e-3, 15);
    expect(lr(500)).toBeCloseTo(1e-3 * (1 - 400 / 900) ** 0.9, 15); // PolyLRScheduler_offset(lr, 1000, D+W)
    const primus = learningRateSchedule(resolveTrainer("PretrainedTrainer_Primus_sawtooth_150ep"), 1e-4);
    expect(primus(0)).toBeCloseTo((1e-4 * 0.1) / 7, 15);
    expect(primus(15)).toBeCloseTo(1e-4 / 50, 15);
    expect(primus(64)).toBeCloseTo(1e-4, 15);
  });

  it("selects the stage of the uninterrupted run when resuming (upstream's get_stage picks train inside warmup_all)", () => {
    const stages = trainingStages(resolveTrainer("PretrainedTrainer_sawtooth"), 1e-3);
    for (const e of [0, 24, 25, 49, 50, 75, 99, 100, 999]) {
      const ours = stageAt(stages, e).name;
      const up = upstreamSawtoothStage(50, 50, e);
      if (e >= 50 && e < 100) {
        expect(ours).toBe("warmup_all");
        expect(up).toBe("train");
      } else expect(up).toBe(ours);
    }
    expect(upstreamSawtoothStage(15, 50, 55)).toBe("train");
    expect(stageAt(trainingStages(resolveTrainer("PretrainedTrainer_Primus_sawtooth_150ep"), 1e-4), 55).name).toBe("warmup_all");
  });
});

describe("each trainer fine-tunes the synthetic example for one short epoch", () => {
  let ds: SyntheticDataset;
  let resEnc: string;
  let primus: string;
  beforeAll(async () => {
    ds = await writeSyntheticDataset(mkdtempSync(path.join(tmpdir(), "nnssl-variants-")), { id: 981, numCases: 5 });
    resEnc = await writePretrainedPlans(ds, "ResEnc");
    primus = await writePretrainedPlans(ds, "Primus");
  });
  const run = (trainer: string, plans: string, extra: Partial<TrainOptions> = {}) =>
    trainPretrained({
      dataset: ds.datasetName,
      configuration: "3d_fullres",
      fold: 0,
      plans,
      trainer: `${trainer}_1epoch`,
      numIterationsPerEpoch: 1,
      numValIterationsPerEpoch: 1,
      seed: 3,
      numWorkers: 0,
      skipValidation: true,
      paths: ds.paths,
      ...extra,
    });

  it.each([
    ["PretrainedTrainer_smallerlr", 3e-5 / 50, true],
    ["PretrainedTrainer_nomirroring", 1e-3 / 50, false],
    ["PretrainedTrainer_150ep_nomirroring", 1e-3 / 15, false],
    ["PretrainedTrainer_adam__nomirroring", 1e-3 / 50, false],
    ["PretrainedTrainer_adam_150ep", 1e-4 / 15, true],
    ["PretrainedTrainer_adam_150ep_nomirroring", 1e-4 / 15, false],
    ["PretrainedTrainer_sawtooth", 1e-3 / 25, true],
    ["PretrainedTrainer_sawtooth_150ep", 1e-3 / 7, true],
  ] as const)("%s (ResidualEncoderUNet)", async (trainer, lr0, mirroring) => {
    const r = await run(trainer, resEnc);
    expect(r.transfer!.ptWeightInChMismatch).toBe(true);
    expect(r.logging.lrs[0]).toBeCloseTo(lr0, 15);
    const ck = await loadTorchFile(r.checkpointFinal!);
    expect(get(ck, "trainer_name")).toBe(`${trainer}_1epoch`);
    const axes = get(ck, "inference_allowed_mirroring_axes");
    expect(axes === null ? null : [...axes]).toEqual(mirroring ? [0, 1, 2] : null);
    const group = get(get(ck, "optimizer_state"), "param_groups")[0];
    // Every parameter is in the optimizer (the sawtooth decoder stage of a UNet includes the encoder) and got a step,
    // except the lower-resolution seg layer (weight, bias), which has no gradient without deep supervision, as in torch.
    const plans = JSON.parse(readFileSync(path.join(ds.paths.nnUNet_preprocessed, ds.datasetName, `${resEnc}.json`), "utf8"));
    const net = buildNetwork(plans.configurations["3d_fullres"].architecture, { inputChannels: 2, numClasses: 2, patchSize: [8, 8, 8], seed: 1 });
    const nParams = net.namedParameters().length;
    net.dispose();
    expect(get(group, "params")).toHaveLength(nParams);
    expect(keysOf(get(get(ck, "optimizer_state"), "state"))).toHaveLength(nParams - 2);
    if (trainer.includes("adam_150ep")) expect([...get(group, "betas")].map(Number)).toEqual([0.9, 0.98]);
  });

  it.each([
    ["PretrainedTrainer_Primus_sawtooth", (1e-4 * 0.01) / 25],
    ["PretrainedTrainer_Primus_sawtooth_150ep", (1e-4 * 0.1) / 7],
  ] as const)("%s (Primus): the decoder stage optimizes up_projection and the repeated input projection", async (trainer, lr0) => {
    const r = await run(trainer, primus);
    expect(r.transfer!.ptWeightInChMismatch).toBe(true);
    expect(r.logging.lrs[0]).toBeCloseTo(lr0, 15);
    const ck = await loadTorchFile(r.checkpointFinal!);
    const opt = get(ck, "optimizer_state");
    const keys = keysOf(get(ck, "network_weights"));
    const upProjection = keys.filter((k) => k.startsWith("up_projection.")).length;
    // up_projection parameters, then down_projection.proj weight and bias (torch: list(heads) + list(in_proj)).
    expect(get(get(opt, "param_groups")[0], "params")).toHaveLength(upProjection + 2);
    expect(get(get(opt, "param_groups")[0], "lr")).toBeCloseTo(lr0, 15);
    // Only the heads moved: the transformer blocks are exactly as loaded from the pretraining checkpoint.
    const pt = await loadTorchFile(path.join(ds.root, "pretrained_Primus.pth"));
    const w = get(ck, "network_weights");
    const blocks = keys.filter((k) => k.startsWith("eva.blocks."));
    expect(blocks.length).toBeGreaterThan(0);
    for (const k of blocks) expect(Array.from(get(w, k).toFloat32())).toEqual(Array.from(get(get(pt, "network_weights"), k).toFloat32()));
    expect(
      keys
        .filter((k) => k.startsWith("up_projection."))
        .some((k) =>
          get(w, k)
            .toFloat32()
            .some((v: number, i: number) => v !== 0 && v !== undefined && i >= 0),
        ),
    ).toBe(true);
  });

  it("--val_best after training validates with checkpoint_best.pth, without test-time mirroring for a _nomirroring trainer", async () => {
    const r = await run("PretrainedTrainer_nomirroring", resEnc, { skipValidation: false, validationWithBest: true });
    expect(r.checkpointBest).not.toBeNull();
    expect(readFileSync(r.logFile!, "utf8")).toMatch(/Validating with checkpoint_best\.pth/);
    expect(r.validation!.metric_per_case.length).toBeGreaterThan(0);
  });
});

describe("warm-up and resume through the sawtooth stages", () => {
  let ds: SyntheticDataset;
  let plans: string;
  beforeAll(async () => {
    ds = await writeSyntheticDataset(mkdtempSync(path.join(tmpdir(), "nnssl-sawtooth-")), { id: 982, numCases: 5 });
    plans = await writePretrainedPlans(ds, "ResEnc");
  });
  const opts = (extra: Partial<TrainOptions> = {}): TrainOptions => ({
    dataset: ds.datasetName,
    configuration: "3d_fullres",
    fold: 0,
    plans,
    trainer: "PretrainedTrainer_sawtooth",
    numEpochs: 6,
    warmupEpochs: 3,
    numIterationsPerEpoch: 1,
    numValIterationsPerEpoch: 0,
    seed: 5,
    numWorkers: 0,
    skipValidation: true,
    paths: ds.paths,
    ...extra,
  });

  it("a run resumed inside warmup_all continues the ramp (upstream's get_stage would jump to the full LR)", async () => {
    // numEpochs 6 scales the decoder stages to max(1, round(50 * 6 / 1000)) = 1: train_decoder [0, 1), warmup_all [1, 4), train [4, 6).
    await expect(
      trainPretrained(
        opts({
          onEpochEnd: (e) => {
            if (e.epoch === 1) throw new Error("killed");
          },
        }),
      ),
    ).rejects.toThrow("killed");
    const run = await trainPretrained(opts({ continueTraining: true }));
    expect(run.resumedFrom).toMatch(/checkpoint_latest\.pth$/);
    expect(run.startEpoch).toBe(2);
    const lr = 1e-3;
    const expected = [lr, lr / 3, (2 * lr) / 3, lr, lr, lr * (1 - 1 / 2) ** 0.9];
    run.logging.lrs.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 15));
    expect(run.logging.lrs).toHaveLength(6);
    const log = readFileSync(run.logFile!, "utf8");
    expect(log).toMatch(/train whole net, warmup \(stage warmup_all, epochs 1-3/);
    expect(log).toMatch(/train whole net, default schedule \(stage train, epochs 4-5/);
  });

  it("a shorter --num_epochs scales the warm-up in proportion and says so; --warmup_epochs overrides", async () => {
    const short = await trainPretrained(opts({ trainer: "PretrainedTrainer", numEpochs: 2, warmupEpochs: undefined, disableCheckpointing: true }));
    expect(short.warmupEpochs).toBe(1); // 50 * 2 / 1000 rounds to 0, at least 1
    expect(short.logging.lrs[0]).toBeCloseTo(1e-3, 15);
    expect(readFileSync(short.logFile!, "utf8")).toMatch(/Scaled to --num_epochs 2: warm-up 1 epoch\(s\) instead of 50 of 1000/);
    const explicit = await trainPretrained(opts({ trainer: "PretrainedTrainer", numEpochs: 2, warmupEpochs: 4, disableCheckpointing: true }));
    expect(explicit.warmupEpochs).toBe(4);
    expect(explicit.logging.lrs[0]).toBeCloseTo(1e-3 / 4, 15);
  });
});
