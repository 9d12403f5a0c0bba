// What `nnssl-adapt checkpoint inspect` reports: the adaptation plan (if any) and every tensor in the checkpoint by
// its dotted path. Other tools parse the JSON form, so its shape is fixed:
// {"adaptation_plan": <object or null>, "tensors": [{"name", "dtype", "shape", "sum", "first"}]} sorted by name.

import { TorchTensor, bfloat16ToFloat, halfToFloat } from "../io/torch/index.js";
import { CheckpointError } from "../errors.js";
import { toPlain } from "./adaptation-plan.js";

export interface TensorSummary {
  /** Dotted path inside the checkpoint object (`network_weights.encoder.stem.convs.0.conv.weight`; list indices as numbers). */
  name: string;
  dtype: string;
  shape: number[];
  /** float64 sum of all values (bool: number of true values). */
  sum: number;
  /** Up to 10 values in C order (bool as true/false, like torch's tolist()). */
  first: (number | boolean)[];
}

export interface CheckpointSummary {
  adaptation_plan: Record<string, unknown> | null;
  tensors: TensorSummary[];
}

export function summarizeTensor(name: string, t: TorchTensor): TensorSummary {
  const v = t.toTypedArray();
  const conv: (x: number | bigint) => number =
    t.dtype === "float16" ? (x) => halfToFloat(x as number) : t.dtype === "bfloat16" ? (x) => bfloat16ToFloat(x as number) : Number;
  let sum = 0;
  if (
    t.dtype === "float32" ||
    t.dtype === "float64" ||
    t.dtype === "int8" ||
    t.dtype === "int16" ||
    t.dtype === "int32" ||
    t.dtype === "uint8" ||
    t.dtype === "bool"
  ) {
    const a = v as Float32Array;
    for (let i = 0; i < a.length; i++) sum += a[i]!;
  } else {
    for (let i = 0; i < v.length; i++) sum += conv(v[i]!);
  }
  const first = Array.from(v.subarray(0, 10) as ArrayLike<number | bigint>, (x) => (t.dtype === "bool" ? x !== 0 : conv(x)));
  return { name, dtype: t.dtype, shape: [...t.shape], sum, first };
}

/** Every tensor reachable from `root`, by dotted path, sorted by name (aliases are listed under each of their names). */
export function findTensors(root: unknown, { maxPaths = 10_000_000 } = {}): [string, TorchTensor][] {
  const out: [string, TorchTensor][] = [];
  const onPath = new Set<object>();
  let visited = 0;
  const walk = (v: unknown, name: string): void => {
    // A pickle can reference one container many times (memo), so paths can grow exponentially with file size.
    if (++visited > maxPaths) throw new CheckpointError(`more than ${maxPaths} paths in the object tree (a shared-reference bomb?)`);
    if (v instanceof TorchTensor) return void out.push([name, v]);
    if (typeof v !== "object" || v === null || onPath.has(v)) return;
    const join = (k: unknown) => (name ? `${name}.${String(k)}` : String(k));
    onPath.add(v); // guards against cycles only; shared (non-cyclic) containers are listed under every path
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, join(i)));
    else if (v instanceof Map) for (const [k, x] of v) walk(x, join(k));
    else if (Object.getPrototypeOf(v) === Object.prototype) for (const [k, x] of Object.entries(v)) walk(x, join(k));
    onPath.delete(v);
  };
  walk(root, "");
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

export function summarizeCheckpoint(root: unknown): CheckpointSummary {
  const plan =
    root && typeof root === "object" && !Array.isArray(root) && !(root instanceof Map) ? (root as Record<string, unknown>).nnssl_adaptation_plan : undefined;
  return {
    adaptation_plan: plan && typeof plan === "object" ? (toPlain(plan) as Record<string, unknown>) : null,
    tensors: findTensors(root).map(([n, t]) => summarizeTensor(n, t)),
  };
}
