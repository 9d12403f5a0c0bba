// The Network base class: PyTorch's NC* layout at the boundary, channels-last inside, plus the state-dict and
// parameter views that loading, saving and training rely on.

import { tf } from "../backend/index.js";
import { CheckpointError, ConfigError, InputError } from "../errors.js";
import type { TorchTensor } from "../io/torch/tensor.js";
import { release, toChannelsFirst, toChannelsLast } from "./layers.js";
import { Module, type Layout } from "./module.js";
import { collectStateDict, loadIntoModule, tensorEntries, type StateDictInput } from "./state-dict.js";

/** The module paths nnssl's weight transfer uses (AbstractDynamicNetworkArchitectures attributes). */
export interface TransferKeys {
  keyToEncoder: string;
  keyToStem: string;
  keysToInProj: string[];
  keyToLpe: string | null;
}

export abstract class Network extends Module {
  /** Upstream class name, e.g. "ResidualEncoderUNet" or "Primus". */
  abstract readonly className: string;
  abstract readonly transferKeys: TransferKeys;
  /** 2 or 3 spatial dimensions. */
  abstract readonly dim: 2 | 3;
  abstract readonly inputChannels: number;
  abstract readonly numClasses: number;
  /** The seed the initial weights were drawn with (null for a shape-only network). */
  seed: number | null = null;
  /**
   * Training mode (torch's net.train()). It only changes Primus' stochastic depth (drop_path_rate): InstanceNorm uses
   * batch statistics in both modes and the UNets have no dropout.
   */
  training = false;
  /**
   * Activation recomputation per stage while training (torch.utils.checkpoint): the backward pass recomputes each
   * stage's activations instead of keeping them, for about one more forward pass of compute. No effect at inference.
   */
  checkpointing = false;

  /** Outputs in channels-last, highest resolution first (one entry without deep supervision). */
  protected abstract forwardChannelsLast(x: tf.Tensor): tf.Tensor[];
  abstract get deepSupervision(): boolean;
  /** Turns the deep-supervision outputs on or off (upstream: `decoder.deep_supervision`). */
  abstract setDeepSupervision(on: boolean): void;

  /**
   * Runs the network on `x` in PyTorch's layout (N, C, D, H, W) or (N, C, H, W) for 2D networks. Returns the logits in
   * the same layout: an array (highest resolution first) with deep supervision, else one tensor.
   */
  forward(x: tf.Tensor): tf.Tensor | tf.Tensor[] {
    if (x.rank !== this.dim + 2)
      throw new InputError(
        `${this.className}.forward: expected a ${this.dim + 2}-D input (N, C, ${this.dim === 3 ? "D, H, W" : "H, W"}), got shape [${x.shape.join(", ")}]`,
      );
    if (x.shape[1] !== this.inputChannels)
      throw new InputError(`${this.className}.forward: expected ${this.inputChannels} input channels, got shape [${x.shape.join(", ")}]`);
    // Modules free their intermediates as they go (layers.ts, `release`); the tidy catches anything they keep.
    return tf.tidy(() => {
      const xl = toChannelsLast(x);
      const outsLast = this.forwardChannelsLast(xl);
      release(xl);
      const outs = outsLast.map((o) => {
        const first = toChannelsFirst(o);
        release(o);
        return first;
      });
      return this.deepSupervision ? outs : outs[0]!;
    });
  }

  /** net.train(on): returns the network. */
  train(on = true): this {
    this.training = on;
    return this;
  }

  /** net.eval(): returns the network. */
  eval(): this {
    return this.train(false);
  }

  /** state_dict(): PyTorch names, shapes and layouts, every alias included (aliases share one tensor). */
  stateDict(): Map<string, TorchTensor> {
    return collectStateDict(this);
  }

  /**
   * load_state_dict(strict=True). Accepts a .pth path (a plain state dict, or a checkpoint whose `network_weights` holds
   * it) or an in-memory state dict. Aliased names are optional, but any that are given must have the right shape.
   */
  async loadStateDict(pathOrStateDict: string | StateDictInput): Promise<void> {
    if (typeof pathOrStateDict !== "string") {
      loadIntoModule(this, tensorEntries(pathOrStateDict));
      return;
    }
    // Imported on demand: building and running networks does not need the pickle reader.
    const { loadTorchFile } = await import("../io/torch/index.js");
    const obj = await loadTorchFile(pathOrStateDict);
    loadIntoModule(this, tensorEntries(pickStateDict(obj, pathOrStateDict)), { source: pathOrStateDict });
  }

  /** named_parameters(): de-duplicated (first name of each module), in PyTorch's order. */
  /** How each of namedParameters() is stored relative to PyTorch (for optimizer state in PyTorch's layout). */
  parameterLayouts(): { torchShape: number[]; layout: Layout }[] {
    return [...this.namedParams()].map(([, p]) => ({ torchShape: p.torchShape.slice(), layout: p.layout }));
  }

  namedParameters(): [string, tf.Variable][] {
    return [...this.namedParams()].map(([n, p]) => [n, p.value]);
  }

  /** The number of parameters, counted like sum(p.numel() for p in net.parameters()). */
  numParameters(): number {
    let n = 0;
    for (const [, p] of this.namedParams()) n += p.numel;
    return n;
  }

  /** Frees every variable and constant; the network cannot be used afterwards. */
  dispose(): void {
    const seen = new Set<tf.Variable>();
    for (const [, p] of this.stateEntries()) {
      if (p.variable && !seen.has(p.variable)) {
        seen.add(p.variable);
        p.variable.dispose();
      }
    }
    this.disposeConstants();
  }

  /** Frees non-parameter tensors (e.g. RoPE tables). */
  protected disposeConstants(): void {}

  protected rejectDeepSupervision(on: boolean): void {
    if (on) throw new ConfigError(`${this.className} has no deep supervision outputs`);
  }
}

function pickStateDict(obj: unknown, file: string): StateDictInput {
  if (obj instanceof Map || (typeof obj === "object" && obj !== null)) {
    const get = (k: string): unknown => (obj instanceof Map ? obj.get(k) : (obj as Record<string, unknown>)[k]);
    const nested = get("network_weights") ?? get("state_dict");
    if (nested && typeof nested === "object") return nested as StateDictInput;
    return obj as StateDictInput;
  }
  throw new CheckpointError("expected a state dict or a checkpoint with network_weights", { file });
}
