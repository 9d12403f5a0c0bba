// `await show(x)`: one call for every SDK object. It shows a short summary table and the picture that fits the object
// (Dataset: cases + spacing histogram; TrainingRun: curves; Checkpoint: adaptation plan; PreprocessedDataset: a
// preprocessed slice; ...). Objects are recognised by their shape (duck typing), so this module only needs types from
// the SDK at compile time; the one runtime import is .npy reading. Like every kernel extension it uses the public API only.

import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { inspect } from "node:util";
import type {
  AdaptationModeComparison,
  Checkpoint,
  Dataset,
  EvaluationSummary,
  Fingerprint,
  Model,
  Plans,
  PreprocessedDataset,
  TrainingRun,
  WeightTransferReport,
} from "../sdk/index.js";
import { InputError, didYouMean, readNpyFile } from "../sdk/index.js";
import { displayBundle, escapeHtml, withSummary, type MimeBundle } from "./mime.js";
import { ensurePlotly } from "./libraries.js";
import { tableBundle } from "./table.js";
import { figureBundle } from "./figure.js";
import { spacingHistogram } from "./spacing-histogram.js";
import { trainingCurves, type TrainingLog } from "./training-curves.js";
import type { VolumeLike } from "./slice-viewer.js";
import { viewVolume } from "./volume-viewer.js";

export type ShownKind =
  | "dataset"
  | "fingerprint"
  | "plans"
  | "preprocessed"
  | "training-run"
  | "model"
  | "checkpoint"
  | "adaptation-modes"
  | "evaluation"
  | "transfer-report"
  | "volume"
  | "table"
  | "rows"
  | "value";

export interface ShowOptions {
  /** Send the outputs to the notebook (default true; outside a notebook nothing is sent either way). */
  display?: boolean;
  /** Spacings to draw under an adaptation-mode comparison: a Fingerprint, a Dataset with a fingerprint, or [[s0,s1,s2], ...]. */
  spacings?: { spacings: readonly (readonly number[])[] } | readonly (readonly number[])[];
  /** PreprocessedDataset: the case to draw (default the first one). */
  caseId?: string;
  /** Maximum table rows (default 50). */
  limit?: number;
}

/** What `show` displayed: its kind and the MIME bundles in order (summary first, then the picture). */
export interface Shown {
  kind: ShownKind;
  bundles: MimeBundle[];
}

type Row = Record<string, unknown>;
type Obj = Record<string, unknown>;

const isObj = (x: unknown): x is Obj => typeof x === "object" && x !== null;
const has = (x: unknown, ...keys: string[]): boolean => isObj(x) && keys.every((k) => k in x);
const fn = (x: unknown, name: string): boolean => isObj(x) && typeof x[name] === "function";

const isArquero = (x: unknown) => fn(x, "toHTML") && fn(x, "toMarkdown") && fn(x, "numRows");
const isFacadeDataset = (x: unknown): x is Dataset => has(x, "raw") && has((x as Obj).raw, "identifiers", "datasetJson", "cases");
const isRawDataset = (x: unknown) => has(x, "identifiers", "datasetJson", "cases", "folder");
const isFingerprint = (x: unknown): x is Fingerprint => has(x, "json") && has((x as Obj).json, "spacings", "shapes_after_crop");
const isFacadePlans = (x: unknown): x is Plans => has(x, "json", "file", "dataset") && has((x as Obj).json, "configurations");
const isPlansJson = (x: unknown) => has(x, "configurations", "plans_name");
const isPreprocessed = (x: unknown): x is PreprocessedDataset => has(x, "plans", "configuration", "dataset", "cases") && isFacadePlans((x as Obj).plans);
const isRun = (x: unknown): x is TrainingRun => has(x, "logging", "trainerName", "outputFolder");
const isModel = (x: unknown): x is Model => has(x, "predictor", "folder") && fn(x, "predict");
const isCheckpoint = (x: unknown): x is Checkpoint => has(x, "adaptationPlan", "weights", "path");
const isComparison = (x: unknown): x is readonly AdaptationModeComparison[] =>
  Array.isArray(x) && x.length > 0 && x.every((c) => has(c, "mode", "spacing", "dataIdentifier", "patchSize"));
const isTransferReport = (x: unknown): x is WeightTransferReport => has(x, "mode", "tensors", "skipped", "notes") && fn(x, "toTable");
const isEvaluation = (x: unknown): x is EvaluationSummary => has(x, "metric_per_case", "mean", "foreground_mean");
const isVolume = (x: unknown): x is VolumeLike => has(x, "data", "shape") && ArrayBuffer.isView((x as Obj).data) && Array.isArray((x as Obj).shape);

/**
 * A path as the notebook reader should see it: relative to the working directory when it is near it (notebooks run
 * in notebooks/, so repository files read "../datasets-examples/..."), absolute otherwise. Keeps executed notebooks
 * free of the author's absolute paths.
 */
export function displayPath(p: string | null | undefined): string | undefined {
  if (!p) return undefined;
  if (!path.isAbsolute(p)) return p;
  const rel = path.relative(process.cwd(), p);
  return rel.split(path.sep).filter((s) => s === "..").length <= 2 && !path.isAbsolute(rel) ? rel || "." : p;
}

const fmtNum = (v: number) => (Number.isInteger(v) ? String(v) : String(+v.toPrecision(4)));
const fmtList = (v: readonly unknown[] | null | undefined): string =>
  v ? `[${v.map((e) => (e === null ? "—" : typeof e === "number" ? fmtNum(e) : Array.isArray(e) ? fmtList(e) : String(e))).join(", ")}]` : "—";
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1)} MB`;
const median = (v: readonly number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const medianPerAxis = (rows: readonly (readonly number[])[]) => (rows.length ? rows[0]!.map((_, a) => median(rows.map((r) => r[a]!))) : []);

/** A two-column "property | value" table. */
function summaryTable(title: string, rows: [string, unknown][]): MimeBundle {
  const b = tableBundle(
    rows
      .filter(([, v]) => v !== undefined)
      .map(([property, value]) => ({
        property,
        value: Array.isArray(value) ? fmtList(value) : typeof value === "number" ? fmtNum(value) : value === null ? "—" : String(value),
      })),
  );
  // Left-aligned (notebook CSS right-aligns table cells, which suits numbers, not paths and names).
  const table = (b["text/html"] as string).replace(/<(td|th)>/g, '<$1 style="text-align:left">');
  return {
    ...b,
    "text/html": `<div style="font:bold 13px sans-serif;margin:4px 0">${escapeHtml(title)}</div>${table}`,
    "text/plain": `${title}\n${b["text/plain"] as string}`,
  };
}

async function readJsonIfExists<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await fsp.readFile(file, "utf8")) as T;
  } catch {
    return null;
  }
}

function labelsText(labels: Record<string, unknown> | undefined): string {
  return Object.entries(labels ?? {})
    .map(([k, v]) => `${k}=${Array.isArray(v) ? fmtList(v) : String(v)}`)
    .join(", ");
}

async function showDataset(x: Dataset | Obj, o: ShowOptions): Promise<Shown> {
  const raw = (isFacadeDataset(x) ? x.raw : x) as Dataset["raw"];
  const dj = raw.datasetJson;
  const channels = dj.channel_names ?? dj.modality ?? {};
  const labelled = raw.identifiers.filter((id) => raw.cases[id]?.label).length;
  const fpFile = isFacadeDataset(x) ? path.join(x.preprocessedFolder, "dataset_fingerprint.json") : null;
  const fp = fpFile ? await readJsonIfExists<{ spacings: number[][]; shapes_after_crop: number[][] }>(fpFile) : null;
  const bundles = [
    summaryTable(`Dataset ${raw.name}`, [
      ["folder", displayPath(raw.folder)],
      ["cases", `${raw.identifiers.length} (${labelled} labelled)`],
      [
        "channels",
        Object.entries(channels)
          .map(([k, v]) => `${k}: ${v}`)
          .join(", "),
      ],
      ["labels", labelsText(dj.labels as Record<string, unknown>)],
      ["file ending", dj.file_ending],
      ["reader", raw.readerWriter],
      ["median spacing", fp ? medianPerAxis(fp.spacings) : "run `await ds.fingerprint()` to see spacings"],
      ["median shape (cropped)", fp ? medianPerAxis(fp.shapes_after_crop) : undefined],
    ]),
  ];
  const rows: Row[] = raw.identifiers.map((id, i) => ({
    case: id,
    images: raw.cases[id]!.images.map((f) => path.basename(f)).join(", "),
    label: raw.cases[id]!.label ? path.basename(raw.cases[id]!.label!) : "—",
    ...(fp && fp.spacings.length === raw.identifiers.length ? { spacing: fmtList(fp.spacings[i]), shape: fmtList(fp.shapes_after_crop[i]) } : {}),
  }));
  bundles.push(tableBundle(rows, { limit: o.limit ?? 50 }));
  if (fp) bundles.push(figureBundle(spacingHistogram(fp.spacings, { display: false })));
  return { kind: "dataset", bundles };
}

function showFingerprint(x: Fingerprint, o: ShowOptions): Shown {
  const intensity = Object.entries(x.json.foreground_intensity_properties_per_channel ?? {}).map(
    ([c, p]) => `channel ${c}: mean ${fmtNum(p.mean)}, sd ${fmtNum(p.std)}, p0.5..p99.5 ${fmtNum(p.percentile_00_5)}..${fmtNum(p.percentile_99_5)}`,
  );
  const bundles = [
    summaryTable("Dataset fingerprint", [
      ["cases", x.json.spacings.length],
      ["median spacing", medianPerAxis(x.json.spacings)],
      ["median shape (cropped)", medianPerAxis(x.json.shapes_after_crop)],
      ["median relative size after cropping", x.json.median_relative_size_after_cropping],
      ...intensity.map((t, i): [string, unknown] => [i === 0 ? "foreground intensities" : "", t]),
    ]),
  ];
  if (fn(x, "table")) bundles.push(tableBundle(x.table() as Parameters<typeof tableBundle>[0], { limit: o.limit ?? 50 }));
  bundles.push(figureBundle(spacingHistogram(x.json.spacings, { display: false })));
  return { kind: "fingerprint", bundles };
}

type ConfigLike = Obj & {
  spacing?: number[];
  patch_size?: number[];
  batch_size?: number;
  median_image_size_in_voxels?: number[];
  data_identifier?: string;
  normalization_schemes?: string[];
  inherits_from?: string;
  architecture?: { network_class_name?: string; arch_kwargs?: Obj };
};

function plansRows(json: Obj): Row[] {
  const configs = json.configurations as Record<string, ConfigLike>;
  return Object.entries(configs).map(([name, c0]) => {
    const c = c0.inherits_from ? { ...configs[c0.inherits_from], ...c0 } : c0;
    return {
      configuration: name,
      spacing: fmtList(c.spacing),
      patch_size: fmtList(c.patch_size),
      batch_size: c.batch_size ?? "—",
      median_shape: fmtList(c.median_image_size_in_voxels),
      data_identifier: c.data_identifier ?? "—",
      normalization: (c.normalization_schemes ?? []).join(", "),
      network: String(c.architecture?.network_class_name ?? "—")
        .split(".")
        .pop(),
    };
  });
}

function showPlans(x: Plans | Obj, o: ShowOptions): Shown {
  const json = (isFacadePlans(x) ? x.json : x) as Obj;
  const info = json.pretrain_info as Obj | undefined;
  const bundles = [
    summaryTable(`Plans ${String(json.plans_name)}`, [
      ["dataset", json.dataset_name],
      ["file", isFacadePlans(x) ? displayPath(x.file) : undefined],
      ["planner", json.experiment_planner_used],
      ["configurations", Object.keys(json.configurations as Obj).join(", ")],
      ["transpose forward", json.transpose_forward as unknown[]],
      ["original median spacing", json.original_median_spacing_after_transp as unknown[]],
      ["pretrained checkpoint", info ? (typeof info.checkpoint_path === "string" ? displayPath(info.checkpoint_path) : "—") : undefined],
      ["adaptation mode", info ? String(info.adaptation_mode ?? info.mode ?? "—") : undefined],
    ]),
    tableBundle(plansRows(json), { limit: o.limit ?? 50 }),
  ];
  return { kind: "plans", bundles };
}

async function showPreprocessed(x: PreprocessedDataset, o: ShowOptions): Promise<Shown> {
  const c = plansRows(x.plans.json as unknown as Obj).find((r) => r.configuration === x.configuration);
  let ids: string[] = [];
  try {
    ids = (await fsp.readdir(x.folder))
      .filter((f) => f.endsWith(".npy") && !f.endsWith("_seg.npy"))
      .map((f) => f.slice(0, -4))
      .sort();
  } catch {
    /* not preprocessed yet */
  }
  const bundles = [
    summaryTable(`Preprocessed ${x.dataset.name} · ${x.plans.name} · ${x.configuration}`, [
      ["folder", displayPath(x.folder)],
      ["cases on disk", ids.length],
      ["target spacing", c?.spacing],
      ["patch size", c?.patch_size],
      ["batch size", c?.batch_size],
      ["normalization", c?.normalization],
    ]),
  ];
  if (x.cases) bundles.push(tableBundle(x.cases as unknown as Parameters<typeof tableBundle>[0], { limit: o.limit ?? 50 }));
  if (o.caseId !== undefined && !ids.includes(o.caseId)) {
    throw new InputError(`show: case "${o.caseId}" is not in ${displayPath(x.folder)}${didYouMean(o.caseId, ids)}`);
  }
  const id = o.caseId ?? ids[0];
  if (id) {
    const data = await readNpyFile(path.join(x.folder, `${id}.npy`));
    const seg = await readNpyFile(path.join(x.folder, `${id}_seg.npy`)).catch(() => null);
    const props = await readJsonIfExists<{ spacing?: number[] }>(path.join(x.folder, `${id}.json`));
    // properties.spacing is the case's original spacing (file order); the data has the configuration's target spacing
    // (transposed order), where a null entry (no_resample) keeps the case's own.
    const tf = (x.plans.json as unknown as { transpose_forward?: number[] }).transpose_forward ?? [0, 1, 2];
    const target = (x.plans.json.configurations[x.configuration] as { spacing?: (number | null)[] } | undefined)?.spacing;
    const spacing = target?.map((s, a) => s ?? props?.spacing?.[tf[a]!] ?? 1);
    const vol = { data: data.data as Float32Array, shape: data.shape, spacing };
    const label = seg ? { data: seg.data as Int16Array, shape: seg.shape } : null;
    const labelNames = x.dataset.raw?.datasetJson?.labels as Record<string, number | number[]> | undefined;
    bundles.push(viewVolume(vol, { label, labelNames, display: false, title: `${id} (preprocessed, shape ${fmtList(data.shape.slice(1))})` }).bundle);
  }
  return { kind: "preprocessed", bundles };
}

function diceRows(v: EvaluationSummary | null | undefined): [string, unknown][] {
  if (!v) return [];
  return [
    ...Object.entries(v.mean).map(([k, m]): [string, unknown] => [`validation Dice, label ${k}`, m.Dice]),
    ["validation Dice, foreground mean", v.foreground_mean.Dice],
  ];
}

function showRun(x: TrainingRun): Shown {
  const L = x.logging;
  const n = L.train_losses.length;
  const last = <T>(a: readonly T[] | undefined) => (a && a.length ? a[a.length - 1] : undefined);
  const bundles = [
    summaryTable(`Training run ${x.trainerName} · fold ${x.fold}`, [
      ["dataset", x.datasetName],
      ["plans", x.plansName],
      ["configuration", x.configuration],
      ["output folder", displayPath(x.outputFolder)],
      ["epochs", x.resumedFrom ? `${n} (resumed at ${x.startEpoch})` : n],
      ["final train / val loss", n ? `${fmtNum(last(L.train_losses)!)} / ${fmtNum(last(L.val_losses)!)}` : "—"],
      ["final pseudo Dice (EMA)", n ? `${fmtNum(last(L.mean_fg_dice)!)} (${fmtNum(last(L.ema_fg_dice)!)})` : "—"],
      ["best EMA pseudo Dice", x.bestEma],
      ["pretrained weights", x.transferReport ? x.transferReport.summary() : x.transfer ? "loaded" : "none (from scratch)"],
      ["mean epoch time", `${x.meanEpochSeconds.toFixed(1)} s`],
      ["backend", x.backend],
      ...diceRows(x.validation),
    ]),
  ];
  if (n)
    bundles.push(figureBundle(trainingCurves(L as unknown as TrainingLog, { display: false, title: `Training progress (${x.trainerName}, fold ${x.fold})` })));
  return { kind: "training-run", bundles };
}

function showModel(x: Model): Shown {
  const p = x.predictor as unknown as {
    configurationName?: string;
    configuration?: ConfigLike;
    listOfParameters?: unknown[];
    useMirroring?: boolean;
    tileStepSize?: number;
  };
  return {
    kind: "model",
    bundles: [
      summaryTable(`Model ${path.basename(x.folder)}`, [
        ["folder", displayPath(x.folder)],
        ["configuration", p.configurationName],
        ["folds in the ensemble", p.listOfParameters?.length],
        ["input channels", x.numInputChannels],
        ["labels", labelsText(x.labels as Record<string, unknown>)],
        ["spacing", p.configuration?.spacing],
        ["patch size", p.configuration?.patch_size],
        ["test-time mirroring", p.useMirroring],
        ["tile step", p.tileStepSize],
      ]),
    ],
  };
}

function showCheckpoint(x: Checkpoint): Shown {
  const ap = x.adaptationPlan;
  const kw = (ap.architecture_plans.arch_kwargs ?? {}) as Obj;
  const pretrainConfigs = Object.entries((ap.pretrain_plan as unknown as { configurations?: Record<string, Obj> }).configurations ?? {});
  // Aliased names (the same module reachable by several PyTorch paths) share one storage: count each tensor once.
  let params = 0;
  const seen = new Set<string>();
  for (const t of x.weights.values()) {
    const s = t as unknown as { storage?: { key?: string }; storageOffset?: number; shape: number[] };
    const key = s.storage?.key !== undefined ? `${s.storage.key}:${s.storageOffset ?? 0}:${s.shape.join(",")}` : null;
    if (key !== null && seen.has(key)) continue;
    if (key !== null) seen.add(key);
    params += s.shape.reduce((a, b) => a * b, 1);
  }
  const tensors = seen.size || x.weights.size;
  const bundles = [
    summaryTable(`nnssl checkpoint ${path.basename(path.dirname(x.path))}/${path.basename(x.path)}`, [
      ["path", displayPath(x.path)],
      ["architecture", ap.architecture_plans.arch_class_name],
      ["parameters", `${(params / 1e6).toFixed(2)} M in ${tensors} tensors${tensors < x.weights.size ? ` (${x.weights.size} names)` : ""}`],
      ["trainer", typeof x.raw.trainer_name === "string" ? x.raw.trainer_name : undefined],
      ["pretraining input channels", ap.pretrain_num_input_channels],
      ...pretrainConfigs.map(([name, c]): [string, unknown] => [`pretraining spacing (${name})`, (c.spacing as unknown[]) ?? "—"]),
      ["pretraining patch size", ap.pretrain_patch_size ?? (pretrainConfigs[0]?.[1].patch_size as unknown[] | undefined)],
      ["recommended downstream patch size", ap.recommended_downstream_patchsize],
      ["encoder key", ap.key_to_encoder],
      ["stem key", ap.key_to_stem],
      ["input projection keys", (ap.keys_to_in_proj ?? []).join(", ")],
      ["positional embedding key", ap.key_to_lpe ?? "—"],
      ["citations", x.citations.length],
    ]),
  ];
  const feats = kw.features_per_stage as number[] | undefined;
  if (Array.isArray(feats)) {
    const strides = kw.strides as unknown[] | undefined,
      kernels = kw.kernel_sizes as unknown[] | undefined;
    const blocks = (kw.n_blocks_per_stage ?? kw.n_conv_per_stage) as unknown[] | undefined;
    bundles.push(
      tableBundle(
        feats.map((f, i) => ({
          stage: i,
          features: f,
          stride: Array.isArray(strides?.[i]) ? fmtList(strides![i] as unknown[]) : String(strides?.[i] ?? "—"),
          kernel: Array.isArray(kernels?.[i]) ? fmtList(kernels![i] as unknown[]) : String(kernels?.[i] ?? "—"),
          blocks: String(blocks?.[i] ?? "—"),
        })),
      ),
    );
  }
  return { kind: "checkpoint", bundles };
}

function showComparison(x: readonly AdaptationModeComparison[], o: ShowOptions): Shown {
  const rows = x.map((c) => ({
    mode: c.mode,
    target_spacing: c.spacing.every((s) => s === null) ? "each case's own" : fmtList(c.spacing),
    data_identifier: c.dataIdentifier,
    patch_size: fmtList(c.patchSize),
    median_shape: fmtList(c.medianShape),
    patch_coverage: `${(100 * c.patchCoverage).toFixed(1)} %`,
    size_on_disk: mb(c.sizeOnDisk),
  }));
  const bundles = [tableBundle(rows)];
  const src = o.spacings;
  const spacings = src ? ((Array.isArray(src) ? src : (src as { spacings: readonly (readonly number[])[] }).spacings) as readonly (readonly number[])[]) : null;
  if (spacings?.length) {
    const targets = Object.fromEntries(x.map((c) => [c.mode, c.spacing]));
    bundles.push(figureBundle(spacingHistogram(spacings, { targets, display: false })));
  }
  return { kind: "adaptation-modes", bundles };
}

function showEvaluation(x: EvaluationSummary): Shown {
  const keys = Object.keys(x.mean);
  const rows: Row[] = x.metric_per_case.map((c) => ({
    case: path.basename(c.reference_file).replace(/\.(nii\.gz|nii|nrrd|mha|png|tif)$/, ""),
    ...Object.fromEntries(keys.map((k) => [`Dice ${k}`, c.metrics[k]?.Dice])),
  }));
  rows.push({ case: "mean", ...Object.fromEntries(keys.map((k) => [`Dice ${k}`, x.mean[k]!.Dice])) });
  return {
    kind: "evaluation",
    bundles: [
      tableBundle(rows),
      summaryTable("Foreground mean", [
        ["Dice", x.foreground_mean.Dice],
        ["IoU", x.foreground_mean.IoU],
      ]),
    ],
  };
}

/** A pretrained-weight transfer report: summary and notes, then one row per tensor (source, shapes, adaptation). */
function showTransfer(x: WeightTransferReport, o: ShowOptions): Shown {
  const c = x.counts();
  return {
    kind: "transfer-report",
    bundles: [
      summaryTable(`Pretrained weights (${x.mode} transfer)`, [
        ["checkpoint", displayPath(x.checkpoint)],
        ["loaded", c.checkpoint],
        ["adapted", c.adapted],
        ["left at initialisation", c.init],
        ["checkpoint tensors skipped", c.skipped],
        ...x.notes.map((n, i): [string, unknown] => [i === 0 ? "notes" : "", n]),
      ]),
      tableBundle(x.toTable() as unknown as Row[], { limit: o.limit ?? 50 }),
    ],
  };
}

/** What `show` recognises, for its messages. */
const ACCEPTS =
  "a Dataset, Fingerprint, Plans, PreprocessedDataset, TrainingRun, Model, Checkpoint, compareAdaptationModes(...) result, " +
  "evaluation summary, arquero table, array of row objects or volume ({ data, shape })";

function showValue(x: unknown, o: ShowOptions): Shown {
  if (isArquero(x)) return { kind: "table", bundles: [tableBundle(x as Parameters<typeof tableBundle>[0], { limit: o.limit ?? 50 })] };
  if (Array.isArray(x) && x.length > 0 && x.every((r) => isObj(r) && !Array.isArray(r)))
    return { kind: "rows", bundles: [tableBundle(x as Row[], { limit: o.limit ?? 50 })] };
  if (isVolume(x)) {
    const label = has(x, "labels") ? (x as VolumeLike) : null; // a predicted label map is drawn as its own overlay
    return { kind: "volume", bundles: [viewVolume(x, { label, display: false }).bundle] };
  }
  if (x === null || typeof x !== "object") {
    const what = typeof x === "string" ? `the string ${JSON.stringify(x)}` : String(x);
    const hint = typeof x === "string" ? "; to look at a case use viewVolume(await readImages(ds.case(id).images))" : "";
    throw new InputError(`show: got ${what}; it draws ${ACCEPTS}${hint}`);
  }
  const note = `(show draws ${ACCEPTS}; this object is none of them, so here it is as text)`;
  return { kind: "value", bundles: [{ "text/plain": `${inspect(x, { depth: 3, colors: false })}\n${note}` }] };
}

/**
 * What `show(x)` displays, without displaying it: the kind of object and its MIME bundles (summary table first, then
 * the picture). Use it outside a notebook, e.g. to write the HTML into a report.
 */
export async function summarize(x: unknown, opts: Omit<ShowOptions, "display"> = {}): Promise<Shown> {
  let shown: Shown;
  if (isPreprocessed(x)) shown = await showPreprocessed(x, opts);
  else if (isFacadeDataset(x) || isRawDataset(x)) shown = await showDataset(x as Dataset, opts);
  else if (isRun(x)) shown = showRun(x);
  else if (isModel(x)) shown = showModel(x);
  else if (isCheckpoint(x)) shown = showCheckpoint(x);
  else if (isFingerprint(x)) shown = showFingerprint(x, opts);
  else if (isFacadePlans(x) || isPlansJson(x)) shown = showPlans(x as Plans, opts);
  else if (isComparison(x)) shown = showComparison(x, opts);
  else if (isEvaluation(x)) shown = showEvaluation(x);
  else if (isTransferReport(x)) shown = showTransfer(x, opts);
  else shown = showValue(x, opts);
  return withSummary(shown, `[${shown.kind}: ${shown.bundles.length} output${shown.bundles.length === 1 ? "" : "s"}]`);
}

/**
 * Shows any SDK object in the notebook as a summary table plus the picture that fits it (nothing is sent outside a
 * notebook; use `summarize` to get the outputs). Resolves to undefined, so a cell ending in `await show(x)` prints
 * nothing after the outputs.
 * - Dataset: cases table (+ spacing histogram once the fingerprint exists); Fingerprint: cases + spacing histogram;
 * - Plans: configurations; PreprocessedDataset: cases + a preprocessed slice with its labels;
 * - TrainingRun: summary + training curves; Model: configuration; Checkpoint: adaptation plan + encoder stages;
 * - `compareAdaptationModes(...)` result: modes table (+ spacing histogram with each mode's target, given `spacings`);
 * - evaluation summary (summary.json): per-case Dice; arquero tables and arrays of rows: tables; volumes: a slice.
 * @example await show(await Dataset.load("Dataset001_Example"))
 */
export async function show(x: unknown, opts: ShowOptions = {}): Promise<void> {
  const shown = await summarize(x, opts);
  if (opts.display === false) return;
  if (shown.bundles.some((b) => "application/vnd.plotly.v1+json" in b)) ensurePlotly();
  for (const b of shown.bundles) displayBundle(b);
}
