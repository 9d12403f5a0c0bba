import { beforeAll, describe, it, expect } from "vitest";
import { initBackend, tf } from "../../sdk/backend/index.js";
import { SGD, AdamW, clipGradNorm } from "../../sdk/training/optimizers.js";
import type { TorchTensor } from "../../sdk/io/torch/index.js";
import { runPythonJson, pythonSkipReason } from "../helpers/python.js";
import { tinyResEncArch } from "../helpers/networks.js";

// The backend the SDK itself picks (cpu-onednn when the addon is built), so the native kernels are what is checked.
beforeAll(async () => {
  await initBackend();
});

const skip = pythonSkipReason(["torch"]);

const p0 = [0.5, -1.25, 2, 0.1, -0.3, 0.7];
const grads = [
  [0.1, -0.2, 0.3, 0.05, 0, -0.4],
  [-0.3, 0.1, 0.2, 0.2, -0.1, 0.05],
  [0.02, 0.4, -0.1, 0, 0.3, 0.1],
];

function runOurs(make: (v: tf.Variable[]) => SGD | AdamW, lrs: number[]) {
  const v = tf.variable(tf.tensor(p0, [2, 3]));
  const opt = make([v]);
  grads.forEach((g, k) => {
    opt.lr = lrs[k]!;
    const t = tf.tensor(g, [2, 3]);
    opt.step([t]);
    t.dispose();
  });
  return { values: Array.from(v.dataSync()), sd: opt.stateDict() };
}

describe("SGD(momentum 0.99, nesterov, wd 3e-5)", () => {
  it("first step: buf = g + wd*p, p -= lr*(g + m*buf)", () => {
    const v = tf.variable(tf.tensor([1], [1]));
    const opt = new SGD([v], { lr: 0.1, momentum: 0.99, weightDecay: 0.5 });
    opt.step([tf.tensor([2], [1])]);
    const g = 2 + 0.5;
    expect(v.dataSync()[0]).toBeCloseTo(1 - 0.1 * (g + 0.99 * g), 6);
    const sd = opt.stateDict();
    expect(sd.param_groups[0]!.params).toEqual([0]);
    expect(Object.keys(sd.param_groups[0]!)).toEqual([
      "lr",
      "momentum",
      "dampening",
      "weight_decay",
      "nesterov",
      "maximize",
      "foreach",
      "differentiable",
      "fused",
      "initial_lr",
      "params",
    ]);
  });

  it.skipIf(skip !== null)(`matches torch.optim.SGD over 3 steps with changing lr ${skip ?? ""}`, () => {
    const lrs = [0.01, 0.02, 0.005];
    const ours = runOurs((v) => new SGD(v, { lr: 0.01, momentum: 0.99, weightDecay: 3e-5, nesterov: true }), lrs);
    const ref = runPythonJson<{ p: number[]; buf: number[] }>(
      `
import json, sys, torch
d = json.loads(sys.stdin.read())
p = torch.nn.Parameter(torch.tensor(d["p0"]).reshape(2, 3))
opt = torch.optim.SGD([p], lr=0.01, weight_decay=3e-5, momentum=0.99, nesterov=True)
for g, lr in zip(d["grads"], d["lrs"]):
    opt.param_groups[0]["lr"] = lr
    p.grad = torch.tensor(g).reshape(2, 3)
    opt.step()
print(json.dumps({"p": p.detach().flatten().tolist(), "buf": opt.state[p]["momentum_buffer"].flatten().tolist()}))
`,
      [],
      { input: JSON.stringify({ p0, grads, lrs }) },
    );
    ours.values.forEach((x, i) => expect(x).toBeCloseTo(ref.p[i]!, 6));
    const buf = (ours.sd.state.get(0)!.momentum_buffer as { toFloat32(): Float32Array }).toFloat32();
    Array.from(buf).forEach((x, i) => expect(x).toBeCloseTo(ref.buf[i]!, 6));
  });

  it("loadStateDict restores the momentum buffer so the next step matches the uninterrupted optimizer", () => {
    const v = tf.variable(tf.tensor(p0, [2, 3]));
    const opt = new SGD([v], { lr: 0.01 });
    for (const g of grads) opt.step([tf.tensor(g, [2, 3])]);
    const v2 = tf.variable(tf.tensor(Array.from(v.dataSync()), [2, 3]));
    const opt2 = new SGD([v2], { lr: 0.5 });
    opt2.loadStateDict(opt.stateDict());
    expect(opt2.lr).toBeCloseTo(0.01, 12);
    opt.step([tf.tensor(grads[0]!, [2, 3])]);
    opt2.step([tf.tensor(grads[0]!, [2, 3])]);
    Array.from(v2.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(v.dataSync()[i]!, 6));
    const fresh = tf.variable(tf.tensor(p0, [2, 3]));
    new SGD([fresh], { lr: 0.01 }).step([null]);
    expect(Array.from(fresh.dataSync())).toEqual(Array.from(Float32Array.from(p0)));
  });
});

describe("AdamW(betas 0.9/0.98, wd 5e-2)", () => {
  it.skipIf(skip !== null)(`matches torch.optim.AdamW over 3 steps ${skip ?? ""}`, () => {
    const lrs = [1e-3, 2e-3, 5e-4];
    const ours = runOurs((v) => new AdamW(v, { lr: 1e-3, betas: [0.9, 0.98], weightDecay: 5e-2 }), lrs);
    const ref = runPythonJson<{ p: number[] }>(
      `
import json, sys, torch
d = json.loads(sys.stdin.read())
p = torch.nn.Parameter(torch.tensor(d["p0"]).reshape(2, 3))
opt = torch.optim.AdamW([p], lr=1e-3, weight_decay=5e-2, betas=(0.9, 0.98))
for g, lr in zip(d["grads"], d["lrs"]):
    opt.param_groups[0]["lr"] = lr
    p.grad = torch.tensor(g).reshape(2, 3)
    opt.step()
print(json.dumps({"p": p.detach().flatten().tolist()}))
`,
      [],
      { input: JSON.stringify({ p0, grads, lrs }) },
    );
    ours.values.forEach((x, i) => expect(x).toBeCloseTo(ref.p[i]!, 6));
  });
});

describe("clipGradNorm", () => {
  it("scales by maxNorm / (norm + 1e-6) only when the norm exceeds maxNorm", () => {
    const g = [tf.tensor([3, 0]), tf.tensor([4])];
    const { grads: out, totalNorm } = clipGradNorm(g, 1);
    expect(totalNorm).toBeCloseTo(5, 6);
    expect(out[0]!.dataSync()[0]).toBeCloseTo(3 / (5 + 1e-6), 6);
    const { grads: same } = clipGradNorm([tf.tensor([0.3])], 12);
    expect(same[0]!.dataSync()[0]).toBeCloseTo(0.3, 7);
  });
});

describe("SGD.stateDict() with parameter layouts", () => {
  it("writes momentum buffers in PyTorch's shape and order and reads them back", async () => {
    const { buildNetwork } = await import("../../sdk/networks/index.js");
    const net = buildNetwork(
      tinyResEncArch(
        [
          [3, 3, 3],
          [3, 3, 3],
        ],
        [
          [1, 1, 1],
          [2, 2, 2],
        ],
      ),
      { inputChannels: 1, numClasses: 2, deepSupervision: false, seed: 3 },
    );
    const named = net.namedParameters();
    const params = named.map(([, v]) => v);
    const opt = new SGD(params, { lr: 0.1, layouts: net.parameterLayouts() });
    const shapes = net.stateDict(); // weights before the step, in PyTorch's layout
    opt.step(params.map((p, i) => tf.fill(p.shape, i + 1)));
    const sd = opt.stateDict();
    named.forEach(([name], i) => expect((sd.state.get(i)!.momentum_buffer as TorchTensor).shape, name).toEqual(shapes.get(name)!.shape));
    // A conv weight's buffer holds g = grad + wd*p, permuted like the weight itself.
    const stem = named.findIndex(([n]) => n === "encoder.stem.convs.0.conv.weight");
    const buf = (sd.state.get(stem)!.momentum_buffer as TorchTensor).toFloat32();
    const w = shapes.get("encoder.stem.convs.0.conv.weight")!.toFloat32();
    buf.forEach((b, k) => expect(b).toBeCloseTo(stem + 1 + 3e-5 * w[k]!, 5));
    const back = new SGD(params, { lr: 0.1, layouts: net.parameterLayouts() });
    back.loadStateDict(sd);
    expect(back.stateDict().state.get(stem)!.momentum_buffer).toEqual(sd.state.get(stem)!.momentum_buffer);
  });
});
