// timm's EvaBlock as dynamic_network_architectures' Eva builds it (timm 1.0.15 models/eva.py): pre-norm attention
// with separate q/k/v projections (k without bias), rotary position embedding on q and k, the optional post-attention
// `attn.norm` (scale_attn_inner), LayerScale gammas, and a SwiGLU MLP with its inner LayerNorm (timm layers/mlp.py).

import { tf } from "../backend/index.js";
import { layerNorm, linear, silu } from "./layers.js";
import { Module, Param, ParamFactory } from "./module.js";

export class Linear extends Module {
  readonly weight: Param;
  readonly bias: Param | null;
  /** Eva._init_weights: trunc_normal_(std=.02) weights (scaled by `scale`, Eva.fix_init_weight), zero bias. */
  constructor(f: ParamFactory, cin: number, cout: number, bias: boolean, scale = 1) {
    super();
    this.weight = this.addParam("weight", f.create([cout, cin], "plain", { kind: "truncNormal", std: 0.02 * scale }));
    this.bias = bias ? this.addParam("bias", f.create([cout], "plain", { kind: "const", value: 0 })) : null;
  }
  forward(x: tf.Tensor): tf.Tensor {
    return linear(x, this.weight.value, this.bias?.value ?? null);
  }
}

/** torch.nn.LayerNorm over the last axis (weight 1, bias 0). LayerNormNd is the same over channels-last. */
export class LayerNorm extends Module {
  readonly weight: Param;
  readonly bias: Param;
  constructor(
    f: ParamFactory,
    dim: number,
    readonly eps: number,
  ) {
    super();
    this.weight = this.addParam("weight", f.create([dim], "plain", { kind: "const", value: 1 }));
    this.bias = this.addParam("bias", f.create([dim], "plain", { kind: "const", value: 0 }));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return layerNorm(x, this.weight.value, this.bias.value, this.eps);
  }
}

/** sin and cos tables (N, head_dim) of timm's RotaryEmbeddingCat.get_embed(). */
export interface Rope {
  sin: tf.Tensor2D;
  cos: tf.Tensor2D;
}

/** timm apply_rot_embed_cat (half=False): x * cos + rot(x) * sin with rot([x0, x1, ...]) = [-x1, x0, -x3, x2, ...]. */
export function applyRope(x: tf.Tensor, rope: Rope): tf.Tensor {
  const shape = x.shape;
  const d = shape[shape.length - 1]!;
  const pairs = tf.reshape(x, [...shape.slice(0, -1), d / 2, 2]);
  const [even, odd] = tf.split(pairs, 2, -1);
  const rotated = tf.reshape(tf.concat([tf.neg(odd!), even!], -1), shape);
  return tf.add(tf.mul(x, rope.cos), tf.mul(rotated, rope.sin));
}

export class EvaAttention extends Module {
  /** Above this many attention scores (B * heads * N * N) heads are computed one at a time to bound memory. */
  static maxBatchedScores = 2 ** 25;

  readonly qProj: Linear;
  readonly kProj: Linear;
  readonly vProj: Linear;
  readonly norm: LayerNorm | null;
  readonly proj: Linear;
  private readonly headDim: number;

  constructor(
    f: ParamFactory,
    dim: number,
    readonly numHeads: number,
    scaleAttnInner: boolean,
    projScale: number,
  ) {
    super();
    this.headDim = Math.floor(dim / numHeads);
    const all = this.headDim * numHeads;
    this.qProj = this.addChild("q_proj", new Linear(f, dim, all, true));
    this.kProj = this.addChild("k_proj", new Linear(f, dim, all, false));
    this.vProj = this.addChild("v_proj", new Linear(f, dim, all, true));
    this.norm = scaleAttnInner ? this.addChild("norm", new LayerNorm(f, all, 1e-5)) : null;
    this.proj = this.addChild("proj", new Linear(f, all, dim, true, projScale));
  }

  forward(x: tf.Tensor, rope: Rope | null): tf.Tensor {
    const [b, n] = x.shape as [number, number, number];
    const heads = (t: tf.Tensor): tf.Tensor => tf.transpose(tf.reshape(t, [b, n, this.numHeads, this.headDim]), [0, 2, 1, 3]);
    let q = heads(this.qProj.forward(x));
    let k = heads(this.kProj.forward(x));
    const v = heads(this.vProj.forward(x));
    if (rope) {
      q = applyRope(q, rope);
      k = applyRope(k, rope);
    }
    const scale = this.headDim ** -0.5;
    const attend = (qh: tf.Tensor, kh: tf.Tensor, vh: tf.Tensor): tf.Tensor => tf.matMul(tf.softmax(tf.matMul(tf.mul(qh, scale), kh, false, true)), vh);
    let o: tf.Tensor;
    if (b * this.numHeads * n * n <= EvaAttention.maxBatchedScores) o = attend(q, k, v);
    else {
      // Large token counts (Primus-M at 160^3: 8000 tokens, 12 heads -> 3 GB of scores): one head at a time, each in
      // its own tidy so only one (B, N, N) score matrix is alive (tensors saved for backprop are kept by tfjs).
      const heads: tf.Tensor[] = [];
      for (let h = 0; h < this.numHeads; h++) {
        const pick = (t: tf.Tensor): tf.Tensor => tf.slice(t, [0, h, 0, 0], [b, 1, n, this.headDim]);
        heads.push(tf.tidy(() => attend(pick(q), pick(k), pick(v))));
      }
      o = tf.concat(heads, 1);
    }
    let y = tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [b, n, this.headDim * this.numHeads]);
    if (this.norm) y = this.norm.forward(y);
    return this.proj.forward(y);
  }
}

/** timm SwiGLU with norm (scale_mlp): fc2(norm(silu(fc1_g(x)) * fc1_x(x))). */
export class SwiGLU extends Module {
  readonly fc1G: Linear;
  readonly fc1X: Linear;
  readonly norm: LayerNorm;
  readonly fc2: Linear;
  constructor(f: ParamFactory, dim: number, hidden: number, fc2Scale: number) {
    super();
    this.fc1G = this.addChild("fc1_g", new Linear(f, dim, hidden, true));
    this.fc1X = this.addChild("fc1_x", new Linear(f, dim, hidden, true));
    this.norm = this.addChild("norm", new LayerNorm(f, hidden, 1e-5));
    this.fc2 = this.addChild("fc2", new Linear(f, hidden, dim, true, fc2Scale));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return this.fc2.forward(this.norm.forward(tf.mul(silu(this.fc1G.forward(x)), this.fc1X.forward(x))));
  }
}

/**
 * timm DropPath masks for one block, shape (B, 1, 1): each sample's residual branch is kept with probability 1 - p and
 * then divided by 1 - p (scale_by_keep), independently for drop_path1 (attention) and drop_path2 (MLP).
 */
export interface DropPathMasks {
  attn: tf.Tensor;
  mlp: tf.Tensor;
}

export interface EvaBlockConfig {
  dim: number;
  numHeads: number;
  mlpRatio: number;
  scaleAttnInner: boolean;
  /** LayerScale init (gamma_1, gamma_2), or null for none. */
  initValues: number | null;
}

export class EvaBlock extends Module {
  readonly gamma1: Param | null;
  readonly gamma2: Param | null;
  readonly norm1: LayerNorm;
  readonly attn: EvaAttention;
  readonly norm2: LayerNorm;
  readonly mlp: SwiGLU;

  /** `layerId` is 1-based: fix_init_weight divides attn.proj and mlp.fc2 weights by sqrt(2 * layerId). */
  constructor(f: ParamFactory, cfg: EvaBlockConfig, layerId: number) {
    super();
    const scale = 1 / Math.sqrt(2 * layerId);
    // Own parameters come first in PyTorch's state_dict, before the children.
    const gamma = cfg.initValues === null ? null : ({ kind: "const", value: cfg.initValues } as const);
    this.gamma1 = gamma ? this.addParam("gamma_1", f.create([cfg.dim], "plain", gamma)) : null;
    this.gamma2 = gamma ? this.addParam("gamma_2", f.create([cfg.dim], "plain", gamma)) : null;
    this.norm1 = this.addChild("norm1", new LayerNorm(f, cfg.dim, 1e-5));
    this.attn = this.addChild("attn", new EvaAttention(f, cfg.dim, cfg.numHeads, cfg.scaleAttnInner, scale));
    this.norm2 = this.addChild("norm2", new LayerNorm(f, cfg.dim, 1e-5));
    this.mlp = this.addChild("mlp", new SwiGLU(f, cfg.dim, Math.trunc(cfg.dim * cfg.mlpRatio), scale));
  }

  /** `dropPath` is the stochastic-depth mask for this block in training mode (null at inference). */
  forward(x: tf.Tensor, rope: Rope | null, dropPath: DropPathMasks | null = null): tf.Tensor {
    // One tidy per block: the attention's and the MLP's intermediates are freed when the block returns.
    return tf.tidy(() => {
      let a = this.attn.forward(this.norm1.forward(x), rope);
      if (this.gamma1) a = tf.mul(a, this.gamma1.value);
      if (dropPath) a = tf.mul(a, dropPath.attn);
      const h = tf.add(x, a);
      let m = this.mlp.forward(this.norm2.forward(h));
      if (this.gamma2) m = tf.mul(m, this.gamma2.value);
      if (dropPath) m = tf.mul(m, dropPath.mlp);
      return tf.add(h, m);
    });
  }
}
