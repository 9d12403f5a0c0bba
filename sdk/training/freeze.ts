// Partial fine-tuning, which no upstream trainer offers (nnU-Net issue 2714, TaWald/nnUNet PR 5): freezing the stem,
// some encoder stages or the whole encoder, unfreezing at a given epoch, and layer-wise learning-rate decay.
//
// Frozen parameters get no gradient (tf.variableGrads is asked only for the others), so, as with requires_grad=False
// in torch, the optimizer skips them and keeps no state for them; optimizer_state keeps PyTorch's indices over all
// parameters and one param group, so Python nnU-Net can load and continue our checkpoints. The frozen part that comes
// first in the forward pass (the stem, then stages 0, 1, ... as long as all of them are frozen) runs without the
// gradient tape: nothing below it needs a gradient, so no activations are kept for the backward pass and the backward
// pass ends there.

import { tf } from "../backend/index.js";
import { ConfigError } from "../errors.js";
import type { Network } from "../networks/network.js";
import type { Module } from "../networks/module.js";

/** --freeze: "encoder", "stem" or "stages:A-B" / "stages:A" (encoder stages, 0-based, inclusive). */
export type FreezeTarget = { kind: "encoder" } | { kind: "stem" } | { kind: "stages"; from: number; to: number };

/** Parses a --freeze value; errors name the flag. */
export function parseFreeze(value: string, flag = "--freeze"): FreezeTarget {
  if (value === "encoder" || value === "stem") return { kind: value };
  const m = /^stages:(\d+)(?:-(\d+))?$/.exec(value);
  if (m) {
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw new ConfigError(`${flag} ${value}: the range must go upwards (stages:${to}-${from})`);
    return { kind: "stages", from, to };
  }
  throw new ConfigError(`${flag} ${JSON.stringify(value)}: expected encoder, stem or stages:A-B (e.g. stages:0-2)`);
}

/** One piece of the encoder in forward order: the stem, then each stage (Primus: each transformer block). */
interface EncoderUnit {
  /** Parameter-name prefixes that belong to the unit. */
  prefixes: string[];
  /** The module whose forward() the network calls for this unit (run without the tape when it is in the frozen prefix). */
  callSite: string;
}

/** The encoder of a network as freeze and layer-wise decay see it. */
export interface EncoderLayout {
  /** Units in forward order; unit 0 is the stem. */
  units: EncoderUnit[];
  /** Index of encoder stage 0 in `units` (1 when the stem is its own unit, 0 for PlainConvUNet whose stem is stage 0). */
  firstStage: number;
  numStages: number;
  /** Prefixes of every encoder parameter (the rest is decoder / head). */
  encoderPrefixes: string[];
}

const countIndexed = (names: readonly string[], prefix: string) => {
  let n = 0;
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const i = Number(name.slice(prefix.length).split(".")[0]);
    if (Number.isInteger(i)) n = Math.max(n, i + 1);
  }
  return n;
};

/** The stem/stage layout of nnU-Net's UNets (ResidualEncoderUNet, PlainConvUNet) and of Primus. */
export function encoderLayout(net: Network): EncoderLayout {
  const names = net.namedParameters().map(([n]) => n);
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  if (names.some((n) => n.startsWith("eva.blocks."))) {
    const k = countIndexed(names, "eva.blocks.");
    // Patch embedding and the positional embedding (added right after it) form the stem, like layer 0 of a ViT.
    const units = [{ prefixes: ["down_projection.", "eva.pos_embed", "eva.cls_token"], callSite: "down_projection.proj" }];
    for (const i of range(k)) units.push({ prefixes: [`eva.blocks.${i}.`, ...(i === k - 1 ? ["eva.norm."] : [])], callSite: `eva.blocks.${i}` });
    return { units, firstStage: 1, numStages: k, encoderPrefixes: ["down_projection.", "eva."] };
  }
  if (names.some((n) => n.startsWith("encoder.stem."))) {
    const k = countIndexed(names, "encoder.stages.");
    const units = [
      { prefixes: ["encoder.stem."], callSite: "encoder.stem" },
      ...range(k).map((i) => ({ prefixes: [`encoder.stages.${i}.`], callSite: `encoder.stages.${i}` })),
    ];
    return { units, firstStage: 1, numStages: k, encoderPrefixes: ["encoder."] };
  }
  if (names.some((n) => n.startsWith("encoder.stages."))) {
    const k = countIndexed(names, "encoder.stages.");
    return {
      units: range(k).map((i) => ({ prefixes: [`encoder.stages.${i}.`], callSite: `encoder.stages.${i}.0` })),
      firstStage: 0,
      numStages: k,
      encoderPrefixes: ["encoder."],
    };
  }
  throw new ConfigError(`${net.className}: --freeze and --lr_decay_per_stage know the encoders of ResidualEncoderUNet, PlainConvUNet and Primus only`);
}

const matches = (name: string, prefixes: readonly string[]) => prefixes.some((p) => name === p || name.startsWith(p));

/** Which of net.namedParameters() a --freeze target freezes (true = frozen), by index. */
export function frozenMask(net: Network, target: FreezeTarget, flag = "--freeze"): boolean[] {
  const layout = encoderLayout(net);
  let prefixes: string[];
  if (target.kind === "encoder") prefixes = layout.encoderPrefixes;
  else if (target.kind === "stem") prefixes = layout.units[0]!.prefixes;
  else {
    if (target.to >= layout.numStages)
      throw new ConfigError(`${flag} stages:${target.from}-${target.to}: ${net.className} has encoder stages 0-${layout.numStages - 1}`);
    prefixes = layout.units.slice(layout.firstStage + target.from, layout.firstStage + target.to + 1).flatMap((u) => u.prefixes);
  }
  const mask = net.namedParameters().map(([n]) => matches(n, prefixes));
  if (mask.every(Boolean)) throw new ConfigError(`${flag}: this would freeze every parameter of ${net.className}`);
  return mask;
}

/**
 * Layer-wise learning-rate decay: decoder and head at factor 1, the deepest encoder unit at `decay`, the one before at
 * decay², ..., the stem at decay^(number of units). By index of net.namedParameters().
 */
export function layerwiseLrScales(net: Network, decay: number): number[] {
  const layout = encoderLayout(net);
  const top = layout.units.length;
  return net.namedParameters().map(([n]) => {
    const u = layout.units.findIndex((unit) => matches(n, unit.prefixes));
    if (u >= 0) return decay ** (top - u);
    return matches(n, layout.encoderPrefixes) ? decay ** top : 1;
  });
}

/** Runs fn without recording on tfjs' gradient tape (torch.no_grad for the ops inside). */
export function withoutTape<T>(fn: () => T): T {
  // The engine records a kernel only while state.gradientDepth > 0 (Engine.isTapeOn); there is no public switch.
  const state = (tf.engine() as unknown as { state: { gradientDepth: number } }).state;
  const depth = state.gradientDepth;
  state.gradientDepth = 0;
  try {
    return fn();
  } finally {
    state.gradientDepth = depth;
  }
}

/**
 * Runs the frozen prefix of the encoder (the units before the first one with a trainable parameter) without the tape:
 * wraps their forward() in withoutTape. Returns a function that undoes it (for --unfreeze_at_epoch).
 */
export function runFrozenPrefixWithoutTape(net: Network, frozen: readonly boolean[]): { units: number; restore: () => void } {
  const layout = encoderLayout(net);
  const names = net.namedParameters().map(([n]) => n);
  const wrapped: Module[] = [];
  for (const unit of layout.units) {
    const idx = names.flatMap((n, i) => (matches(n, unit.prefixes) ? [i] : []));
    if (idx.length === 0 || !idx.every((i) => frozen[i])) break;
    const m = net.getSubmodule(unit.callSite) as (Module & { forward?: (...a: unknown[]) => unknown }) | null;
    if (!m || typeof m.forward !== "function") break;
    const original = m.forward;
    // Its own tidy: off the tape nothing needs the unit's intermediate tensors, so they go as soon as it returns.
    m.forward = (...args: unknown[]) => withoutTape(() => tf.tidy(() => original.apply(m, args) as tf.Tensor));
    wrapped.push(m);
  }
  return {
    units: wrapped.length,
    restore: () => {
      for (const m of wrapped) delete (m as { forward?: unknown }).forward;
    },
  };
}
