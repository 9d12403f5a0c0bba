// Differentiable building-block ops on channels-last tensors (N, *spatial, C), expressed with tfjs ops only so
// every backend (cpu, cpu-onednn, tensorflow) accelerates them and tf.variableGrads can differentiate them.
// Each op borrows its inputs and returns a new tensor; what it creates on the way is freed before it returns (tf.tidy),
// so a forward pass holds only the tensors its modules still need (see `release`).

import { fusedInstanceNorm, hasFusedInstanceNorm } from "../backend/fused-norm.js";
import { tf } from "../backend/index.js";

/**
 * PyTorch ConvNd with symmetric zero padding `pads` per axis (dynamic_network_architectures uses (k-1)//2, PatchEmbed 0).
 * `w` is in tfjs filter layout (*k, I, O); `x` is (N, *spatial, I) with 2 or 3 spatial dims.
 */
export function convNd(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | null, kernel: number[], stride: number[], pads: number[]): tf.Tensor {
  return tf.tidy(() => convNdUntidied(x, w, b, kernel, stride, pads));
}

function convNdUntidied(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | null, kernel: number[], stride: number[], pads: number[]): tf.Tensor {
  // tfjs "same" pads the extra row at the end for strided convs while torch pads symmetrically; with stride 1 and odd
  // kernels the two agree. Otherwise symmetric padding is passed as a number (one value for every axis; tfjs' conv
  // kernels and gradients take it at run time although conv3d's typings only list "same" / "valid"), as explicit
  // padding for 2D, and only anisotropic 3D padding costs an extra tf.pad copy.
  const sameAgrees = stride.every((s) => s === 1) && kernel.every((k, i) => k % 2 === 1 && pads[i] === (k - 1) >> 1);
  const uniform = pads.every((p) => p === pads[0]);
  let y: tf.Tensor;
  if (kernel.length === 3) {
    const s3 = stride as [number, number, number];
    let input = x;
    let pad: "same" | "valid" | number = "same";
    if (!sameAgrees) {
      if (uniform) pad = pads[0]!;
      else {
        input = tf.pad(x, [[0, 0], ...pads.map((p): [number, number] => [p, p]), [0, 0]]);
        pad = "valid";
      }
    }
    y = tf.conv3d(input as tf.Tensor5D, w as tf.Tensor5D, s3, pad as "valid");
  } else {
    const pad = sameAgrees
      ? "same"
      : ([
          [0, 0],
          [pads[0]!, pads[0]!],
          [pads[1]!, pads[1]!],
          [0, 0],
        ] as [[0, 0], [number, number], [number, number], [0, 0]]);
    y = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride as [number, number], pad);
  }
  return b ? tf.add(y, b) : y;
}

/**
 * ConvTransposeNd with kernel == stride (the only kind UNetDecoder and PatchDecode build), so no padding and the output
 * is spatial * kernel. `w` is (*k, O, I) (layout "conv" of the PyTorch (I, O, *k) weight), as tfjs' transposed convs take it.
 */
export function transposedConvNd(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | null, kernel: number[]): tf.Tensor {
  return tf.tidy(() => {
    const [n, ...rest] = x.shape;
    const out = [n!, ...rest.slice(0, -1).map((s, i) => s * kernel[i]!), w.shape[w.rank - 2]!];
    const y =
      kernel.length === 3
        ? tf.conv3dTranspose(x as tf.Tensor5D, w as tf.Tensor5D, out as [number, number, number, number, number], kernel as [number, number, number], "valid")
        : tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, out as [number, number, number, number], kernel as [number, number], "valid");
    return b ? tf.add(y, b) : y;
  });
}

/**
 * InstanceNorm: per-sample, per-channel statistics over the spatial axes, biased variance (track_running_stats off),
 * followed by LeakyReLU(negativeSlope) (ReLU for 0) unless negativeSlope is null. On backends with the fused kernel
 * (cpu-onednn) an affine norm and its activation run as one op; otherwise they are composed from tfjs ops, with gamma
 * folded into the (N, 1.., C) scale so the full-size tensor is touched by as few ops as possible.
 */
export function instanceNorm(x: tf.Tensor, gamma: tf.Tensor | null, beta: tf.Tensor | null, eps: number, negativeSlope: number | null = null): tf.Tensor {
  if (gamma && beta && x.dtype === "float32" && hasFusedInstanceNorm()) return fusedInstanceNorm(x, gamma, beta, eps, negativeSlope);
  return tf.tidy(() => {
    const axes = Array.from({ length: x.rank - 2 }, (_, i) => i + 1);
    const centered = tf.sub(x, tf.mean(x, axes, true));
    let scale = tf.rsqrt(tf.add(tf.mean(tf.square(centered), axes, true), eps));
    if (gamma) scale = tf.mul(scale, gamma);
    let y = tf.mul(centered, scale);
    if (beta) y = tf.add(y, beta);
    return negativeSlope === null ? y : leakyRelu(y, negativeSlope);
  });
}

/** nn.LeakyReLU(negativeSlope), nn.ReLU for 0. */
export function leakyRelu(x: tf.Tensor, negativeSlope: number): tf.Tensor {
  return negativeSlope === 0 ? tf.relu(x) : tf.leakyRelu(x, negativeSlope);
}

/** LayerNorm over the last axis (torch.nn.LayerNorm on tokens; LayerNormNd over channels in channels-last). */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), gamma), beta);
  });
}

/** nn.Linear with the weight kept in PyTorch's (out, in) layout. */
export function linear(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | null): tf.Tensor {
  return tf.tidy(() => {
    const lead = x.shape.slice(0, -1);
    const y = tf.matMul(tf.reshape(x, [-1, x.shape[x.rank - 1]!]), w, false, true);
    return tf.reshape(b ? tf.add(y, b) : y, [...lead, w.shape[0]!]);
  });
}

/** nn.GELU() default: the exact erf form, not the tanh approximation. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)));
}

/** nn.SiLU. */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

/**
 * AvgPoolNd(kernel=stride, stride=stride), no padding, channels-last. Computed as one mean per axis over a reshaped
 * view (each a contiguous (outer, s, inner) reduction, which backends do without transposes); a trailing remainder
 * is cropped first, which is the floor mode of PyTorch's pooling.
 */
export function avgPoolNd(x: tf.Tensor, stride: number[]): tf.Tensor {
  return tf.tidy(() => {
    const [n, ...rest] = x.shape;
    const c = rest[rest.length - 1]!;
    const spatial = rest.slice(0, -1);
    const out = spatial.map((d, i) => Math.floor(d / stride[i]!));
    let y = spatial.some((d, i) => d !== out[i]! * stride[i]!) ? tf.slice(x, 0, [n!, ...out.map((o, i) => o * stride[i]!), c]) : x;
    // Reduce the innermost spatial axis first: (.., o_i, s_i, [already pooled axes], C).
    let inner = c;
    for (let i = spatial.length - 1; i >= 0; i--) {
      const s = stride[i]!;
      if (s !== 1) y = tf.mean(tf.reshape(y, [-1, s, inner]), 1);
      inner *= out[i]!;
    }
    return tf.reshape(y, [n!, ...out, c]);
  });
}

/** NC* (PyTorch) -> N*C (ours). */
export function toChannelsLast(x: tf.Tensor): tf.Tensor {
  return tf.transpose(x, [0, ...Array.from({ length: x.rank - 2 }, (_, i) => i + 2), 1]);
}

/** N*C (ours) -> NC* (PyTorch). */
export function toChannelsFirst(x: tf.Tensor): tf.Tensor {
  return tf.transpose(x, [0, x.rank - 1, ...Array.from({ length: x.rank - 2 }, (_, i) => i + 1)]);
}

/**
 * Frees `t` now unless it is one of `borrowed` (tensors the caller still owns, such as a module's input that an
 * identity skip passed through). Modules call it on each intermediate after its last use, so inference holds only the
 * live tensors instead of every tensor of the pass until the enclosing tf.tidy ends. Under a gradient tape this is
 * safe too: tfjs keeps its own reference to whatever a gradient needs, so training keeps only those.
 */
export function release(t: tf.Tensor, ...borrowed: tf.Tensor[]): void {
  if (!borrowed.includes(t)) t.dispose();
}
