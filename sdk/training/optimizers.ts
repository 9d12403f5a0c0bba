// Optimizers that update tfjs variables exactly as torch.optim does, with state that round-trips through torch's
// `optimizer.state_dict()` layout (stored as `optimizer_state` in nnU-Net checkpoints). Params are indexed in
// `namedParameters()` order, which is PyTorch's de-duplicated `named_parameters()` order.

import { readsAreAsyncOnly, tf } from "../backend/index.js";
import { TorchTensor, PyTuple, pyFloat } from "../io/torch/index.js";
import { CheckpointError } from "../errors.js";
import { permuteLayout, type Layout } from "../networks/module.js";

type Var = tf.Variable;

/** The part of an optimizer the trainer uses. */
export interface Optimizer {
  readonly name: "SGD" | "AdamW";
  /** Learning rate for the next steps (set per epoch by the schedule). */
  lr: number;
  /**
   * Applies one update with these gradients (same order as the params; null = the parameter got no gradient, which
   * torch skips entirely). Does not dispose the gradients.
   */
  step(grads: readonly (tf.Tensor | null)[]): void;
  /** torch `optimizer.state_dict()`: `{ state: Map<int, {...}>, param_groups: [{...}] }`. */
  stateDict(): { state: Map<number, Record<string, unknown>>; param_groups: Record<string, unknown>[] };
  /** Restores buffers (and lr) saved by stateDict() or by PyTorch. */
  loadStateDict(sd: unknown, file?: string): void;
  /** The state tensors (momentum, moments), e.g. to fetch them from the GPU before stateDict(). */
  stateTensors(): tf.Tensor[];
  dispose(): void;
}

/**
 * How a parameter is stored relative to PyTorch (networks keep conv weights channels-last). With it, optimizer
 * buffers are written in PyTorch's shape and order, so Python nnU-Net can continue from our checkpoints.
 */
export interface ParamLayout {
  torchShape: number[];
  layout: Layout;
}

function toTorch(t: tf.Tensor, l?: ParamLayout): TorchTensor {
  const data = t.dataSync() as Float32Array;
  if (!l || l.layout === "plain") return TorchTensor.fromTypedArray(Float32Array.from(data), t.shape.slice());
  return TorchTensor.fromTypedArray(permuteLayout(l.layout, l.torchShape, data, false), l.torchShape.slice());
}

function stateEntry(state: unknown, i: number): Record<string, unknown> | undefined {
  if (state instanceof Map) return (state.get(i) ?? state.get(String(i)) ?? state.get(BigInt(i))) as Record<string, unknown> | undefined;
  if (state && typeof state === "object") return (state as Record<string, Record<string, unknown>>)[String(i)];
  return undefined;
}

function restore(value: unknown, param: Var, what: string, file?: string, l?: ParamLayout): tf.Tensor {
  if (!(value instanceof TorchTensor)) throw new CheckpointError(`optimizer_state: ${what} is not a tensor`, { file });
  const shape = l ? l.torchShape : param.shape;
  if (value.shape.length !== shape.length || value.shape.some((s, k) => s !== shape[k])) {
    throw new CheckpointError(`optimizer_state: ${what} has shape [${value.shape}], parameter has [${shape}]`, { file });
  }
  return tf.tensor(l ? permuteLayout(l.layout, l.torchShape, value.toFloat32(), true) : value.toFloat32(), param.shape);
}

export interface SgdOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
  nesterov?: boolean;
  /** Written as param_groups[0].initial_lr (set by torch's LR schedulers). */
  initialLr?: number;
  /** PyTorch layout of each parameter (same order as the params); buffers are saved and loaded in it. */
  layouts?: readonly ParamLayout[];
  /**
   * Per-parameter learning-rate factors (layer-wise decay); default 1. They are not saved: the state dict keeps one
   * param group, so PyTorch's nnU-Net can load it into its own single-group optimizer.
   */
  lrScales?: readonly number[];
}

/**
 * torch.optim.SGD (dampening 0): `g = grad + wd*p; buf = g` on the first step, else `buf = m*buf + g`;
 * Nesterov: `p -= lr*(g + m*buf)`, otherwise `p -= lr*buf`.
 */
export class SGD implements Optimizer {
  readonly name = "SGD" as const;
  lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  readonly initialLr: number;
  private buffers: (tf.Tensor | null)[];

  private readonly layouts: readonly ParamLayout[] | undefined;
  private readonly lrScales: readonly number[] | undefined;

  constructor(
    readonly params: readonly Var[],
    { lr, momentum = 0.99, weightDecay = 3e-5, nesterov = true, initialLr = lr, layouts, lrScales }: SgdOptions,
  ) {
    this.layouts = layouts;
    this.lrScales = lrScales;
    this.lr = lr;
    this.momentum = momentum;
    this.weightDecay = weightDecay;
    this.nesterov = nesterov;
    this.initialLr = initialLr;
    this.buffers = params.map(() => null);
  }

  step(grads: readonly (tf.Tensor | null)[]): void {
    const { momentum: m, weightDecay: wd, nesterov } = this;
    this.params.forEach((p, i) => {
      if (!grads[i]) return;
      const lr = this.lr * (this.lrScales?.[i] ?? 1);
      const old = this.buffers[i];
      const [buf, next] = tf.tidy(() => {
        const g = wd !== 0 ? tf.add(grads[i]!, tf.mul(p, wd)) : grads[i]!;
        const b = m === 0 ? g : old ? tf.add(tf.mul(old, m), g) : tf.clone(g);
        const d = nesterov ? tf.add(g, tf.mul(b, m)) : b;
        return [tf.keep(b), tf.sub(p, tf.mul(d, lr))];
      });
      p.assign(next);
      next.dispose();
      old?.dispose();
      // Without momentum and weight decay `buf` is the caller's gradient itself, which is not ours to dispose.
      if (m === 0 && buf !== grads[i]) buf.dispose();
      this.buffers[i] = m === 0 ? null : buf;
    });
  }

  stateTensors(): tf.Tensor[] {
    return this.buffers.filter((b): b is tf.Tensor => b !== null);
  }

  stateDict() {
    const state = new Map<number, Record<string, unknown>>();
    this.buffers.forEach((b, i) => {
      if (b) state.set(i, { momentum_buffer: toTorch(b, this.layouts?.[i]) });
    });
    return {
      state,
      param_groups: [
        {
          lr: pyFloat(this.lr),
          momentum: pyFloat(this.momentum),
          dampening: 0,
          weight_decay: pyFloat(this.weightDecay),
          nesterov: this.nesterov,
          maximize: false,
          foreach: null,
          differentiable: false,
          fused: null,
          initial_lr: pyFloat(this.initialLr),
          params: this.params.map((_, i) => i),
        },
      ],
    };
  }

  loadStateDict(sd: unknown, file?: string): void {
    const { state, param_groups } = (sd ?? {}) as { state?: unknown; param_groups?: Record<string, unknown>[] };
    this.params.forEach((p, i) => {
      const e = stateEntry(state, i);
      this.buffers[i]?.dispose();
      this.buffers[i] =
        e?.momentum_buffer !== undefined && e.momentum_buffer !== null
          ? restore(e.momentum_buffer, p, `state[${i}].momentum_buffer`, file, this.layouts?.[i])
          : null;
    });
    // A number when read from a file, a PyFloat when passed straight from stateDict().
    const lr = Number(param_groups?.[0]?.lr);
    if (Number.isFinite(lr)) this.lr = lr;
  }

  dispose(): void {
    for (const b of this.buffers) b?.dispose();
    this.buffers = this.params.map(() => null);
  }
}

export interface AdamWOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  initialLr?: number;
  /** PyTorch layout of each parameter (same order as the params); moments are saved and loaded in it. */
  layouts?: readonly ParamLayout[];
  /** Per-parameter learning-rate factors, as for SGD (applied to the step and the decoupled weight decay). */
  lrScales?: readonly number[];
}

/**
 * torch.optim.AdamW (amsgrad False): `p *= 1 - lr*wd`; `m = b1*m + (1-b1)*g`; `v = b2*v + (1-b2)*g²`;
 * `p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)`.
 */
export class AdamW implements Optimizer {
  readonly name = "AdamW" as const;
  lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  readonly initialLr: number;
  private expAvg: (tf.Tensor | null)[];
  private expAvgSq: (tf.Tensor | null)[];
  private steps: number[];

  private readonly layouts: readonly ParamLayout[] | undefined;
  private readonly lrScales: readonly number[] | undefined;

  constructor(
    readonly params: readonly Var[],
    { lr, betas = [0.9, 0.98], eps = 1e-8, weightDecay = 5e-2, initialLr = lr, layouts, lrScales }: AdamWOptions,
  ) {
    this.layouts = layouts;
    this.lrScales = lrScales;
    this.lr = lr;
    this.betas = betas;
    this.eps = eps;
    this.weightDecay = weightDecay;
    this.initialLr = initialLr;
    this.expAvg = params.map(() => null);
    this.expAvgSq = params.map(() => null);
    this.steps = params.map(() => 0);
  }

  step(grads: readonly (tf.Tensor | null)[]): void {
    const { eps, weightDecay: wd } = this;
    const [b1, b2] = this.betas;
    this.params.forEach((p, i) => {
      if (!grads[i]) return;
      const lr = this.lr * (this.lrScales?.[i] ?? 1);
      const t = ++this.steps[i]!;
      const m0 = this.expAvg[i];
      const v0 = this.expAvgSq[i];
      const [m, v, next] = tf.tidy(() => {
        const g = grads[i]!;
        const m = m0 ? tf.add(tf.mul(m0, b1), tf.mul(g, 1 - b1)) : tf.mul(g, 1 - b1);
        const v = v0 ? tf.add(tf.mul(v0, b2), tf.mul(tf.square(g), 1 - b2)) : tf.mul(tf.square(g), 1 - b2);
        const stepSize = lr / (1 - b1 ** t);
        const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(1 - b2 ** t)), eps);
        const decayed = tf.mul(p, 1 - lr * wd);
        return [tf.keep(m), tf.keep(v), tf.sub(decayed, tf.mul(tf.div(m, denom), stepSize))];
      });
      p.assign(next);
      next.dispose();
      m0?.dispose();
      v0?.dispose();
      this.expAvg[i] = m;
      this.expAvgSq[i] = v;
    });
  }

  stateTensors(): tf.Tensor[] {
    return [...this.expAvg, ...this.expAvgSq].filter((b): b is tf.Tensor => b !== null);
  }

  stateDict() {
    const state = new Map<number, Record<string, unknown>>();
    this.params.forEach((_, i) => {
      const m = this.expAvg[i];
      const v = this.expAvgSq[i];
      // torch >= 1.12 keeps `step` as a float32 scalar tensor.
      if (m && v)
        state.set(i, {
          step: TorchTensor.fromTypedArray(new Float32Array([this.steps[i]!]), []),
          exp_avg: toTorch(m, this.layouts?.[i]),
          exp_avg_sq: toTorch(v, this.layouts?.[i]),
        });
    });
    return {
      state,
      param_groups: [
        {
          lr: pyFloat(this.lr),
          betas: PyTuple.ofItems([pyFloat(this.betas[0]), pyFloat(this.betas[1])]),
          eps: pyFloat(this.eps),
          weight_decay: pyFloat(this.weightDecay),
          amsgrad: false,
          foreach: null,
          maximize: false,
          capturable: false,
          differentiable: false,
          fused: null,
          initial_lr: pyFloat(this.initialLr),
          params: this.params.map((_, i) => i),
        },
      ],
    };
  }

  loadStateDict(sd: unknown, file?: string): void {
    const { state, param_groups } = (sd ?? {}) as { state?: unknown; param_groups?: Record<string, unknown>[] };
    this.params.forEach((p, i) => {
      const e = stateEntry(state, i);
      this.expAvg[i]?.dispose();
      this.expAvgSq[i]?.dispose();
      this.expAvg[i] = e ? restore(e.exp_avg, p, `state[${i}].exp_avg`, file, this.layouts?.[i]) : null;
      this.expAvgSq[i] = e ? restore(e.exp_avg_sq, p, `state[${i}].exp_avg_sq`, file, this.layouts?.[i]) : null;
      const s = e?.step;
      this.steps[i] = s instanceof TorchTensor ? s.toFloat32()[0]! : typeof s === "number" ? s : 0;
    });
    // A number when read from a file, a PyFloat when passed straight from stateDict().
    const lr = Number(param_groups?.[0]?.lr);
    if (Number.isFinite(lr)) this.lr = lr;
  }

  dispose(): void {
    for (const t of [...this.expAvg, ...this.expAvgSq]) t?.dispose();
    this.expAvg = this.params.map(() => null);
    this.expAvgSq = this.params.map(() => null);
  }
}

/**
 * torch.nn.utils.clip_grad_norm_: scales all gradients by `min(1, maxNorm / (totalNorm + 1e-6))`, where totalNorm is
 * the 2-norm over all of them. Returns the new gradients (the inputs are disposed) and the norm before clipping. On a
 * backend that cannot read synchronously (webgpu) the factor stays on the device, every gradient is multiplied by it
 * (by exactly 1 when no clipping is needed, which leaves the values unchanged) and totalNorm is NaN.
 */
export function clipGradNorm<G extends tf.Tensor | null>(grads: G[], maxNorm: number): { grads: G[]; totalNorm: number } {
  const present = grads.filter((g): g is NonNullable<G> => g !== null);
  if (present.length === 0) return { grads, totalNorm: 0 };
  if (readsAreAsyncOnly()) {
    const coef = tf.tidy(() => tf.minimum(1, tf.div(maxNorm, tf.add(tf.sqrt(tf.addN(present.map((g) => tf.sum(tf.square(g))))), 1e-6))));
    const out = grads.map((g) => {
      if (!g) return g;
      const s = tf.mul(g, coef);
      g.dispose();
      return s as G;
    });
    coef.dispose();
    return { grads: out, totalNorm: Number.NaN };
  }
  const totalNorm = tf.tidy(() => Math.sqrt(tf.addN(present.map((g) => tf.sum(tf.square(g)))).dataSync()[0]!));
  const coef = Math.min(1, maxNorm / (totalNorm + 1e-6));
  if (coef >= 1) return { grads, totalNorm };
  const out = grads.map((g) => {
    if (!g) return g;
    const s = tf.mul(g, coef);
    g.dispose();
    return s as G;
  });
  return { grads: out, totalNorm };
}
