// The dynamic weight transfer of nnU-Net master's DynamicPretrainedTrainer (pretraining/dynamicPretrainedTrainer.py,
// nnunetv2/utilities/load_weights_utils.py): an nnssl encoder and stem loaded into the network of the dataset's own
// plans. A conv kernel is averaged down to size 1 along the axes where the target kernel is 1 (3x3x3 -> 1x3x3); a
// checkpoint deeper than the target drops its extra stages; a shallower one leaves the target's extra stages at their
// initialisation; anything whose shape still differs is skipped. Where master guesses or raises we do better:
// - the pretraining stage count and kernel sizes come from the checkpoint's architecture_plans.arch_kwargs when it has
//   them (master only reads an `architecture_kwargs` key nnssl never writes, then assumes 3x3x3 kernels);
// - a stem or stage whose width differs is skipped and reported instead of failing in load_state_dict;
// - a kernel change other than "to size 1" is skipped and reported instead of raising NotImplementedError.
// Every decision lands in a WeightTransferReport (one row per target state-dict entry plus the skipped tensors).

import { CheckpointError } from "../errors.js";
import type { Network } from "./network.js";
import type { Param } from "./module.js";
import { permuteHwdToWhd, repeatChannels, resizePosEmbed, type PretrainedCheckpoint, type TransferReport } from "./pretrained.js";
import type { TensorLike } from "./state-dict.js";

/** Where a target state-dict entry's values came from. */
export type TransferSource = "checkpoint" | "adapted" | "init";

export interface TransferredTensor {
  /** PyTorch state-dict name in the target network (aliases are listed under each of their names). */
  name: string;
  /** PyTorch shape in the target network. */
  shape: number[];
  source: TransferSource;
  /** The checkpoint key the values came from (null for init). */
  from: string | null;
  /** The checkpoint tensor's shape when it differs from `shape` (adapted), else null. */
  fromShape: number[] | null;
  /** How it was adapted ("kernel [3, 3, 3] -> [1, 3, 3] (mean)", "input channels 1 -> 2 (repeat / 2)", ...). */
  note: string | null;
}

export interface SkippedTensor {
  /** Checkpoint key. */
  name: string;
  shape: number[];
  reason: string;
}

/** One printable row of the report (`toTable()`). */
export interface TransferTableRow {
  name: string;
  shape: string;
  source: TransferSource | "skipped";
  from: string;
  note: string;
}

/**
 * What a pretrained-weight transfer did, tensor by tensor: `tensors` covers every state-dict entry of the target
 * network (source checkpoint / adapted / init), `skipped` every checkpoint tensor of the encoder and stem that was not
 * used, and `notes` the stage-level decisions. `toTable()` / `toString()` are the plain forms the CLI prints and a
 * notebook `show()` renders.
 */
export class WeightTransferReport {
  constructor(
    /** "strict" (PretrainedTrainer.load_pretrained_weights) or "dynamic" (DynamicPretrainedTrainer). */
    readonly mode: "strict" | "dynamic",
    readonly checkpoint: string,
    readonly tensors: TransferredTensor[],
    readonly skipped: SkippedTensor[],
    readonly notes: string[],
    /** pt_weight_in_ch_mismatch: the input projection was repeated over more input channels. */
    readonly ptWeightInChMismatch: boolean,
    /** The strict loader's own report (prefixes, positional embedding), when mode is "strict". */
    readonly strict: TransferReport | null = null,
  ) {}

  get loaded(): TransferredTensor[] {
    return this.tensors.filter((t) => t.source === "checkpoint");
  }
  get adapted(): TransferredTensor[] {
    return this.tensors.filter((t) => t.source === "adapted");
  }
  get initialised(): TransferredTensor[] {
    return this.tensors.filter((t) => t.source === "init");
  }

  /** Counts per source, plus skipped checkpoint tensors. */
  counts(): { checkpoint: number; adapted: number; init: number; skipped: number } {
    return { checkpoint: this.loaded.length, adapted: this.adapted.length, init: this.initialised.length, skipped: this.skipped.length };
  }

  /** One row per target entry, then one per skipped checkpoint tensor. */
  toTable(): TransferTableRow[] {
    const fmt = (s: number[]) => `[${s.join(", ")}]`;
    return [
      ...this.tensors.map((t) => ({ name: t.name, shape: fmt(t.shape), source: t.source, from: t.from ?? "", note: t.note ?? "" })),
      ...this.skipped.map((s) => ({ name: s.name, shape: fmt(s.shape), source: "skipped" as const, from: s.name, note: s.reason })),
    ];
  }

  /** The one-line summary the trainer logs. */
  summary(): string {
    const c = this.counts();
    return `${c.checkpoint} state-dict entries loaded, ${c.adapted} adapted, ${c.init} left at their initialisation, ${c.skipped} checkpoint tensors skipped`;
  }

  /** Summary, notes and an aligned text table (what `nnssl-adapt checkpoint transfer` prints). */
  toString(): string {
    const rows = this.toTable();
    const head: (keyof TransferTableRow)[] = ["name", "shape", "source", "note"];
    const w = head.map((h) => Math.max(h.length, ...rows.map((r) => String(r[h]).length)));
    const line = (cells: string[]) =>
      cells
        .map((c, i) => c.padEnd(w[i]!))
        .join("  ")
        .trimEnd();
    return [
      `${this.mode} transfer from ${this.checkpoint}: ${this.summary()}`,
      ...this.notes.map((n) => `  ${n}`),
      line(head),
      line(w.map((n) => "-".repeat(n))),
      ...rows.map((r) => line(head.map((h) => String(r[h])))),
    ].join("\n");
  }

  toJSON(): unknown {
    return { mode: this.mode, checkpoint: this.checkpoint, counts: this.counts(), notes: this.notes, tensors: this.tensors, skipped: this.skipped };
  }
}

/** The report of the strict loader (loadPretrainedWeights) in the same form. */
export function reportFromStrict(
  net: Network,
  r: TransferReport,
  checkpoint: string,
  sd: Map<string, TensorLike>,
  ptKeys: { encoder: string; stem: string },
): WeightTransferReport {
  const loaded = new Set(r.loaded);
  const adaptedNote = new Map<string, string>();
  if (r.ptWeightInChMismatch) for (const k of r.inProjKeys) adaptedNote.set(k, `input channels repeated over ${net.inputChannels} and divided by them`);
  if (r.posEmbed && (r.posEmbed.resizedTo || r.posEmbed.permuted)) {
    const parts = [
      r.posEmbed.permuted ? "token order (h w d) -> (w h d)" : "",
      r.posEmbed.resizedTo ? `resized ${r.posEmbed.resizedFrom!.join("x")} -> ${r.posEmbed.resizedTo.join("x")} tokens (trilinear)` : "",
    ];
    adaptedNote.set(r.posEmbed.key, parts.filter(Boolean).join(", "));
  }
  const byParam = new Map<Param, string>();
  for (const [name, p] of net.stateEntries()) if (adaptedNote.has(name)) byParam.set(p, adaptedNote.get(name)!);
  const tensors: TransferredTensor[] = [];
  for (const [name, p] of net.stateEntries()) {
    if (!loaded.has(name)) {
      tensors.push({ name, shape: [...p.torchShape], source: "init", from: null, fromShape: null, note: null });
      continue;
    }
    const from = checkpointKeyFor(name, r, ptKeys);
    const note = byParam.get(p) ?? null;
    const fromShape = sd.get(from)?.shape;
    tensors.push({
      name,
      shape: [...p.torchShape],
      source: note ? "adapted" : "checkpoint",
      from,
      fromShape: fromShape && !same(fromShape, p.torchShape) ? [...fromShape] : null,
      note,
    });
  }
  const used = new Set(tensors.map((t) => t.from));
  const skipped = [...sd].filter(([k]) => !used.has(k)).map(([k, v]) => ({ name: k, shape: [...v.shape], reason: reasonOutside(k, ptKeys) }));
  return new WeightTransferReport("strict", checkpoint, tensors, skipped, [], r.ptWeightInChMismatch, r);
}

function checkpointKeyFor(name: string, r: TransferReport, ptKeys: { encoder: string; stem: string }): string {
  if (name.startsWith(r.encoder.prefix + ".")) return `${ptKeys.encoder}.${name.slice(r.encoder.prefix.length + 1)}`;
  if (name.startsWith(r.stem.prefix + ".")) return `${ptKeys.stem}.${name.slice(r.stem.prefix.length + 1)}`;
  return name;
}

const reasonOutside = (k: string, ptKeys: { encoder: string; stem: string }) =>
  k.startsWith(ptKeys.encoder) || k.startsWith(ptKeys.stem)
    ? "not loaded (alias or filtered)"
    : "not part of the pretrained encoder or stem (never transferred)";

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const fmt = (s: readonly number[]) => `[${s.join(", ")}]`;

/** Values computed during the transfer. */
class Values implements TensorLike {
  constructor(
    readonly shape: number[],
    private readonly data: Float32Array,
  ) {}
  toFloat32(): Float32Array {
    return this.data;
  }
}

/** `w.mean(dim=axis, keepdim=True)` on a C-ordered tensor (accumulated in float64). */
export function meanOverAxis(w: TensorLike, axis: number): TensorLike {
  const shape = [...w.shape];
  const n = shape[axis]!;
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const src = w.toFloat32();
  const out = new Float32Array(outer * inner);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += src[(o * n + k) * inner + i]!;
      out[o * inner + i] = s / n;
    }
  shape[axis] = 1;
  return new Values(shape, out);
}

/**
 * adapt_conv_kernel_size: each spatial axis either matches or is averaged down to 1. Returns null (with the reason)
 * for any other change, where master raises NotImplementedError, or when the channel dimensions differ.
 */
export function adaptConvKernel(w: TensorLike, target: readonly number[]): { value: TensorLike | null; reason: string } {
  const src = w.shape;
  if (src.length !== target.length) return { value: null, reason: `rank ${src.length} vs ${target.length}` };
  if (src[0] !== target[0] || src[1] !== target[1]) return { value: null, reason: `shape mismatch: ${fmt(src)} vs ${fmt(target)} (channels differ)` };
  let v: TensorLike = w;
  for (let a = 2; a < src.length; a++) {
    if (src[a] === target[a]) continue;
    if (target[a] !== 1) return { value: null, reason: `kernel ${fmt(src.slice(2))} -> ${fmt(target.slice(2))}: only a reduction to size 1 can be adapted` };
    v = meanOverAxis(v, a);
  }
  return { value: v, reason: `kernel ${fmt(src.slice(2))} -> ${fmt(target.slice(2))} (mean)` };
}

export interface DynamicTransferOptions {
  /** Input channels of the downstream network. */
  numInputChannels: number;
  /** Downstream patch size (Primus targets: positional-embedding resize). */
  patchSize: number[];
  /** The target's stage count and kernel sizes (plans arch_kwargs); default: counted from the network / its weights. */
  targetNStages?: number | null;
  targetKernelSizes?: number[][] | null;
}

const STAGE_KEY = /^(\d+)\.blocks\.(\d+)\.(.+)$/;

interface ArchInfo {
  nStages: number;
  kernelSizes: number[][] | null;
  source: string;
}

/** The checkpoint's encoder depth and kernels: its arch_kwargs when present (master's guess otherwise, from key names). */
function pretrainedArchitecture(ckpt: PretrainedCheckpoint, encKeys: string[], ptKeyToEncoder: string): ArchInfo {
  const plan = ckpt.adaptationPlan as PretrainedCheckpoint["adaptationPlan"] & {
    architecture_kwargs?: Record<string, unknown> | null;
    architecture_plans?: { arch_kwargs?: Record<string, unknown> | null } | null;
  };
  for (const [kw, where] of [
    [plan.architecture_kwargs, "nnssl_adaptation_plan.architecture_kwargs"],
    [plan.architecture_plans?.arch_kwargs, "architecture_plans.arch_kwargs"],
  ] as const) {
    if (kw && typeof kw.n_stages === "number") {
      const ks = Array.isArray(kw.kernel_sizes)
        ? (kw.kernel_sizes as unknown[]).map((k) => (Array.isArray(k) ? (k as number[]) : [k as number, k as number, k as number]))
        : null;
      return { nStages: kw.n_stages, kernelSizes: ks, source: where };
    }
  }
  const stages = new Set<number>();
  for (const k of encKeys) {
    const rest = k.split(`${ptKeyToEncoder}.`).join("");
    if (/^\d/.test(rest)) stages.add(parseInt(rest, 10));
  }
  return { nStages: stages.size ? Math.max(...stages) + 1 : 6, kernelSizes: null, source: "counted from the checkpoint's encoder keys" };
}

/**
 * DynamicPretrainedTrainer.load_pretrained_weights_dynamic into `net`, never throwing on a shape mismatch.
 * @example const report = loadPretrainedWeightsDynamic(net, ckpt, { numInputChannels: 1, patchSize: [20, 48, 48], targetNStages: 4 });
 */
export function loadPretrainedWeightsDynamic(net: Network, ckpt: PretrainedCheckpoint, opts: DynamicTransferOptions): WeightTransferReport {
  const plan = ckpt.adaptationPlan;
  const file = ckpt.path ?? "checkpoint";
  const sd = ckpt.weights;
  const ptEnc = plan.key_to_encoder;
  const ptStem = plan.key_to_stem;
  const keys = net.transferKeys;
  const notes: string[] = [];
  const skipped: SkippedTensor[] = [];
  const skip = (name: string, t: TensorLike, reason: string) => skipped.push({ name, shape: [...t.shape], reason });

  const encIn: [string, TensorLike][] = [];
  const stemIn: [string, TensorLike][] = [];
  for (const [k, v] of sd) {
    const inEnc = k.startsWith(ptEnc);
    const inStem = k.startsWith(ptStem);
    if (inEnc) encIn.push([k, v]);
    if (inStem) stemIn.push([k, v]);
    if (!inEnc && !inStem) skip(k, v, "not part of the pretrained encoder or stem (never transferred)");
  }

  // 1 -> C input channels: repeat the in-projection over the channels, divided by C (every alias).
  let mismatch = false;
  const inProjOriginal = new Map<string, string>();
  if (opts.numInputChannels > plan.pretrain_num_input_channels) {
    const key = `${plan.keys_to_in_proj[0]}.weight`;
    const w = stemIn.find(([k]) => k === key)?.[1];
    if (!w) throw new CheckpointError(`the input projection ${key} is not in the checkpoint's stem (${ptStem})`, { file });
    const rep = repeatChannels(w, opts.numInputChannels);
    for (const k of plan.keys_to_in_proj) {
      const full = `${k}.weight`;
      const i = stemIn.findIndex(([n]) => n === full);
      if (i >= 0) stemIn[i] = [full, rep];
      else stemIn.push([full, rep]);
      inProjOriginal.set(full, `input channels ${plan.pretrain_num_input_channels} -> ${opts.numInputChannels} (repeat, / ${opts.numInputChannels})`);
    }
    mismatch = true;
  }

  // Target entries of the encoder and stem submodules, relative names -> Param.
  const targetOf = (prefix: string) => {
    const m = new Map<string, Param>();
    for (const [n, p] of net.stateEntries()) if (n.startsWith(prefix + ".")) m.set(n.slice(prefix.length + 1), p);
    return m;
  };
  const tEnc = targetOf(keys.keyToEncoder);
  const tStem = targetOf(keys.keyToStem);
  const strip = (k: string, prefix: string) => {
    const r = k.split(prefix).join("");
    return r.startsWith(".") ? r.slice(1) : r;
  };

  const pt = pretrainedArchitecture(
    ckpt,
    encIn.map(([k]) => k),
    ptEnc,
  );
  const targetStages = new Set<number>();
  for (const k of tEnc.keys()) {
    const m = /^(\d+)\./.exec(k);
    if (m) targetStages.add(Number(m[1]));
  }
  const tN = opts.targetNStages ?? (targetStages.size ? Math.max(...targetStages) + 1 : 6);
  const nTransfer = Math.min(pt.nStages, tN);
  notes.push(`pretrained encoder: ${pt.nStages} stages (${pt.source})${pt.kernelSizes ? `, kernels ${pt.kernelSizes.map((k) => k.join("x")).join(" ")}` : ""}`);
  notes.push(`target encoder: ${tN} stages${opts.targetKernelSizes ? `, kernels ${opts.targetKernelSizes.map((k) => k.join("x")).join(" ")}` : ""}`);
  if (pt.nStages > tN) notes.push(`checkpoint deeper than the target: its stages ${tN}-${pt.nStages - 1} are dropped`);
  else if (pt.nStages < tN) notes.push(`checkpoint shallower than the target: target stages ${pt.nStages}-${tN - 1} keep their initialisation`);

  // chosen: Param -> [checkpoint key, values, note]
  const chosen = new Map<Param, { from: string; value: TensorLike; note: string | null; ptShape: number[] }>();
  const take = (p: Param, from: string, value: TensorLike, note: string | null, ptShape: readonly number[]) => {
    if (!chosen.has(p)) chosen.set(p, { from, value, note, ptShape: [...ptShape] });
  };
  const pending: [string, TensorLike, string][] = [];

  // Primus targets, before the encoder copy: the positional embedding is resized to the downstream token grid
  // (trilinear, as upstream) and put in our token order.
  let lpeNote: string | null;
  if (keys.keyToLpe !== null) {
    const lpeRel = strip(keys.keyToLpe, keys.keyToEncoder);
    const full = `${ptEnc}.${lpeRel}`;
    const pe = sd.get(full);
    const p = tEnc.get(lpeRel);
    const proj = sd.get(`${plan.keys_to_in_proj[0]}.weight`);
    const ptPatch = plan.pretrain_patch_size ?? Object.values(plan.pretrain_plan?.configurations ?? {})[0]?.patch_size ?? null;
    const permute = /^Primus([SBML]|X)$/.test(plan.architecture_plans?.arch_class_name ?? "");
    if (pe && p && proj && ptPatch && (permute || !same(pe.shape, p.torchShape))) {
      const k = proj.shape.slice(2);
      const gridIn = ptPatch.map((x, i) => Math.trunc(x / k[i]!));
      const gridOut = opts.patchSize.map((x, i) => Math.trunc(x / k[i]!));
      const resize = !same(gridIn, gridOut);
      if (pe.shape[1] === gridIn.reduce((a, b) => a * b, 1) && same([1, gridOut.reduce((a, b) => a * b, 1), pe.shape[2]!], p.torchShape)) {
        let v: TensorLike = permute ? permuteHwdToWhd(pe, gridIn) : pe;
        if (resize) v = resizePosEmbed(v, gridIn, gridOut);
        lpeNote = [permute ? "token order (h w d) -> (w h d)" : "", resize ? `resized ${gridIn.join("x")} -> ${gridOut.join("x")} tokens (trilinear)` : ""]
          .filter(Boolean)
          .join(", ");
        take(p, full, v, lpeNote, pe.shape);
      }
    }
  }

  for (const [full, w] of encIn) {
    const key = strip(full, ptEnc);
    if (key.includes("cls_token")) {
      pending.push([full, w, "cls_token (filtered, as upstream)"]);
      continue;
    }
    const p = tEnc.get(key);
    const parsed = STAGE_KEY.exec(key);
    if (parsed && Number(parsed[1]) >= nTransfer) {
      pending.push([full, w, `stage ${parsed[1]} dropped (checkpoint deeper than the target)`]);
      continue;
    }
    if (!p) {
      pending.push([full, w, "not in the target architecture"]);
      continue;
    }
    if (same(w.shape, p.torchShape)) {
      take(p, full, w, null, w.shape);
      continue;
    }
    if (parsed && parsed[3]!.includes("conv.weight") && w.shape.length >= 4) {
      const a = adaptConvKernel(w, p.torchShape);
      if (a.value) {
        take(p, full, a.value, a.reason, w.shape);
        continue;
      }
      pending.push([full, w, a.reason]);
      continue;
    }
    pending.push([full, w, `shape mismatch: ${fmt(w.shape)} vs ${fmt(p.torchShape)}`]);
  }

  for (const [full, w0] of stemIn) {
    const key = strip(full, ptStem);
    const p = tStem.get(key);
    if (!p) {
      pending.push([full, w0, "not in the target stem"]);
      continue;
    }
    const note0 = inProjOriginal.get(full) ?? null;
    const w = w0;
    if (same(w.shape, p.torchShape)) {
      take(p, full, w, note0, sd.get(full)?.shape ?? w.shape);
      continue;
    }
    const convLike = key.includes("conv.weight") || (key.endsWith(".weight") && key.includes("conv"));
    if (convLike && w.shape.length >= 4) {
      const a = adaptConvKernel(w, p.torchShape);
      if (a.value) {
        take(p, full, a.value, [note0, a.reason].filter(Boolean).join(", "), sd.get(full)?.shape ?? w.shape);
        continue;
      }
      pending.push([full, w, a.reason]);
      continue;
    }
    pending.push([full, w, `shape mismatch: ${fmt(w.shape)} vs ${fmt(p.torchShape)}`]);
  }

  // An alias (all_modules.0.weight next to conv.weight) whose parameter was filled through its other name is not a skip.
  const filledFrom = new Set<string>();
  for (const c of chosen.values()) filledFrom.add(c.from);
  const aliasTarget = (full: string): Param | undefined =>
    full.startsWith(ptEnc) ? tEnc.get(strip(full, ptEnc)) : full.startsWith(ptStem) ? tStem.get(strip(full, ptStem)) : undefined;
  let namedButReshaped = 0; // skipped tensors whose name the target has (widths or kernels differ)
  for (const [full, w, reason] of pending) {
    const p = aliasTarget(full);
    if (p && chosen.has(p)) continue;
    if (p) namedButReshaped++;
    skip(full, sd.get(full) ?? w, reason);
  }

  for (const [p, c] of chosen) p.assignTorch(c.value.toFloat32());
  const tensors: TransferredTensor[] = [];
  for (const [name, p] of net.stateEntries()) {
    const c = chosen.get(p);
    if (!c) {
      tensors.push({ name, shape: [...p.torchShape], source: "init", from: null, fromShape: null, note: null });
      continue;
    }
    const adapted = c.note !== null;
    tensors.push({
      name,
      shape: [...p.torchShape],
      source: adapted ? "adapted" : "checkpoint",
      from: c.from,
      fromShape: same(c.ptShape, p.torchShape) ? null : c.ptShape,
      note: c.note,
    });
  }
  const loadedAny = tensors.some((t) => t.source !== "init");
  if (!loadedAny) {
    notes.push(
      namedButReshaped > 0
        ? `nothing was transferred: ${namedButReshaped} checkpoint tensors have their names in this network but other shapes (widths differ, e.g. other features_per_stage)`
        : "nothing was transferred: the checkpoint's encoder keys match nothing in this network (e.g. a Primus checkpoint into a U-Net)",
    );
  }
  return new WeightTransferReport("dynamic", file, tensors, skipped, notes, mismatch);
}
