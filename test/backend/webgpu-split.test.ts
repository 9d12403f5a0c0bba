// Work over the storage-binding limit runs in pieces (sdk/backend/webgpu-split.ts): conv3d forward and both backprops,
// the fused instance norm forward and backward, and the elementwise kernels. The limit is lowered for the test
// (setWebgpuBindingLimitForTests) so that small tensors on SwiftShader take the split paths; each result is compared
// with the same computation run whole on the same backend within 1e-5. Shapes cover aligned pieces (bound as views of
// the buffer) and unaligned ones (copied), strides 1 and 2, batch 2 and transposed convolutions.
import { afterEach, describe, expect, it } from "vitest";
import { tf } from "../../sdk/backend/index.js";
import { fusedInstanceNorm } from "../../sdk/backend/fused-norm.js";
import { webgpuConv3dCallCounts } from "../../sdk/backend/webgpu-conv3d.js";
import { GpuLimitError, setWebgpuBindingLimitForTests } from "../../sdk/backend/webgpu-split.js";
import { randomArray } from "./helpers.js";
import { relativeError, useWebgpu, webgpuSkipReason } from "../helpers/webgpu.js";

const unavailable = webgpuSkipReason;
if (!unavailable) await useWebgpu();

type Shape5 = [number, number, number, number, number];

/** Values of what `fn` returns, run whole and then with every binding limited to `limit` bytes. */
async function wholeAndSplit(limit: number, fn: () => tf.Tensor[]): Promise<{ whole: Float32Array[]; split: Float32Array[] }> {
  const run = async (l: number | null) => {
    setWebgpuBindingLimitForTests(l);
    const ts = tf.tidy(fn);
    const out = await Promise.all(ts.map(async (t) => Float32Array.from((await t.data()) as Float32Array)));
    tf.dispose(ts);
    return out;
  };
  const whole = await run(null);
  const split = await run(limit);
  setWebgpuBindingLimitForTests(null);
  return { whole, split };
}

function grads(f: (x: tf.Tensor, w: tf.Tensor) => tf.Tensor, xShape: number[], wShape: number[], yShape: number[]): tf.Tensor[] {
  const x = tf.tensor(randomArray(xShape, 1), xShape);
  const w = tf.tensor(randomArray(wShape, 2), wShape);
  const dy = tf.tensor(randomArray(yShape, 3), yShape);
  const { value, grads: g } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => f(a, b))([x, w], dy);
  return [value, g[0]!, g[1]!];
}

const pieces = (): number[] =>
  ["Conv3D pieces", "Conv3DBackpropInputV2 pieces", "Conv3DBackpropFilterV2 pieces"].map((k) => webgpuConv3dCallCounts.get(k) ?? 0);

describe.skipIf(unavailable !== null)("webgpu: work over the binding limit runs in pieces", () => {
  afterEach(() => setWebgpuBindingLimitForTests(null));

  const CASES: { name: string; x: Shape5; w: Shape5; strides: number; pad: number; limit: number }[] = [
    // 8 x 8 x 4 planes (256 floats): pieces are views of the buffers; 16 KiB input in 8 KiB bindings.
    { name: "3x3x3 pad 1, batch 2, aligned pieces", x: [2, 8, 8, 8, 4], w: [3, 3, 3, 4, 8], strides: 1, pad: 1, limit: 8192 },
    // 5 x 6 x 3 planes (90 floats): pieces start off the 256-byte alignment and are copied.
    { name: "3x3x3 stride 2 pad 1, batch 2, odd sizes, unaligned pieces", x: [2, 7, 5, 6, 3], w: [3, 3, 3, 3, 5], strides: 2, pad: 1, limit: 2048 },
  ];
  for (const c of CASES) {
    it(`conv3d ${c.name}: forward, dx and dw equal the whole run`, async () => {
      const yShape = tf.backend_util.computeConv3DInfo(c.x, c.w, c.strides, 1, c.pad as unknown as "valid").outShape;
      const before = pieces();
      const { whole, split } = await wholeAndSplit(c.limit, () =>
        grads((x, w) => tf.conv3d(x as tf.Tensor5D, w as tf.Tensor5D, c.strides, c.pad as unknown as "valid"), c.x, c.w, yShape),
      );
      expect(pieces().map((n, i) => n - before[i]!)).toEqual([1, 1, 1]);
      ["y", "dx", "dw"].forEach((what, i) => expect(relativeError(split[i]!, whole[i]!), what).toBeLessThan(1e-5));
    }, 300_000);
  }

  it("conv3dTranspose kernel = stride 2 (dx by stride phases) and its gradients equal the whole run", async () => {
    const xShape = [1, 4, 4, 4, 8];
    const wShape = [2, 2, 2, 4, 8];
    const yShape: Shape5 = [1, 8, 8, 8, 4];
    const before = pieces();
    const { whole, split } = await wholeAndSplit(2048, () =>
      grads((x, w) => tf.conv3dTranspose(x as tf.Tensor5D, w as tf.Tensor5D, yShape, 2, "valid"), xShape, wShape, yShape),
    );
    // The transposed conv is dx; its input gradient is a forward conv and its filter gradient dw.
    expect(pieces().map((n, i) => n - before[i]!)).toEqual([1, 1, 1]);
    ["y", "dx", "dw"].forEach((what, i) => expect(relativeError(split[i]!, whole[i]!), what).toBeLessThan(1e-5));
  }, 300_000);

  it("the fused instance norm + LeakyReLU, forward and backward, equals the whole run", async () => {
    const shape = [2, 6, 5, 7, 8];
    const { whole, split } = await wholeAndSplit(1024, () => {
      const x = tf.tensor(randomArray(shape, 4), shape).mul(3).add(5);
      const g = tf.tensor(randomArray([8], 5), [8]);
      const b = tf.tensor(randomArray([8], 6), [8]);
      const dy = tf.tensor(randomArray(shape, 7), shape);
      const { value, grads: gr } = tf.valueAndGrads((a: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => fusedInstanceNorm(a, gg, bb, 1e-5, 0.01))([x, g, b], dy);
      return [value, ...gr];
    });
    ["y", "dx", "dgamma", "dbeta"].forEach((what, i) => expect(relativeError(split[i]!, whole[i]!), what).toBeLessThan(1e-5));
  }, 300_000);

  it("elementwise kernels (bias add, LeakyReLU, product, scalar ops) equal the whole run", async () => {
    const shape = [2, 4, 6, 5, 8];
    const { whole, split } = await wholeAndSplit(1024, () => {
      const x = tf.tensor(randomArray(shape, 8), shape);
      const y = tf.tensor(randomArray(shape, 9), shape);
      const bias = tf.tensor(randomArray([8], 10), [8]);
      return [x.add(bias), tf.leakyRelu(x, 0.01), x.mul(y), x.sub(y).square().mul(0.5), tf.exp(x.neg())];
    });
    whole.forEach((w, i) => expect(relativeError(split[i]!, w), `output ${i}`).toBeLessThan(1e-5));
  }, 300_000);

  it("an op that is not split ends in one line naming the shape, the limit and what to change", async () => {
    setWebgpuBindingLimitForTests(1024);
    const x = tf.tensor(randomArray([2, 4, 6, 5, 8], 11), [2, 4, 6, 5, 8]);
    try {
      expect(() => tf.transpose(x, [0, 4, 1, 2, 3])).toThrow(GpuLimitError);
      expect(() => tf.transpose(x, [0, 4, 1, 2, 3])).toThrow(
        /a tensor of shape \[2, 4, 6, 5, 8\] \(\d+\.\d+ MiB, in TransposeProgram, which is not split\) exceeds .*maxStorageBufferBindingSize \d+\.\d+ MiB\); reduce the patch size or the batch size/,
      );
    } finally {
      x.dispose();
    }
  });

  it("a tensor larger than maxBufferSize is refused before anything runs", () => {
    const kernel = tf.getKernel("Conv3D", "webgpu")!;
    const real = tf.backend() as unknown as { device: { limits: object } };
    // The real backend with 1 MiB bindings and 1 MiB buffers: the 2 MiB output cannot exist at all.
    const limits = {
      maxStorageBufferBindingSize: 1 << 20,
      maxBufferSize: 1 << 20,
      maxComputeWorkgroupsPerDimension: 65535,
      minStorageBufferOffsetAlignment: 256,
    };
    const small = Object.create(real, { device: { value: { limits } } });
    const x = { dataId: {}, shape: [1, 8, 64, 64, 16], dtype: "float32" } as tf.TensorInfo;
    const filter = { dataId: {}, shape: [3, 3, 3, 16, 16], dtype: "float32" } as tf.TensorInfo;
    const run = () => kernel.kernelFunc({ inputs: { x, filter }, backend: small, attrs: { strides: 1, pad: "same", dilations: 1 } });
    expect(run).toThrow(
      /shape \[1, 8, 64, 64, 16\] \(2 MiB, in conv3d\) exceeds this GPU's largest buffer \(maxBufferSize 1 MiB\); reduce the patch size or the batch size/,
    );
  });

  it("frees every piece (views, copies, partial sums)", async () => {
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const step = async () => {
      const out = tf.tidy(() =>
        grads((x, w) => tf.conv3d(x as tf.Tensor5D, w as tf.Tensor5D, 2, 1 as unknown as "valid"), [2, 7, 5, 6, 3], [3, 3, 3, 3, 5], [2, 4, 3, 3, 5]),
      );
      await Promise.all(out.map((t) => t.data()));
      tf.dispose(out);
    };
    setWebgpuBindingLimitForTests(2048);
    await step();
    const ids = backend.numDataIds();
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await step();
    expect(backend.numDataIds()).toBe(ids);
    expect(tf.memory().numTensors).toBe(tensors);
  }, 300_000);
});
