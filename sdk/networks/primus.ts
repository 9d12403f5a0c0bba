// dynamic_network_architectures architectures/primus.py (Primus, PrimusS/B/M/L presets), building_blocks/eva.py
// (Eva trunk) and patch_encode_decode.py (PatchEmbed, PatchDecode, LayerNormNd). Tokens are flattened "(w h d)"
// like dynamic_network_architectures >= 0.4.3, which is channels-last order and also the RoPE grid order.

import { tf } from "../backend/index.js";
import { ConfigError, InputError } from "../errors.js";
import { roundHalfEven } from "../util/python-math.js";
import { Conv, TransposedConv } from "./conv-blocks.js";
import { recomputed, recordingGradients, stageVariables } from "./checkpointing.js";
import { EvaBlock, LayerNorm, type DropPathMasks, type Rope } from "./eva-block.js";
import { Rng } from "./init.js";
import { gelu, release } from "./layers.js";
import { Module, ModuleList, Param, ParamFactory } from "./module.js";
import { Network, type TransferKeys } from "./network.js";

/** _PRIMUS_CONFIGS. */
export const PRIMUS_CONFIGS = {
  S: { embedDim: 396, depth: 12, numHeads: 6 },
  B: { embedDim: 792, depth: 12, numHeads: 12 },
  M: { embedDim: 864, depth: 16, numHeads: 12 },
  L: { embedDim: 1056, depth: 24, numHeads: 16 },
} as const;

export interface PrimusConfig {
  inputChannels: number;
  numClasses: number;
  embedDim: number;
  patchEmbedSize: number[];
  depth: number;
  numHeads: number;
  /** The patch size the network is built for (input_shape); the token grid is inputShape / patchEmbedSize. */
  inputShape: number[];
  mlpRatio: number;
  initValues: number | null;
  scaleAttnInner: boolean;
  useRotPosEmb: boolean;
  useAbsPosEmbed: boolean;
  /** Stochastic depth: block i drops its branches with probability linspace(0, rate, depth)[i] in training mode. */
  dropPathRate: number;
}

/**
 * timm RotaryEmbeddingCat(dim=ropeDim, in_pixels=False, feat_shape=ref_feat_shape=grid).get_embed(): frequencies
 * 1/10000^(i/nb) for nb = ropeDim/4 bands, an integer 'ij' meshgrid over the axes, sin and cos repeat_interleave(2).
 * Computed in float32 steps like torch.
 */
export function buildRope(ropeDim: number, grid: number[]): Rope {
  const f = Math.fround;
  const nb = ropeDim / 4;
  const bands = Array.from({ length: nb }, (_, i) => f(1 / f(10000 ** f(i / nb))));
  const n = grid.reduce((a, b) => a * b, 1);
  const width = 2 * grid.length * nb;
  const sin = new Float32Array(n * width);
  const cos = new Float32Array(n * width);
  const idx = new Array<number>(grid.length).fill(0);
  for (let t = 0; t < n; t++) {
    let rem = t;
    for (let a = grid.length - 1; a >= 0; a--) {
      idx[a] = rem % grid[a]!;
      rem = Math.floor(rem / grid[a]!);
    }
    for (let j = 0; j < width; j++) {
      const pair = j >> 1;
      const axis = Math.floor(pair / nb);
      // eva's resize scheme t / feat * ref is the identity here (feat_shape == ref_feat_shape), but keep torch's rounding.
      const pos = f(f(f(idx[axis]! / grid[axis]!) * grid[axis]!) * bands[pair % nb]!);
      sin[t * width + j] = Math.sin(pos);
      cos[t * width + j] = Math.cos(pos);
    }
  }
  return { sin: tf.tensor2d(sin, [n, width]), cos: tf.tensor2d(cos, [n, width]) };
}

/** The Eva trunk without patch embedding, cls token or head. */
export class Eva extends Module {
  readonly posEmbed: Param | null;
  readonly blocks: ModuleList<EvaBlock>;
  readonly norm: LayerNorm;
  readonly rope: Rope | null;

  constructor(f: ParamFactory, cfg: PrimusConfig, grid: number[]) {
    super();
    const numPatches = grid.reduce((a, b) => a * b, 1);
    this.posEmbed = cfg.useAbsPosEmbed
      ? this.addParam("pos_embed", f.create([1, numPatches, cfg.embedDim], "plain", { kind: "truncNormal", std: 0.02 }))
      : null;
    const blocks: EvaBlock[] = [];
    for (let i = 0; i < cfg.depth; i++)
      blocks.push(
        new EvaBlock(
          f,
          { dim: cfg.embedDim, numHeads: cfg.numHeads, mlpRatio: cfg.mlpRatio, scaleAttnInner: cfg.scaleAttnInner, initValues: cfg.initValues },
          i + 1,
        ),
      );
    this.blocks = this.addChild("blocks", new ModuleList(blocks));
    this.norm = this.addChild("norm", new LayerNorm(f, cfg.embedDim, 1e-5));
    let rope: Rope | null = null;
    if (cfg.useRotPosEmb) {
      const ropeDim = Math.round(Math.floor(cfg.embedDim / cfg.numHeads) / 1.5);
      if (ropeDim !== cfg.embedDim / cfg.numHeads / 1.5 || ropeDim % 4 !== 0) {
        throw new ConfigError(
          `Primus: the rotary dimension embed_dim / num_heads / 1.5 = ${cfg.embedDim / cfg.numHeads / 1.5} must be an integer divisible by 4`,
        );
      }
      if (f.allocates) rope = buildRope(ropeDim, grid);
    }
    this.rope = rope;
    this.dropPathRate = cfg.dropPathRate;
  }
  private readonly dropPathRate: number;

  /** `dropPathRng` is given in training mode only (stochastic depth). */
  forward(x: tf.Tensor, dropPathRng: Rng | null = null, recompute = false): tf.Tensor {
    let y = this.posEmbed ? tf.add(x, this.posEmbed.value) : x;
    const depth = this.blocks.items.length;
    this.blocks.items.forEach((b, i) => {
      const p = depth > 1 ? (this.dropPathRate * i) / (depth - 1) : 0;
      const masks = dropPathRng && p > 0 ? dropPathMasks(dropPathRng, x.shape[0]!, p) : null;
      const next = recompute ? recomputed((t) => b.forward(t, this.rope, masks), [y], stageVariables(b)) : b.forward(y, this.rope, masks);
      release(y, x);
      if (masks) tf.dispose([masks.attn, masks.mlp]);
      y = next;
    });
    const out = this.norm.forward(y);
    release(y, x);
    return out;
  }
}

function dropPathMasks(rng: Rng, batch: number, p: number): DropPathMasks {
  const keep = 1 - p;
  const mask = (): tf.Tensor =>
    tf.tensor3d(
      Float32Array.from({ length: batch }, () => (rng.uniform() < keep ? 1 / keep : 0)),
      [batch, 1, 1],
    );
  return { attn: mask(), mlp: mask() };
}

class PatchEmbed extends Module {
  readonly proj: Conv;
  constructor(f: ParamFactory, patch: number[], cin: number, embedDim: number) {
    super();
    this.proj = this.addChild("proj", new Conv(f, cin, embedDim, patch, patch, true, "none"));
  }
}

/** PatchDecode: log2(max patch) transposed-conv stages, LayerNormNd (eps 1e-6) + GELU between them. */
class PatchDecode extends Module {
  private readonly ups: TransposedConv[] = [];
  private readonly norms: LayerNorm[] = [];

  constructor(f: ParamFactory, patch: number[], embedDim: number, outChannels: number) {
    super();
    const numStages = Math.trunc(Math.log(Math.max(...patch)) / Math.log(2));
    const strides = Array.from({ length: numStages }, (_, n) => patch.map((p) => ((p / 2 ** n) % 2 === 0 ? 2 : 1))).reverse();
    const dimRed = (embedDim / (2 * outChannels)) ** (1 / numStages);
    const roundTo8 = (v: number): number => Math.trunc(Math.max(8, roundHalfEven((v + 1e-6) / 8) * 8));
    const channels = [embedDim, ...Array.from({ length: numStages }, (_, x) => roundTo8(embedDim / dimRed ** (x + 1)))];
    channels[channels.length - 1] = outChannels;
    const stages: Module[] = [];
    for (let s = 0; s < numStages; s++) {
      const up = new TransposedConv(f, channels[s]!, channels[s + 1]!, strides[s]!, true);
      this.ups.push(up);
      if (s < numStages - 1) {
        const norm = new LayerNorm(f, channels[s + 1]!, 1e-6);
        this.norms.push(norm);
        stages.push(new ModuleList([up, norm]));
      } else stages.push(up);
    }
    this.addChild("decode", new ModuleList(stages));
  }

  forward(x: tf.Tensor): tf.Tensor {
    let y = x;
    this.ups.forEach((up, s) => {
      const upsampled = up.forward(y);
      release(y, x);
      y = upsampled;
      const norm = this.norms[s];
      if (norm) {
        const normed = norm.forward(y);
        release(y);
        y = gelu(normed);
        release(normed);
      }
    });
    return y;
  }
}

export class Primus extends Network {
  readonly className: string;
  readonly transferKeys: TransferKeys = {
    keyToEncoder: "eva",
    keyToStem: "down_projection",
    keysToInProj: ["down_projection.proj"],
    keyToLpe: "eva.pos_embed",
  };
  readonly dim = 3 as const;
  readonly inputChannels: number;
  readonly numClasses: number;
  readonly config: PrimusConfig;
  /** Token grid (input_shape / patch_embed_size). */
  readonly grid: number[];
  readonly downProjection: PatchEmbed;
  readonly upProjection: PatchDecode;
  readonly eva: Eva;

  constructor(f: ParamFactory, cfg: PrimusConfig, className = "Primus") {
    super();
    if (cfg.inputShape.length !== 3 || cfg.patchEmbedSize.length !== 3)
      throw new ConfigError(`${className}: only 3D is supported (input_shape ${JSON.stringify(cfg.inputShape)})`);
    if (cfg.inputShape.some((s, i) => s % cfg.patchEmbedSize[i]! !== 0)) {
      throw new ConfigError(
        `${className}: patch size [${cfg.inputShape.join(", ")}] is not divisible by the patch embedding [${cfg.patchEmbedSize.join(", ")}]`,
      );
    }
    this.className = className;
    this.config = cfg;
    this.inputChannels = cfg.inputChannels;
    this.numClasses = cfg.numClasses;
    this.grid = cfg.inputShape.map((s, i) => s / cfg.patchEmbedSize[i]!);
    // mask_token is a persistent buffer (used only for MAE patch dropping), so it is in the state dict.
    this.addBuffer("mask_token", f.create([1, 1, cfg.embedDim], "plain", { kind: "const", value: 0 }, false));
    this.downProjection = this.addChild("down_projection", new PatchEmbed(f, cfg.patchEmbedSize, cfg.inputChannels, cfg.embedDim));
    this.upProjection = this.addChild("up_projection", new PatchDecode(f, cfg.patchEmbedSize, cfg.embedDim, cfg.numClasses));
    this.eva = this.addChild("eva", new Eva(f, cfg, this.grid));
  }

  get deepSupervision(): boolean {
    return false;
  }

  // Seeded from the network's seed on first use, so a seeded training run draws the same stochastic-depth masks.
  private rngForDropPath: Rng | null = null;
  private get dropPathRng(): Rng {
    this.rngForDropPath ??= new Rng((this.seed ?? 0) ^ 0x5bd1e995);
    return this.rngForDropPath;
  }

  setDeepSupervision(on: boolean): void {
    this.rejectDeepSupervision(on);
  }

  protected forwardChannelsLast(x: tf.Tensor): tf.Tensor[] {
    const spatial = x.shape.slice(1, 4);
    if (spatial.some((s, i) => s !== this.config.inputShape[i])) {
      throw new InputError(
        `${this.className}.forward: the positional embedding is built for patches of [${this.config.inputShape.join(", ")}], got [${spatial.join(", ")}]`,
      );
    }
    const b = x.shape[0]!;
    const tokens = this.downProjection.proj.forward(x);
    const e = this.config.embedDim;
    const flat = tf.reshape(tokens, [b, -1, e]);
    release(tokens);
    const y = this.eva.forward(flat, this.training ? this.dropPathRng : null, this.checkpointing && recordingGradients());
    release(flat);
    const grid = tf.reshape(y, [b, ...this.grid, e]);
    release(y);
    const out = this.upProjection.forward(grid);
    release(grid);
    return [out];
  }

  protected override disposeConstants(): void {
    this.eva.rope?.sin.dispose();
    this.eva.rope?.cos.dispose();
  }
}
