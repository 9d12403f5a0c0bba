// A minimal nn.Module: ordered parameters, persistent buffers and children, enough to reproduce PyTorch's
// state_dict() (every registration path, aliases included) and named_parameters() (first path of each module only).
// Weights live in tf.Variables in the layout our channels-last ops want; `layout` says how to map them to PyTorch's.

import { tf } from "../backend/index.js";
import { Rng, sampleInit, type Init } from "./init.js";

/**
 * How a tensor is stored relative to PyTorch:
 * - "plain": same shape and order;
 * - "conv": Conv weight (O, I, *k) stored as (*k, I, O), the tfjs conv filter layout. The same permutation turns a
 *   ConvTranspose weight (I, O, *k) into (*k, O, I), the filter layout of tfjs' transposed convs.
 */
export type Layout = "plain" | "conv";

/** The permutation from PyTorch's shape to ours. */
export function layoutPerm(layout: Layout, rank: number): number[] {
  const spatial = Array.from({ length: rank - 2 }, (_, i) => i + 2);
  if (layout === "conv") return [...spatial, 1, 0];
  return Array.from({ length: rank }, (_, i) => i);
}

export function invertPerm(perm: number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/** One parameter or persistent buffer. `variable` is null when the network was built for counting only. */
export class Param {
  constructor(
    readonly torchShape: number[],
    readonly layout: Layout,
    readonly variable: tf.Variable | null,
  ) {}

  get numel(): number {
    return this.torchShape.reduce((a, b) => a * b, 1);
  }

  /** The live variable; throws for a shape-only network. */
  get value(): tf.Variable {
    if (!this.variable) throw new Error("this network was built without weights (shape-only)");
    return this.variable;
  }

  /** Replaces the values from data in PyTorch layout (C order of torchShape). */
  assignTorch(data: Float32Array): void {
    const v = this.value;
    tf.tidy(() => {
      const t = tf.tensor(data, this.torchShape, "float32");
      v.assign(this.layout === "plain" ? t : tf.transpose(t, layoutPerm(this.layout, this.torchShape.length)));
    });
  }

  /** A copy of the values in PyTorch layout (C order of torchShape). */
  readTorch(): Float32Array {
    const v = this.value;
    if (this.layout === "plain") return Float32Array.from(v.dataSync() as Float32Array);
    const t = tf.transpose(v, invertPerm(layoutPerm(this.layout, this.torchShape.length)));
    const data = t.dataSync() as Float32Array;
    t.dispose();
    return data;
  }
}

/** Creates parameters: with weights drawn from a seeded generator, or shapes only (for counting without memory). */
export class ParamFactory {
  private readonly rng: Rng | null;
  constructor(seed: number | null) {
    this.rng = seed === null ? null : new Rng(seed);
  }

  get allocates(): boolean {
    return this.rng !== null;
  }

  create(torchShape: number[], layout: Layout, init: Init, trainable = true): Param {
    if (!this.rng) return new Param(torchShape, layout, null);
    const n = torchShape.reduce((a, b) => a * b, 1);
    const data = sampleInit(init, n, this.rng);
    const variable = tf.tidy(() => {
      const t = tf.tensor(data, torchShape, "float32");
      const ours = layout === "plain" ? t : tf.transpose(t, layoutPerm(layout, torchShape.length));
      return tf.variable(ours, trainable);
    });
    return new Param(torchShape, layout, variable);
  }
}

export class Module {
  private readonly ownParams: [string, Param][] = [];
  private readonly ownBuffers: [string, Param][] = [];
  private readonly children: [string, Module][] = [];

  protected addParam(name: string, p: Param): Param {
    this.ownParams.push([name, p]);
    return p;
  }

  protected addBuffer(name: string, p: Param): Param {
    this.ownBuffers.push([name, p]);
    return p;
  }

  /** Registers `m` under `name`. Registering one module under several names creates state-dict aliases. */
  addChild<M extends Module>(name: string, m: M): M {
    this.children.push([name, m]);
    return m;
  }

  /** Every state_dict entry in PyTorch's order (own parameters, own buffers, then children), aliases included. */
  *stateEntries(prefix = ""): Generator<[string, Param]> {
    for (const [n, p] of this.ownParams) yield [prefix + n, p];
    for (const [n, p] of this.ownBuffers) yield [prefix + n, p];
    for (const [n, c] of this.children) yield* c.stateEntries(`${prefix}${n}.`);
  }

  /** named_parameters(): modules in pre-order, each visited once, so aliases keep their first name. */
  *namedParams(prefix = "", seen = new Set<Module>()): Generator<[string, Param]> {
    if (seen.has(this)) return;
    seen.add(this);
    for (const [n, p] of this.ownParams) yield [prefix + n, p];
    for (const [n, c] of this.children) yield* c.namedParams(`${prefix}${n}.`, seen);
  }
}

/** nn.Sequential / nn.ModuleList: children named "0", "1", ... */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[];
  constructor(items: M[]) {
    super();
    this.items = items;
    items.forEach((m, i) => this.addChild(String(i), m));
  }
}
