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

/** Our shape for a PyTorch shape. */
export function ourShape(layout: Layout, torchShape: number[]): number[] {
  if (layout === "plain") return torchShape;
  const [a, b, ...k] = torchShape;
  return [...k, b!, a!];
}

/**
 * (A, B, *k) <-> (*k, B, A) for "conv" weights, as plain loops: tf.transpose on the JS backend costs a minute for
 * ResEncL's 100 M weights, this a fraction of a second. `toOurs` false goes back to PyTorch's layout.
 */
export function permuteLayout(layout: Layout, torchShape: number[], data: Float32Array, toOurs: boolean): Float32Array {
  if (layout === "plain") return data;
  const [a, b, ...k] = torchShape as [number, number, ...number[]];
  const kk = k.reduce((x, y) => x * y, 1);
  const out = new Float32Array(data.length);
  for (let i = 0; i < a; i++)
    for (let j = 0; j < b; j++) {
      const t = (i * b + j) * kk; // PyTorch index of (i, j, 0)
      for (let s = 0; s < kk; s++) {
        const o = (s * b + j) * a + i; // our index of (s, j, i)
        if (toOurs) out[o] = data[t + s]!;
        else out[t + s] = data[o]!;
      }
    }
  return out;
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
    tf.tidy(() => v.assign(tf.tensor(permuteLayout(this.layout, this.torchShape, data, true), v.shape, "float32")));
  }

  /** A copy of the values in PyTorch layout (C order of torchShape). */
  readTorch(): Float32Array {
    const ours = this.value.dataSync() as Float32Array;
    return this.layout === "plain" ? Float32Array.from(ours) : permuteLayout(this.layout, this.torchShape, ours, false);
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
    const data = permuteLayout(layout, torchShape, sampleInit(init, n, this.rng), true);
    const variable = tf.tidy(() => tf.variable(tf.tensor(data, ourShape(layout, torchShape), "float32"), trainable));
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

  /** get_submodule("a.b.0"): the module at a dotted path, or null when there is none. */
  getSubmodule(path: string): Module | null {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the walk starts here and moves down
    let m: Module | undefined = this;
    for (const part of path === "" ? [] : path.split(".")) m = m?.children.find(([n]) => n === part)?.[1];
    return m ?? null;
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
