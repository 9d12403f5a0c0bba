// Activation recomputation ("gradient checkpointing", torch.utils.checkpoint) per network stage: under a gradient tape a
// checkpointed stage keeps only its inputs; its backward pass runs the stage again, on a tape of its own, and
// differentiates that. Training at large patches then holds one stage's activations at a time instead of the whole
// network's, for about one extra forward pass of compute. Without a tape (inference) the stage just runs.

import { tf } from "../backend/index.js";
import type { Module } from "./module.js";

/** Whether a gradient tape is recording (tf.variableGrads / tf.grad around the current call). */
export function recordingGradients(): boolean {
  return tf.engine().isTapeOn();
}

/** The trainable variables of `modules` (each once), the parameters a recomputed stage differentiates. */
export function stageVariables(...modules: Module[]): tf.Variable[] {
  const vars = new Set<tf.Variable>();
  for (const m of modules) for (const [, p] of m.namedParams()) if (p.variable?.trainable) vars.add(p.variable);
  return [...vars];
}

/**
 * f(...inputs), recomputed in the backward pass instead of keeping its intermediates. `f` must borrow its inputs (not
 * dispose them) and may only depend on `inputs` and `vars`; it must be deterministic (no dropout draws).
 */
export function recomputed(f: (...inputs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], vars: tf.Variable[]): tf.Tensor {
  if (!recordingGradients()) return f(...inputs);
  const n = inputs.length;
  // customGrad's typings take a fixed arity; this stage's arity is known only at run time.
  type Grad = { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[] };
  const customGrad = tf.customGrad as unknown as (fn: (...args: unknown[]) => Grad) => (...xs: tf.Tensor[]) => tf.Tensor;
  const op = customGrad((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const xs = args.slice(0, n) as tf.Tensor[];
    save(xs);
    // customGrad runs this inside a kernel, so nothing of f is recorded and its intermediates are freed on return.
    const value = f(...xs);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const engine = tf.engine();
        // engine.gradients starts (and at its end clears) the tape when no other is open, which is the case while the
        // outer backward pass runs; that pass still needs its own tape afterwards, so it is put back.
        const outerTape = engine.state.activeTape;
        try {
          const { grads } = engine.gradients(() => f(...saved), [...saved, ...vars], dy, true);
          return grads.map((g, i) => g ?? tf.zerosLike(i < n ? saved[i]! : vars[i - n]!));
        } finally {
          engine.state.activeTape = outerTape;
        }
      },
    };
  });
  return op(...inputs, ...vars);
}
