// PyTorch state dicts <-> our parameters: names (aliases included), shapes and layouts, with strict loading that
// reports every missing, unexpected and mis-shaped key at once (torch's load_state_dict reports them together too).

import { tf } from "../backend/index.js";
import { CheckpointError } from "../errors.js";
import { TorchTensor } from "../io/torch/tensor.js";
import type { Module, Param } from "./module.js";

/** Anything with a shape and float values in C order: TorchTensor, tf.Tensor (wrapped by asTensorLike), npy arrays. */
export interface TensorLike {
  readonly shape: readonly number[];
  toFloat32(): Float32Array;
}

/** A state dict as the torch reader returns it (plain object or Map), or built in memory. */
export type StateDictInput = Map<string, unknown> | Record<string, unknown>;

export function isTensorLike(v: unknown): v is TensorLike {
  return typeof v === "object" && v !== null && Array.isArray((v as TensorLike).shape) && typeof (v as TensorLike).toFloat32 === "function";
}

function asTensorLike(v: unknown): TensorLike | null {
  if (v instanceof tf.Tensor) return { shape: v.shape, toFloat32: () => Float32Array.from(v.dataSync() as Float32Array) };
  if (isTensorLike(v)) return v;
  return null;
}

/**
 * Keeps the tensor entries (a pickled OrderedDict may carry non-tensor extras such as `_metadata`) and drops the
 * `module.` (DDP) and `_orig_mod.` (torch.compile) wrapper prefixes, as nnU-Net's checkpoint loading does.
 */
export function tensorEntries(sd: StateDictInput): Map<string, TensorLike> {
  const out = new Map<string, TensorLike>();
  const entries = sd instanceof Map ? [...sd.entries()] : Object.entries(sd);
  for (const [k, v] of entries) {
    const t = asTensorLike(v);
    if (t && typeof k === "string") out.set(k.replace(/^(?:module\.|_orig_mod\.)+/, ""), t);
  }
  return out;
}

/** state_dict(): one TorchTensor per parameter, the same object under every alias (so a writer stores it once). */
export function collectStateDict(root: Module): Map<string, TorchTensor> {
  const made = new Map<Param, TorchTensor>();
  const out = new Map<string, TorchTensor>();
  for (const [name, p] of root.stateEntries()) {
    let t = made.get(p);
    if (!t) {
      t = TorchTensor.fromTypedArray(p.readTorch(), p.torchShape);
      made.set(p, t);
    }
    out.set(name, t);
  }
  return out;
}

const fmt = (s: readonly number[]): string => `[${s.join(", ")}]`;

export interface LoadOptions {
  /** Load into the submodule at this path (e.g. "encoder.stages"); keys of `sd` are relative to it. */
  prefix?: string;
  /** Report missing / unexpected / mis-shaped keys as an error (default) instead of skipping them. */
  strict?: boolean;
  /** Where the weights come from, for error messages. */
  source?: string;
}

/**
 * Copies `sd` into the parameters of `root` (or of its submodule `prefix`). A parameter registered under several
 * names (`.all_modules.0`, `decoder.encoder.*`) needs only one of them; every name present must have the right shape.
 * Returns the loaded keys (relative to the prefix), in state-dict order.
 */
export function loadIntoModule(root: Module, sd: Map<string, TensorLike>, { prefix = "", strict = true, source = "state dict" }: LoadOptions = {}): string[] {
  const pre = prefix ? `${prefix}.` : "";
  const expected = new Map<string, Param>();
  const names = new Map<Param, string[]>();
  for (const [name, p] of root.stateEntries()) {
    if (!name.startsWith(pre)) continue;
    const rel = name.slice(pre.length);
    expected.set(rel, p);
    names.set(p, [...(names.get(p) ?? []), rel]);
  }
  const unexpected: string[] = [];
  const misshaped: string[] = [];
  for (const [k, t] of sd) {
    const p = expected.get(k);
    if (!p) unexpected.push(k);
    else if (!sameShape(p.torchShape, t.shape)) misshaped.push(`${pre}${k}: Expected shape ${fmt(p.torchShape)}, but found ${fmt(t.shape)}`);
  }
  const missing: string[] = [];
  const plan: [Param, string][] = [];
  for (const [p, ns] of names) {
    const given = ns.find((n) => sd.has(n));
    if (given === undefined) missing.push(pre + ns[0]!);
    else if (sameShape(p.torchShape, sd.get(given)!.shape)) plan.push([p, given]);
  }
  if (strict && (missing.length || unexpected.length || misshaped.length)) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing keys: ${missing.join(", ")}`);
    if (unexpected.length) parts.push(`unexpected keys: ${unexpected.join(", ")}`);
    if (misshaped.length) parts.push(`size mismatch: ${misshaped.join("; ")}`);
    throw new CheckpointError(`cannot load into ${prefix || "the network"}: ${parts.join("; ")}`, { file: source });
  }
  for (const [p, key] of plan) p.assignTorch(sd.get(key)!.toFloat32());
  return plan.map(([, k]) => k);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
