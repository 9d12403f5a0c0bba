import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../sdk/backend/index.js";
import { CheckpointError } from "../../sdk/errors.js";
import { TorchTensor } from "../../sdk/io/torch/tensor.js";
import { buildNetwork } from "../../sdk/networks/index.js";

const FIXTURES = new URL("../fixtures/forward/", import.meta.url).pathname;

interface KeyEntry {
  key: string;
  shape: number[];
  sum: number;
  alias_of?: string;
}

async function fixture(name: string) {
  const cfg = JSON.parse(await readFile(join(FIXTURES, name, "config.json"), "utf8")) as {
    class: string;
    kwargs: Record<string, unknown>;
    n_parameters: number;
  };
  const keys = JSON.parse(await readFile(join(FIXTURES, name, "state_dict_keys.json"), "utf8")) as KeyEntry[];
  const { input_channels, num_classes, deep_supervision, input_shape, ...archKwargs } = cfg.kwargs;
  const build = (seed: number) =>
    buildNetwork(
      { network_class_name: cfg.class, arch_kwargs: archKwargs },
      {
        inputChannels: input_channels as number,
        numClasses: num_classes as number,
        deepSupervision: deep_supervision === true,
        patchSize: input_shape as number[] | undefined,
        seed,
      },
    );
  return { cfg, keys, build };
}

beforeAll(async () => {
  await initBackend();
});

const NAMES = ["ResidualEncoderUNet_2ch", "PlainConvUNet_aniso", "Primus_tiny"];

describe.each(NAMES)("Network.stateDict() for fixture %s", (name) => {
  it("has PyTorch's keys, order and shapes, aliases sharing one tensor", async () => {
    const { keys, build } = await fixture(name);
    const net = build(1);
    const sd = net.stateDict();
    expect([...sd.keys()]).toEqual(keys.map((k) => k.key));
    for (const k of keys) {
      expect(sd.get(k.key)!.shape, k.key).toEqual(k.shape);
      if (k.alias_of) expect(sd.get(k.key), `${k.key} aliases ${k.alias_of}`).toBe(sd.get(k.alias_of));
      else expect(keys.filter((o) => o.alias_of === undefined && sd.get(o.key) === sd.get(k.key)).length, k.key).toBe(1);
    }
    net.dispose();
  });

  it("returns the loaded values after loadStateDict(path) (sums as in state_dict_keys.json)", async () => {
    const { keys, build } = await fixture(name);
    const net = build(2);
    await net.loadStateDict(join(FIXTURES, name, "state_dict.pth"));
    const sd = net.stateDict();
    for (const k of keys) {
      let s = 0;
      for (const v of sd.get(k.key)!.toFloat32()) s += v;
      expect(Math.abs(s - k.sum), k.key).toBeLessThan(1e-4 * Math.max(1, Math.abs(k.sum)));
    }
    // A second network loaded from the in-memory state dict reproduces every value.
    const other = build(3);
    await other.loadStateDict(sd);
    const back = other.stateDict();
    for (const k of keys) expect(back.get(k.key)!.toFloat32(), k.key).toEqual(sd.get(k.key)!.toFloat32());
    net.dispose();
    other.dispose();
  });
});

describe.each(NAMES)("Network.namedParameters() for fixture %s", (name) => {
  it("lists each parameter once under its first name, in state-dict order, totalling n_parameters", async () => {
    const { cfg, keys, build } = await fixture(name);
    const net = build(1);
    const named = net.namedParameters();
    const buffers = name === "Primus_tiny" ? ["mask_token"] : [];
    expect(named.map(([n]) => n)).toEqual(keys.filter((k) => !k.alias_of && !buffers.includes(k.key)).map((k) => k.key));
    expect(named.reduce((a, [, v]) => a + v.size, 0)).toBe(cfg.n_parameters);
    expect(net.numParameters()).toBe(cfg.n_parameters);
    expect(named.every(([, v]) => v.trainable)).toBe(true);
    net.dispose();
  });
});

describe("Network.loadStateDict(stateDict)", () => {
  it("names every mis-shaped, missing and unexpected key in one line", async () => {
    const { build } = await fixture("ResidualEncoderUNet_2ch");
    const net = build(1);
    const sd = new Map<string, unknown>(net.stateDict());
    sd.set("decoder.seg_layers.1.weight", TorchTensor.fromTypedArray(new Float32Array(3 * 8), [3, 8, 1, 1, 1]));
    sd.delete("decoder.transpconvs.0.bias");
    sd.set("decoder.extra.weight", TorchTensor.fromTypedArray(new Float32Array(1), [1]));
    await expect(net.loadStateDict(sd)).rejects.toThrow(CheckpointError);
    await expect(net.loadStateDict(sd)).rejects.toThrow(
      /missing keys: decoder\.transpconvs\.0\.bias; unexpected keys: decoder\.extra\.weight; size mismatch: decoder\.seg_layers\.1\.weight: Expected shape \[2, 8, 1, 1, 1\], but found \[3, 8, 1, 1, 1\]$/,
    );
    net.dispose();
  });

  it("drops DDP's module. and torch.compile's _orig_mod. prefixes", async () => {
    const { build } = await fixture("PlainConvUNet_aniso");
    const src = build(5);
    const sd = new Map([...src.stateDict()].map(([k, t]) => [`module._orig_mod.${k}`, t]));
    const net = build(6);
    await net.loadStateDict(sd);
    expect(net.stateDict().get("decoder.seg_layers.0.weight")!.toFloat32()).toEqual(src.stateDict().get("decoder.seg_layers.0.weight")!.toFloat32());
    src.dispose();
    net.dispose();
  });

  it("accepts a state dict without the all_modules / decoder.encoder aliases", async () => {
    const { build } = await fixture("PlainConvUNet_aniso");
    const src = build(5);
    const sd = new Map([...src.stateDict()].filter(([k]) => !k.includes("all_modules") && !k.startsWith("decoder.encoder.")));
    const net = build(6);
    await net.loadStateDict(sd);
    expect(net.stateDict().get("decoder.encoder.stages.2.0.convs.1.all_modules.0.weight")!.toFloat32()).toEqual(
      sd.get("encoder.stages.2.0.convs.1.conv.weight")!.toFloat32(),
    );
    src.dispose();
    net.dispose();
  });
});

describe("Network.loadStateDict(path)", () => {
  it("reads network_weights from an nnssl checkpoint (ResEncMini MAE network, 1 output channel)", async () => {
    const { loadTorchFile } = await import("../../sdk/io/torch/index.js");
    const file = new URL("../fixtures/nnssl/nnssl_ResEncMini.pth", import.meta.url).pathname;
    const ckpt = (await loadTorchFile(file)) as {
      network_weights: Record<string, TorchTensor>;
      nnssl_adaptation_plan: { architecture_plans: { arch_class_name: string; arch_kwargs: Record<string, unknown> } };
    };
    const arch = ckpt.nnssl_adaptation_plan.architecture_plans;
    const net = buildNetwork({ network_class_name: arch.arch_class_name, arch_kwargs: arch.arch_kwargs }, { inputChannels: 1, numClasses: 1, seed: 1 });
    await net.loadStateDict(file);
    const sd = net.stateDict();
    expect([...sd.keys()]).toEqual(Object.keys(ckpt.network_weights));
    for (const [k, t] of Object.entries(ckpt.network_weights))
      expect(Buffer.from(sd.get(k)!.toFloat32().buffer).equals(Buffer.from(t.toFloat32().slice().buffer)), k).toBe(true);
    net.dispose();
  });
});

describe("formatTorch(net.stateDict())", () => {
  it("writes each aliased parameter once and reads back into an identical network", async () => {
    const { formatTorch, parseTorch, orderedDict } = await import("../../sdk/io/torch/index.js");
    const { cfg, keys, build } = await fixture("ResidualEncoderUNet_2ch");
    const net = build(7);
    const sd = net.stateDict();
    const back = parseTorch(formatTorch(orderedDict(Object.fromEntries(sd)))) as Record<string, TorchTensor>;
    expect(Object.keys(back)).toEqual(keys.map((k) => k.key));
    expect(new Set(Object.values(back).map((t) => t.storage)).size).toBe((cfg as unknown as { n_distinct_storages: number }).n_distinct_storages);
    const other = build(8);
    await other.loadStateDict(back);
    for (const [k, t] of other.stateDict()) expect(t.toFloat32(), k).toEqual(sd.get(k)!.toFloat32());
    net.dispose();
    other.dispose();
  });
});
