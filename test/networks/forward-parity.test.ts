import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { backendInfo, initBackend, tf } from "../../sdk/backend/index.js";
import { useWebgpu, webgpuSkipReason } from "../helpers/webgpu.js";
import { parseNpy } from "../../sdk/io/npy.js";
import { EvaAttention } from "../../sdk/networks/eva-block.js";
import { buildNetwork } from "../../sdk/networks/index.js";

const FIXTURES = new URL("../fixtures/forward/", import.meta.url).pathname;

interface ForwardConfig {
  class: string;
  kwargs: Record<string, unknown>;
  n_parameters: number;
  n_state_dict_keys: number;
  outputs: { file: string; shape: number[] }[];
}

/** The fixture's constructor kwargs as a plans architecture block plus the build options buildNetwork takes. */
async function fixtureNetwork(name: string) {
  const cfg = JSON.parse(await readFile(join(FIXTURES, name, "config.json"), "utf8")) as ForwardConfig;
  const { input_channels, num_classes, deep_supervision, input_shape, ...archKwargs } = cfg.kwargs;
  const net = buildNetwork(
    { network_class_name: cfg.class, arch_kwargs: archKwargs, _kw_requires_import: ["conv_op", "norm_op", "dropout_op", "nonlin"] },
    {
      inputChannels: input_channels as number,
      numClasses: num_classes as number,
      deepSupervision: deep_supervision === true,
      patchSize: input_shape as number[] | undefined,
      seed: 1,
    },
  );
  return { cfg, net };
}

/** Copies the file into a plain Uint8Array first: parseNpy's slice() does not copy a Node Buffer. */
async function readNpyFile(file: string) {
  return parseNpy(new Uint8Array(await readFile(file)), file);
}

function maxAbsDiff(a: Float32Array, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

beforeAll(async () => {
  await initBackend();
});

/** Runs the fixture's network on its input and compares every output with PyTorch's, on the active backend. */
async function expectFixtureOutputs(name: string): Promise<void> {
  const { cfg, net } = await fixtureNetwork(name);
  await net.loadStateDict(join(FIXTURES, name, "state_dict.pth"));
  const input = await readNpyFile(join(FIXTURES, name, "input.npy"));
  const x = tf.tensor<tf.Rank>(input.data as Float32Array, input.shape) as tf.Tensor5D;
  const out = net.forward(x);
  const outs = Array.isArray(out) ? out : [out];
  expect(outs.length).toBe(cfg.outputs.length);
  for (const [i, ref] of cfg.outputs.entries()) {
    const expected = await readNpyFile(join(FIXTURES, name, ref.file));
    expect(outs[i]!.shape).toEqual(ref.shape);
    const diff = maxAbsDiff((await outs[i]!.data()) as Float32Array, expected.data as Float32Array);
    console.log(`${name} output_${i} on ${tf.getBackend()}: max abs diff ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-4);
  }
  tf.dispose([x, ...outs]);
  net.dispose();
}

const FIXTURE_NAMES = ["ResidualEncoderUNet_2ch", "PlainConvUNet_aniso", "Primus_tiny"];

describe.each(FIXTURE_NAMES)("Network.forward(x) on fixture %s", (name) => {
  it("matches PyTorch's eval outputs within 1e-4 for every deep-supervision output", async () => {
    await initBackend();
    await expectFixtureOutputs(name);
  });
});

describe.skipIf(webgpuSkipReason !== null).each(FIXTURE_NAMES)("Network.forward(x) on the webgpu backend, fixture %s", (name) => {
  it("matches PyTorch's eval outputs within 1e-4 for every deep-supervision output", async () => {
    await useWebgpu();
    try {
      await expectFixtureOutputs(name);
    } finally {
      await initBackend();
      await tf.setBackend((await backendInfo()).name);
    }
  });
});

describe("Network.forward(x) with head-by-head attention", () => {
  it("gives Primus_tiny the same output as the batched attention", async () => {
    const { net } = await fixtureNetwork("Primus_tiny");
    const x = tf.randomNormal([2, 1, 32, 32, 32], 0, 1, "float32", 8);
    const batched = net.forward(x) as tf.Tensor;
    const saved = EvaAttention.maxBatchedScores;
    EvaAttention.maxBatchedScores = 0;
    try {
      const perHead = net.forward(x) as tf.Tensor;
      expect(tf.max(tf.abs(tf.sub(batched, perHead))).dataSync()[0]).toBeLessThan(1e-6);
    } finally {
      EvaAttention.maxBatchedScores = saved;
    }
    net.dispose();
  });
});
