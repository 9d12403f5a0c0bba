// nnssl -> nnU-Net weight transfer: PretrainedTrainer.load_pretrained_weights (the nnssl fork's and nnU-Net master's
// nnunetv2/training/nnUNetTrainer/pretraining/pretrainedTrainer.py; see ARCHITECTURE.md). Only the encoder and the
// stem are transferred (strictly); the decoder keeps its random initialisation. One deliberate difference: nnssl's
// EvaMAE pretrained Primus with tokens flattened "(h w d)" while our Primus uses "(w h d)" (dynamic_network_architectures
// >= 0.4.3), so the positional embedding of such checkpoints is permuted into our order (upstream forgets this and
// scrambles it).

import { CheckpointError } from "../errors.js";
import type { Network } from "./network.js";
import type { Param } from "./module.js";
import { loadIntoModule, type TensorLike } from "./state-dict.js";

/** The parts of an nnssl checkpoint the transfer reads (sdk/checkpoint's Checkpoint has them). */
export interface PretrainedCheckpoint {
  path?: string;
  adaptationPlan: {
    architecture_plans?: { arch_class_name?: string } | null;
    pretrain_plan?: { configurations?: Record<string, { patch_size?: number[] | null }> } | null;
    pretrain_num_input_channels: number;
    key_to_encoder: string;
    key_to_stem: string;
    keys_to_in_proj: string[];
    key_to_lpe?: string | null;
    pretrain_patch_size?: number[] | null;
  };
  weights: Map<string, TensorLike>;
}

export interface TransferOptions {
  /** Input channels of the downstream network (nnU-Net's num_input_channels). */
  numInputChannels: number;
  /** Downstream patch size (the plans' patch_size). */
  patchSize: number[];
  /**
   * Reorder the checkpoint's positional embedding from "(h w d)" to our "(w h d)" token order. Default: true when the
   * checkpoint's architecture is an nnssl Primus preset or PrimusX (PrimusS/B/M/L/X, all pretrained by EvaMAE), else false.
   */
  permuteTokens?: boolean;
}

export interface TransferReport {
  /** Loaded into the network's encoder submodule: keys relative to `prefix`. */
  encoder: { prefix: string; keys: string[] };
  stem: { prefix: string; keys: string[] };
  /** pt_weight_in_ch_mismatch: the input projection was repeated over the downstream channels and divided by them. */
  ptWeightInChMismatch: boolean;
  inProjKeys: string[];
  /** Positional-embedding handling (Primus): trilinear resize between token grids and/or token-order permutation. */
  posEmbed: { key: string; resizedFrom: number[] | null; resizedTo: number[] | null; permuted: boolean } | null;
  /** Network state-dict keys (aliases included) that now hold pretrained values. */
  loaded: string[];
  /** Network state-dict keys left at their initialisation (the decoder). */
  random: string[];
}

/** A tensor built during the transfer (repeat / resize). */
class Values implements TensorLike {
  constructor(
    readonly shape: number[],
    private readonly data: Float32Array,
  ) {}
  toFloat32(): Float32Array {
    return this.data;
  }
}

/**
 * Loads an nnssl checkpoint's encoder and stem into `net` as upstream does: prefix stripping (str.replace), 1 -> C
 * input-channel repeat divided by C on every in-projection alias, positional-embedding resize (trilinear,
 * align_corners=False) when the patch size differs, strict loading that lists every missing, unexpected and
 * mis-shaped key.
 * @example const report = loadPretrainedWeights(net, await Checkpoint.load(url), { numInputChannels: 2, patchSize: [160, 160, 160] });
 */
export function loadPretrainedWeights(
  net: Network,
  checkpoint: PretrainedCheckpoint,
  { numInputChannels, patchSize, permuteTokens }: TransferOptions,
): TransferReport {
  const plan = checkpoint.adaptationPlan;
  const source = checkpoint.path ?? "checkpoint";
  const sd = checkpoint.weights;
  const ptKeyToEncoder = plan.key_to_encoder;
  const ptKeyToStem = plan.key_to_stem;
  const keysToInProj = plan.keys_to_in_proj;
  const ptKeyToLpe = plan.key_to_lpe ?? null;
  const ptChannels = plan.pretrain_num_input_channels;
  const ptPatch = plan.pretrain_patch_size ?? firstConfigPatch(plan);
  const archName = plan.architecture_plans?.arch_class_name ?? "";
  // PrimusX checkpoints (nnssl BaseEvaMAETrainerPrimusX) come from the same EvaMAE, so they share its token order.
  const permute = permuteTokens ?? /^Primus([SBML]|X)$/.test(archName);

  const enc = new Map<string, TensorLike>();
  const stem = new Map<string, TensorLike>();
  for (const [k, v] of sd) {
    if (k.startsWith(ptKeyToEncoder)) enc.set(k, v);
    if (k.startsWith(ptKeyToStem)) stem.set(k, v);
  }

  // Only more downstream channels are handled; upstream repeats by C, which assumes a 1-channel pretraining.
  let mismatch = false;
  if (numInputChannels > ptChannels) {
    const key = `${keysToInProj[0]}.weight`;
    const w = stem.get(key);
    if (!w) throw new CheckpointError(`the input projection ${key} is not in the checkpoint's stem (${ptKeyToStem})`, { file: source });
    const repeated = repeatChannels(w, numInputChannels);
    for (const k of keysToInProj) stem.set(`${k}.weight`, repeated);
    mismatch = true;
  }

  const newEnc = stripPrefix(enc, ptKeyToEncoder);
  const newStem = stripPrefix(stem, ptKeyToStem);
  for (const k of [...newEnc.keys()]) if (k.includes("cls_token")) newEnc.delete(k);

  const keys = net.transferKeys;
  let posEmbed: TransferReport["posEmbed"] = null;
  if (keys.keyToLpe !== null) {
    const inEncoder = keys.keyToLpe.startsWith(keys.keyToEncoder);
    const target = inEncoder ? newEnc : newStem;
    const lpeKey = stripKey(keys.keyToLpe, inEncoder ? keys.keyToEncoder : keys.keyToStem);
    const pe = target.get(lpeKey);
    if (!pe) throw new CheckpointError(`the positional embedding ${keys.keyToLpe} is not in the checkpoint`, { file: source });
    const patchEmbed = inProjKernel(newStem, keysToInProj, ptKeyToStem);
    if (!ptPatch) throw new CheckpointError("the checkpoint's adaptation plan has no pretraining patch size", { file: source });
    const gridIn = ptPatch.map((p, i) => Math.trunc(p / patchEmbed[i]!));
    const gridOut = patchSize.map((p, i) => Math.trunc(p / patchEmbed[i]!));
    const needResize = !sameList(ptPatch, patchSize);
    let value: TensorLike = pe;
    if (permute) value = permuteHwdToWhd(value, gridIn);
    if (needResize) value = resizePosEmbed(value, gridIn, gridOut);
    target.set(lpeKey, value);
    posEmbed = { key: keys.keyToLpe, resizedFrom: needResize ? gridIn : null, resizedTo: needResize ? gridOut : null, permuted: permute };
    if (!needResize && ptKeyToLpe !== null) {
      // Upstream then assigns the one checkpoint tensor under key_to_lpe again (identical to what the encoder load sets).
      const matches = [...sd.keys()].filter((k) => k.startsWith(ptKeyToLpe));
      if (matches.length !== 1)
        throw new CheckpointError(`expected exactly one checkpoint key starting with ${ptKeyToLpe}, found ${matches.length}`, { file: source });
    }
  }

  const encKeys = loadIntoModule(net, newEnc, { prefix: keys.keyToEncoder, source });
  const stemKeys = loadIntoModule(net, newStem, { prefix: keys.keyToStem, source });

  const loadedParams = new Set<Param>();
  const all = [...net.stateEntries()];
  const byName = new Map(all);
  for (const k of encKeys) loadedParams.add(byName.get(`${keys.keyToEncoder}.${k}`)!);
  for (const k of stemKeys) loadedParams.add(byName.get(`${keys.keyToStem}.${k}`)!);
  return {
    encoder: { prefix: keys.keyToEncoder, keys: encKeys },
    stem: { prefix: keys.keyToStem, keys: stemKeys },
    ptWeightInChMismatch: mismatch,
    inProjKeys: mismatch ? keysToInProj.map((k) => `${k}.weight`) : [],
    posEmbed,
    loaded: all.filter(([, p]) => loadedParams.has(p)).map(([n]) => n),
    random: all.filter(([, p]) => !loadedParams.has(p)).map(([n]) => n),
  };
}

function firstConfigPatch(plan: PretrainedCheckpoint["adaptationPlan"]): number[] | null {
  const configs = plan.pretrain_plan?.configurations;
  const first = configs ? Object.values(configs)[0] : undefined;
  return first?.patch_size ?? null;
}

/** `k.replace(prefix, "")` (every occurrence, as Python's str.replace), then one leading "." removed. */
function stripKey(k: string, prefix: string): string {
  const r = k.split(prefix).join("");
  return r.startsWith(".") ? r.slice(1) : r;
}

function stripPrefix(m: Map<string, TensorLike>, prefix: string): Map<string, TensorLike> {
  const out = new Map<string, TensorLike>();
  for (const [k, v] of m) out.set(stripKey(k, prefix), v);
  return out;
}

function sameList(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** `w.repeat(1, c, 1, 1, 1) / c`. */
export function repeatChannels(w: TensorLike, c: number): TensorLike {
  const [o, i, ...k] = w.shape as number[];
  const src = w.toFloat32();
  const inner = k.reduce((a, b) => a * b, 1);
  const out = new Float32Array(o! * i! * c * inner);
  for (let oo = 0; oo < o!; oo++) {
    for (let r = 0; r < c; r++) {
      for (let ii = 0; ii < i!; ii++) {
        const from = (oo * i! + ii) * inner;
        const to = (oo * i! * c + r * i! + ii) * inner;
        for (let j = 0; j < inner; j++) out[to + j] = Math.fround(src[from + j]! / c);
      }
    }
  }
  return new Values([o!, i! * c, ...k], out);
}

/** The patch-embedding kernel (proj.weight.shape[2:]) from the stem's in-projection. */
function inProjKernel(stem: Map<string, TensorLike>, keysToInProj: string[], ptKeyToStem: string): number[] {
  const w = stem.get(stripKey(`${keysToInProj[0]}.weight`, ptKeyToStem));
  if (!w) throw new CheckpointError(`the input projection ${keysToInProj[0]}.weight is not in the checkpoint`);
  return (w.shape as number[]).slice(2);
}

/** (1, N, E) positional embedding with tokens in "(h w d)" order -> "(w h d)" order; `grid` is [w, h, d]. */
export function permuteHwdToWhd(pe: TensorLike, grid: number[]): TensorLike {
  const [w, h, d] = grid as [number, number, number];
  const e = pe.shape[2]!;
  if (pe.shape[1] !== w * h * d) throw new CheckpointError(`positional embedding with ${pe.shape[1]} tokens does not fit the grid [${grid.join(", ")}]`);
  const src = pe.toFloat32();
  const out = new Float32Array(src.length);
  for (let x = 0; x < w; x++)
    for (let y = 0; y < h; y++)
      for (let z = 0; z < d; z++) {
        const from = ((y * w + x) * d + z) * e;
        const to = ((x * h + y) * d + z) * e;
        out.set(src.subarray(from, from + e), to);
      }
  return new Values([...pe.shape], out);
}

/**
 * handle_pos_embed_resize "interpolate_trilinear": (1, N, E) -> (1, E, x, y, z) -> F.interpolate(size=out,
 * mode="trilinear", align_corners=False) -> (1, N', E).
 */
export function resizePosEmbed(pe: TensorLike, gridIn: number[], gridOut: number[]): TensorLike {
  const e = pe.shape[2]!;
  const nIn = gridIn.reduce((a, b) => a * b, 1);
  if (pe.shape[0] !== 1 || pe.shape[1] !== nIn)
    throw new CheckpointError(`positional embedding of shape [${pe.shape.join(", ")}] does not fit the token grid [${gridIn.join(", ")}]`);
  const src = pe.toFloat32();
  const taps = gridIn.map((n, a) => linearTaps(n, gridOut[a]!));
  const [ox, oy, oz] = gridOut as [number, number, number];
  const [, iy, iz] = gridIn as [number, number, number];
  const out = new Float32Array(ox * oy * oz * e);
  const acc = new Float64Array(e);
  for (let x = 0; x < ox; x++)
    for (let y = 0; y < oy; y++)
      for (let z = 0; z < oz; z++) {
        acc.fill(0);
        for (const [xi, xw] of taps[0]![x]!)
          for (const [yi, yw] of taps[1]![y]!)
            for (const [zi, zw] of taps[2]![z]!) {
              const wgt = xw * yw * zw;
              const base = ((xi * iy + yi) * iz + zi) * e;
              for (let c = 0; c < e; c++) acc[c]! += wgt * src[base + c]!;
            }
        out.set(acc, ((x * oy + y) * oz + z) * e);
      }
  return new Values([1, ox * oy * oz, e], out);
}

/** PyTorch's align_corners=False source index: src = (dst + 0.5) * in / out - 0.5, clamped at 0; two taps. */
function linearTaps(nIn: number, nOut: number): [number, number][][] {
  const scale = nIn / nOut;
  return Array.from({ length: nOut }, (_, o) => {
    const src = Math.max((o + 0.5) * scale - 0.5, 0);
    const i0 = Math.floor(src);
    const i1 = i0 < nIn - 1 ? i0 + 1 : i0;
    const l1 = src - i0;
    return [
      [i0, 1 - l1],
      [i1, l1],
    ];
  });
}
