// `cpu-onednn` kernels of the fused instance norm (+ activation) op declared in sdk/backend/fused-norm.ts, running in
// native/src/instance-norm.cc. There is no pure-JS kernel behind them: on other backends the op is never called.

import * as tf from "@tensorflow/tfjs";
import { INSTANCE_NORM, INSTANCE_NORM_GRAD } from "./fused-norm.js";
import { addon, f32, outputF32, size, type CpuBackend, type TensorInfo } from "./onednn-addon.js";

function values(backend: CpuBackend, t: TensorInfo, what: string): Float32Array {
  const v = f32(backend, t);
  if (!v) throw new Error(`${INSTANCE_NORM}: ${what} must be a float32 tensor (got ${t.dtype})`);
  return v;
}

/** [N, S, C] of a channels-last tensor [N, ...spatial, C]. */
function dims(x: TensorInfo): [number, number, number] {
  if (x.shape.length < 3) throw new Error(`${INSTANCE_NORM}: x must be [N, ...spatial, C], got shape [${x.shape}]`);
  return [x.shape[0]!, size(x.shape.slice(1, -1)), x.shape.at(-1)!];
}

function checkChannels(t: TensorInfo, c: number, what: string): void {
  if (size(t.shape) !== c) throw new Error(`${INSTANCE_NORM}: ${what} must have ${c} elements (one per channel), got shape [${t.shape}]`);
}

const forward: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, gamma, beta } = inputs as Record<string, TensorInfo>;
  const b = backend as unknown as CpuBackend;
  const [n, s, c] = dims(x!);
  checkChannels(gamma!, c, "gamma");
  checkChannels(beta!, c, "beta");
  const { eps, slope } = attrs as unknown as { eps: number; slope: number };
  const y = outputF32(n * s * c),
    mean = new Float32Array(n * c),
    rstd = new Float32Array(n * c);
  addon().instanceNormForward([n, s, c], eps, slope, values(b, x!, "x"), values(b, gamma!, "gamma"), values(b, beta!, "beta"), y, mean, rstd);
  return [b.makeTensorInfo(x!.shape, "float32", y), b.makeTensorInfo([n, c], "float32", mean), b.makeTensorInfo([n, c], "float32", rstd)];
};

const backward: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, x, y, mean, rstd, gamma } = inputs as Record<string, TensorInfo>;
  const b = backend as unknown as CpuBackend;
  const [n, s, c] = dims(x!);
  const { slope } = attrs as unknown as { slope: number };
  const dx = outputF32(n * s * c),
    dgamma = new Float32Array(c),
    dbeta = new Float32Array(c);
  addon().instanceNormBackward(
    [n, s, c],
    slope,
    values(b, dy!, "dy"),
    values(b, x!, "x"),
    values(b, y!, "y"),
    values(b, mean!, "mean"),
    values(b, rstd!, "rstd"),
    values(b, gamma!, "gamma"),
    dx,
    dgamma,
    dbeta,
  );
  return [b.makeTensorInfo(x!.shape, "float32", dx), b.makeTensorInfo(gamma!.shape, "float32", dgamma), b.makeTensorInfo(gamma!.shape, "float32", dbeta)];
};

/** Registers both fused kernels for `backendName`. */
export function registerNormKernels(backendName: string): void {
  tf.registerKernel({ kernelName: INSTANCE_NORM, backendName, kernelFunc: forward });
  tf.registerKernel({ kernelName: INSTANCE_NORM_GRAD, backendName, kernelFunc: backward });
}
