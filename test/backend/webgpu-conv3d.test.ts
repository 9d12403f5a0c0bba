// Our tiled implicit-GEMM conv3d kernels for the `webgpu` backend (sdk/backend/webgpu-conv3d.ts) against tfjs' pure-JS
// cpu backend: forward, dx and dw within 1e-4 relative, on SwiftShader's software Vulkan (Debian's chromium package)
// where no GPU exists. Shapes are small (SwiftShader is slow) but cover every path: vec4 and scalar gathers (channel
// counts 1, 3, 4, 5, 32), every tiling (output channels 4 .. 64), strides 1 and 2, numeric / "same" / "valid" and
// anisotropic padding, batch 1 and 2, odd sizes, and transposed convolutions with kernel == stride and their gradients.
import { describe, expect, it } from "vitest";
import { tf } from "../../sdk/backend/index.js";
import { webgpuConv3dCallCounts } from "../../sdk/backend/webgpu-conv3d.js";
import { randomArray } from "./helpers.js";
import { useWebgpu, webgpuSkipReason } from "../helpers/webgpu.js";

// initBackend's webgpu registers these kernels (sdk/backend/webgpu.ts); the tests below run on it.
const unavailable = webgpuSkipReason;
if (!unavailable) await useWebgpu();

type Pad = number | "same" | "valid";
type Triple = [number, number, number];
type Shape5 = [number, number, number, number, number];

interface ConvCase {
  name: string;
  x: number[];
  /** [kd, kh, kw, Cin, Cout] */
  w: number[];
  strides: number | Triple;
  pad: Pad;
}

const CONV_CASES: ConvCase[] = [
  { name: "3x3x3 pad 1, Cin 4 -> Cout 8 (vec4 gathers)", x: [1, 6, 6, 6, 4], w: [3, 3, 3, 4, 8], strides: 1, pad: 1 },
  { name: "3x3x3 stride 2 pad 1, Cin 3 -> Cout 5, batch 2, odd sizes (scalar gathers)", x: [2, 7, 6, 5, 3], w: [3, 3, 3, 3, 5], strides: 2, pad: 1 },
  { name: "3x3x3 stride 2 'same', Cin 1 -> Cout 32 (first stage)", x: [1, 8, 7, 8, 1], w: [3, 3, 3, 1, 32], strides: 2, pad: "same" },
  { name: "3x3x3 pad 1, Cin 32 -> Cout 32", x: [1, 5, 6, 4, 32], w: [3, 3, 3, 32, 32], strides: 1, pad: 1 },
  { name: "3x3x3 'same', Cin 16 -> Cout 64, batch 2", x: [2, 4, 4, 5, 16], w: [3, 3, 3, 16, 64], strides: 1, pad: "same" },
  // dw's reduction (2 x 10 x 9 x 11 voxels) is split across 15 workgroup layers, the last one partly past the end.
  { name: "3x3x3 pad 1, Cin 4 -> Cout 8, long dw reduction (split-K)", x: [2, 10, 9, 11, 4], w: [3, 3, 3, 4, 8], strides: 1, pad: 1 },
  {
    name: "1x1x1, Cin 4 -> Cout 40 on 64 x 32 x 32 voxels (128 x 64 tiles of 8 x 4 blocks)",
    x: [1, 64, 32, 32, 4],
    w: [1, 1, 1, 4, 40],
    strides: 1,
    pad: "valid",
  },
  { name: "1x1x1, Cin 32 -> Cout 4 (segmentation head)", x: [2, 5, 5, 5, 32], w: [1, 1, 1, 32, 4], strides: 1, pad: "valid" },
  { name: "1x1x1 stride 2, Cin 5 -> Cout 3 (strided skip)", x: [2, 6, 5, 7, 5], w: [1, 1, 1, 5, 3], strides: 2, pad: "valid" },
  // tfjs' "same" on odd sizes pads (0, 1, 1) here, PyTorch's padding for this kernel; on even sizes it pads (0, 0..1, 0..1).
  { name: "(1,3,3) pads (0,1,1) strides (1,2,2), Cin 5 -> Cout 16", x: [1, 3, 7, 9, 5], w: [1, 3, 3, 5, 16], strides: [1, 2, 2], pad: "same" },
  { name: "(1,3,3) 'same' strides (1,2,2) on even sizes, Cin 4 -> Cout 12, batch 2", x: [2, 2, 6, 8, 4], w: [1, 3, 3, 4, 12], strides: [1, 2, 2], pad: "same" },
  { name: "(1,3,3) pad 1 strides (1,2,2), Cin 4 -> Cout 8", x: [1, 3, 5, 6, 4], w: [1, 3, 3, 4, 8], strides: [1, 2, 2], pad: 1 },
];

function convOutShape(c: ConvCase): number[] {
  return tf.backend_util.computeConv3DInfo(c.x as Shape5, c.w as Shape5, c.strides, 1, c.pad as "valid").outShape;
}

function conv(x: tf.Tensor5D, w: tf.Tensor5D, c: ConvCase): tf.Tensor5D {
  return tf.conv3d(x, w, c.strides, c.pad as "valid");
}

/** y = f(x, w) and the gradients of sum(y * dy) for a fixed random dy, on the current backend. */
function valueAndGrads(f: (x: tf.Tensor5D, w: tf.Tensor5D) => tf.Tensor5D, xShape: number[], wShape: number[], yShape: number[]): tf.Tensor[] {
  return tf.tidy(() => {
    const x = tf.tensor(randomArray(xShape, 1), xShape as Shape5) as tf.Tensor5D;
    const w = tf.tensor(randomArray(wShape, 2), wShape as Shape5) as tf.Tensor5D;
    const dy = tf.tensor(randomArray(yShape, 3), yShape as Shape5) as tf.Tensor5D;
    const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => f(a as tf.Tensor5D, b as tf.Tensor5D))([x, w], dy);
    return [value, grads[0]!, grads[1]!];
  });
}

/** Runs `fn` on the cpu backend and on webgpu; returns both results' values (read asynchronously: webgpu in Node has no dataSync). */
async function onCpuAndWebgpu(fn: () => tf.Tensor[]): Promise<{ ref: Float32Array[]; gpu: Float32Array[] }> {
  const values = async (backend: string): Promise<Float32Array[]> => {
    await tf.setBackend(backend);
    (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
    const tensors = fn();
    const out = await Promise.all(tensors.map((t) => t.data() as Promise<Float32Array>));
    tf.dispose(tensors);
    return out;
  };
  const ref = await values("cpu");
  return { ref, gpu: await values("webgpu") };
}

function expectClose(gpu: Float32Array, ref: Float32Array, what: string): void {
  expect(gpu.length, what).toBe(ref.length);
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    scale = Math.max(scale, Math.abs(ref[i]!));
    worst = Math.max(worst, Math.abs(gpu[i]! - ref[i]!));
  }
  expect(scale, `${what}: reference is all zeros, the case tests nothing`).toBeGreaterThan(0);
  expect(worst / scale, `${what}: max |webgpu - cpu| / max |cpu|`).toBeLessThan(1e-4);
}

const counts = (): number[] => ["Conv3D", "Conv3DBackpropInputV2", "Conv3DBackpropFilterV2"].map((k) => webgpuConv3dCallCounts.get(k) ?? 0);

describe.skipIf(unavailable !== null)("webgpu conv3d kernels (tiled implicit GEMM)", () => {
  for (const c of CONV_CASES) {
    it(`${c.name}: forward, dx and dw equal the cpu backend's`, async () => {
      const before = counts();
      const splitsBefore = webgpuConv3dCallCounts.get("Conv3DBackpropFilterV2 split-K") ?? 0;
      const { ref, gpu } = await onCpuAndWebgpu(() => valueAndGrads((x, w) => conv(x, w, c), c.x, c.w, convOutShape(c)));
      // Our three kernels ran (once each), not tfjs' naive ones.
      expect(counts().map((n, i) => n - before[i]!)).toEqual([1, 1, 1]);
      if (c.name.includes("split-K")) expect(webgpuConv3dCallCounts.get("Conv3DBackpropFilterV2 split-K") ?? 0).toBe(splitsBefore + 1);
      ["y", "dx", "dw"].forEach((what, i) => expectClose(gpu[i]!, ref[i]!, `${c.name} ${what}`));
    }, 120_000);
  }

  const TRANSPOSED: { name: string; x: number[]; w: number[]; kernel: Triple }[] = [
    { name: "kernel = stride (2,2,2), 8 -> 4 channels, batch 2", x: [2, 3, 3, 2, 8], w: [2, 2, 2, 4, 8], kernel: [2, 2, 2] },
    { name: "kernel = stride (1,2,2), 5 -> 3 channels", x: [1, 3, 4, 3, 5], w: [1, 2, 2, 3, 5], kernel: [1, 2, 2] },
    { name: "kernel = stride (2,2,2), 32 -> 32 channels", x: [1, 2, 3, 3, 32], w: [2, 2, 2, 32, 32], kernel: [2, 2, 2] },
  ];
  for (const c of TRANSPOSED) {
    it(`conv3dTranspose ${c.name}: value and gradients equal the cpu backend's`, async () => {
      const [n, d, h, w] = c.x as Shape5;
      const shape: Shape5 = [n, d * c.kernel[0], h * c.kernel[1], w * c.kernel[2], c.w[3]!];
      const transposed = (x: tf.Tensor5D, filter: tf.Tensor5D): tf.Tensor5D => tf.conv3dTranspose(x, filter, shape, c.kernel, "valid");
      const before = counts();
      const { ref, gpu } = await onCpuAndWebgpu(() => valueAndGrads(transposed, c.x, c.w, shape));
      // The transposed conv is Conv3DBackpropInputV2; its gradient (sdk/backend/gradients.ts) runs Conv3D for dx and
      // Conv3DBackpropFilterV2 for dw.
      expect(counts().map((n, i) => n - before[i]!)).toEqual([1, 1, 1]);
      ["y", "dx", "dw"].forEach((what, i) => expectClose(gpu[i]!, ref[i]!, `transposed ${c.name} ${what}`));
    }, 120_000);
  }

  it("frees every temporary buffer (the transposed filter, dw's partial sums)", async () => {
    await tf.setBackend("webgpu");
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const step = async () => {
      // The split-K case above: dw goes through partial sums.
      const out = valueAndGrads((x, w) => tf.conv3d(x, w, 1, 1 as unknown as "valid"), [2, 10, 9, 11, 4], [3, 3, 3, 4, 8], [2, 10, 9, 11, 8]);
      await Promise.all(out.map((t) => t.data()));
      tf.dispose(out);
    };
    await step();
    const buffers = backend.numDataIds();
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await step();
    expect(backend.numDataIds()).toBe(buffers);
    expect(tf.memory().numTensors).toBe(tensors);
  }, 120_000);

  it("leaves dilated convolutions to tfjs' own kernel", async () => {
    const before = counts();
    const f = (): tf.Tensor[] =>
      tf.tidy(() => {
        const x = tf.tensor(randomArray([1, 5, 5, 5, 2], 4), [1, 5, 5, 5, 2]) as tf.Tensor5D;
        const w = tf.tensor(randomArray([3, 3, 3, 2, 3], 5), [3, 3, 3, 2, 3]) as tf.Tensor5D;
        return [tf.conv3d(x, w, 1, "same", "NDHWC", 2)];
      });
    const { ref, gpu } = await onCpuAndWebgpu(f);
    expect(counts()[0]).toBe(before[0]);
    expectClose(gpu[0]!, ref[0]!, "dilated conv3d");
  }, 120_000);
});
