import { describe, expect, it } from "vitest";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as aq from "arquero";
import { figureBundle, show, sliceViewer, spacingHistogram, summarize } from "../../kernel-extensions/index.js";
import { formatNpy } from "../../sdk/io/npy.js";

const html = (b: Record<string, unknown>) => String(b["text/html"] ?? "");
const log = {
  train_losses: [0.9, 0.5],
  val_losses: [1, 0.6],
  mean_fg_dice: [0.1, 0.4],
  ema_fg_dice: [0.1, 0.13],
  lrs: [1e-3, 5e-4],
  dice_per_class_or_region: [[0.1], [0.4]],
  epoch_start_timestamps: [0, 10],
  epoch_end_timestamps: [9, 19],
};

describe("summarize(x) recognises SDK objects by shape", () => {
  it("Dataset: summary + cases table, and the spacing histogram once a fingerprint exists", async () => {
    const pre = mkdtempSync(path.join(tmpdir(), "show-"));
    const raw = {
      name: "Dataset009_T",
      folder: "/raw/Dataset009_T",
      identifiers: ["a", "b"],
      readerWriter: "SimpleITKIO",
      datasetJson: { channel_names: { 0: "CT" }, labels: { background: 0, liver: 1 }, numTraining: 2, file_ending: ".nii.gz" },
      cases: { a: { images: ["/raw/a_0000.nii.gz"], label: "/raw/a.nii.gz" }, b: { images: ["/raw/b_0000.nii.gz"], label: null } },
    };
    const ds = { raw, paths: {}, preprocessedFolder: pre, name: raw.name, identifiers: raw.identifiers };
    let s = await summarize(ds);
    expect(s.kind).toBe("dataset");
    expect(s.bundles).toHaveLength(2);
    expect(html(s.bundles[0]!)).toContain("2 (1 labelled)");
    expect(html(s.bundles[0]!)).toContain("0: CT");
    expect(html(s.bundles[1]!)).toContain("a_0000.nii.gz");
    writeFileSync(
      path.join(pre, "dataset_fingerprint.json"),
      JSON.stringify({
        spacings: [
          [3, 1, 1],
          [2, 1, 1],
        ],
        shapes_after_crop: [
          [10, 20, 20],
          [12, 20, 22],
        ],
      }),
    );
    s = await summarize(ds);
    expect(s.bundles).toHaveLength(3);
    expect(html(s.bundles[0]!)).toContain("[2.5, 1, 1]");
    expect(s.bundles[2]!["image/svg+xml"]).toContain("<svg");
    expect(s.bundles[2]!["application/vnd.plotly.v1+json"]).toBeTruthy();
  });

  it("TrainingRun: summary with validation Dice and the training curves", async () => {
    const run = {
      datasetName: "Dataset009_T",
      configuration: "3d_fullres",
      fold: 0,
      trainerName: "PretrainedTrainer",
      plansName: "ptPlans__X",
      outputFolderBase: "/r",
      outputFolder: "/r/fold_0",
      logging: log,
      bestEma: 0.13,
      startEpoch: 0,
      epochsRun: 2,
      resumedFrom: null,
      transfer: {},
      meanEpochSeconds: 9.5,
      dataWaitSeconds: 0,
      seed: 1,
      numWorkers: 0,
      backend: "cpu",
      validation: { metric_per_case: [], mean: { 1: { Dice: 0.75 } }, foreground_mean: { Dice: 0.75 } },
    };
    const s = await summarize(run);
    expect(s.kind).toBe("training-run");
    expect(html(s.bundles[0]!)).toContain("validation Dice, label 1");
    expect(html(s.bundles[0]!)).toContain("0.75");
    expect(String(s.bundles[1]!["text/plain"])).toContain("2 epochs");
    expect(String(s.bundles[1]!["image/svg+xml"]).match(/<polyline/g)!.length).toBeGreaterThanOrEqual(5);
  });

  it("Checkpoint: adaptation plan and encoder stages", async () => {
    const ckpt = {
      path: "/ckpts/mae/checkpoint_final.pth",
      citations: [],
      raw: { trainer_name: "BaseMAETrainer" },
      weights: new Map([
        ["w", { shape: [8, 1, 3, 3, 3], storage: { key: "0" }, storageOffset: 0 }],
        ["b", { shape: [8], storage: { key: "1" }, storageOffset: 0 }],
        ["alias.w", { shape: [8, 1, 3, 3, 3], storage: { key: "0" }, storageOffset: 0 }],
      ]),
      adaptationPlan: {
        architecture_plans: {
          arch_class_name: "ResidualEncoderUNet",
          arch_kwargs: {
            features_per_stage: [8, 16],
            strides: [
              [1, 1, 1],
              [2, 2, 2],
            ],
            kernel_sizes: [
              [3, 3, 3],
              [3, 3, 3],
            ],
            n_blocks_per_stage: [1, 2],
          },
          arch_kwargs_requiring_import: [],
        },
        pretrain_plan: { configurations: { onemmiso: { spacing: [1, 1, 1], patch_size: [64, 64, 64] } } },
        pretrain_num_input_channels: 1,
        recommended_downstream_patchsize: [64, 64, 64],
        key_to_encoder: "encoder",
        key_to_stem: "encoder.stem",
        keys_to_in_proj: ["encoder.stem.convs.0"],
        key_to_lpe: null,
      },
    };
    const s = await summarize(ckpt);
    expect(s.kind).toBe("checkpoint");
    const t = html(s.bundles[0]!);
    expect(t).toContain("ResidualEncoderUNet");
    expect(t).toContain("0.00 M in 2 tensors (3 names)");
    expect(t).toContain("pretraining spacing (onemmiso)");
    expect(t).toContain("encoder.stem.convs.0");
    expect(html(s.bundles[1]!)).toContain("<td>[2, 2, 2]</td>");
  });

  it("compareAdaptationModes result: table, plus the spacing histogram with each mode's target", async () => {
    const modes = [
      {
        mode: "default_nnunet",
        spacing: [3, 1, 1],
        dataIdentifier: "Spacing__3.00_1.00_1.00___Norm__Z",
        patchSize: [64, 64, 64],
        medianShape: [10, 20, 20],
        patchCoverage: 1,
        sizeOnDisk: 2e6,
      },
      {
        mode: "no_resample",
        spacing: [null, null, null],
        dataIdentifier: "Spacing__None_None_None___Norm__Z",
        patchSize: [64, 64, 64],
        medianShape: [10, 20, 20],
        patchCoverage: 0.5,
        sizeOnDisk: 2e6,
      },
    ];
    expect((await summarize(modes)).bundles).toHaveLength(1);
    const s = await summarize(modes, {
      spacings: [
        [3, 1, 1],
        [2, 1, 1],
      ],
    });
    expect(s.kind).toBe("adaptation-modes");
    expect(html(s.bundles[0]!)).toContain("each case&#39;s own");
    expect(html(s.bundles[0]!)).toContain("50.0 %");
    expect(String(s.bundles[1]!["text/plain"])).toContain("default_nnunet: [3, 1, 1]");
  });

  it("PreprocessedDataset: configuration, cases and a slice drawn at the target spacing", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "show-pp-"));
    const folder = path.join(root, "Dataset009_T", "Spacing__1.00_1.00_1.00___Norm__Z");
    mkdirSync(folder, { recursive: true });
    const data = new Float32Array(2 * 4 * 4).map((_, i) => i);
    writeFileSync(path.join(folder, "a.npy"), formatNpy({ dtype: "float32", shape: [1, 2, 4, 4], data }));
    writeFileSync(path.join(folder, "a_seg.npy"), formatNpy({ dtype: "int16", shape: [1, 2, 4, 4], data: new Int16Array(32).fill(1) }));
    writeFileSync(path.join(folder, "a.json"), JSON.stringify({ spacing: [3, 1, 1] }));
    const plansJson = {
      plans_name: "ptPlans__X",
      transpose_forward: [0, 1, 2],
      configurations: {
        "3d_fullres": {
          spacing: [1, 1, 1],
          patch_size: [64, 64, 64],
          batch_size: 2,
          data_identifier: "Spacing__1.00_1.00_1.00___Norm__Z",
          normalization_schemes: ["ZScoreNormalization"],
        },
      },
    };
    const dataset = { name: "Dataset009_T", preprocessedFolder: path.join(root, "Dataset009_T"), raw: {} };
    const pre = {
      dataset,
      configuration: "3d_fullres",
      cases: aq.table({ identifier: ["a"], skipped: [false] }),
      folder,
      plans: { dataset, json: plansJson, file: "/x/ptPlans__X.json", name: "ptPlans__X" },
    };
    const s = await summarize(pre);
    expect(s.kind).toBe("preprocessed");
    expect(html(s.bundles[0]!)).toContain('<td style="text-align:left">cases on disk</td><td style="text-align:left">1</td>');
    expect(html(s.bundles[1]!)).toContain("identifier");
    expect(s.bundles[2]!["image/png"]).toBeTruthy();
    // 1 mm target spacing on every axis: a 2-slice axis is drawn square, not stretched by the original 3 mm
    expect(String(s.bundles[2]!["text/plain"])).toMatch(/ (\d+)x\1 PNG/);
  });

  it("evaluation summaries, arquero tables, rows and volumes", async () => {
    const ev = {
      metric_per_case: [{ reference_file: "/gt/a.nii.gz", prediction_file: "/p/a.nii.gz", metrics: { 1: { Dice: 0.5, IoU: 0.33 } } }],
      mean: { 1: { Dice: 0.5, IoU: 0.33 } },
      foreground_mean: { Dice: 0.5, IoU: 0.33 },
    };
    const e = await summarize(ev);
    expect(e.kind).toBe("evaluation");
    expect(html(e.bundles[0]!)).toContain("<td>a</td><td>0.5</td>");
    expect((await summarize(aq.table({ x: [1, 2] }))).kind).toBe("table");
    expect((await summarize([{ a: 1 }, { a: 2 }])).kind).toBe("rows");
    expect((await summarize({ data: new Float32Array(27), shape: [1, 3, 3, 3] })).bundles[0]!["image/png"]).toBeTruthy();
    await expect(summarize("Example_099")).rejects.toThrow(/^show: got the string "Example_099"; it draws a Dataset, .*; to look at a case use viewVolume/);
    await expect(summarize(42)).rejects.toThrow("show: got 42; it draws a Dataset, Fingerprint");
    expect(String((await summarize({ a: 1 })).bundles[0]!["text/plain"])).toMatch(/^\{ a: 1 \}\n\(show draws a Dataset, .* this object is none of them/);
  });

  it("show() resolves to undefined, so tslab prints nothing after the outputs, and sends nothing outside a kernel", async () => {
    await expect(show([{ a: 1 }])).resolves.toBeUndefined();
  });
});

describe("display fixes found by looking at the executed notebooks", () => {
  it("sliceViewer draws side-by-side volumes at one physical scale (raw 2 mm vs resampled 1 mm)", () => {
    const raw = { data: new Float32Array(10 * 20 * 20), shape: [1, 10, 20, 20], spacing: [2, 1, 1] };
    const resampled = { data: new Float32Array(20 * 20 * 20), shape: [1, 20, 20, 20], spacing: [1, 1, 1] };
    const v = sliceViewer([raw, resampled], { axis: 2, display: false });
    expect(v.images.map((im) => [im.width, im.height])).toEqual([
      [200, 200],
      [200, 200],
    ]);
    const cropped = { data: new Float32Array(5 * 5 * 5), shape: [1, 5, 5, 5], spacing: [1, 1, 1] };
    const w = sliceViewer([resampled, cropped], { display: false });
    expect(w.images[1]!.width * 4).toBe(w.images[0]!.width);
  });
  it("figures carry the SVG as an HTML <img> too (nbconvert's HTML export strips inline SVG outputs)", () => {
    const b = figureBundle(spacingHistogram([[2, 1, 1]], { display: false }));
    const m = /<img src="data:image\/svg\+xml;base64,([^"]+)"/.exec(String(b["text/html"]));
    expect(Buffer.from(m![1]!, "base64").toString("utf8")).toBe(b["image/svg+xml"]);
  });
});
