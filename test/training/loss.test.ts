import { beforeAll, describe, it, expect } from "vitest";
import { initBackend, tf } from "../../sdk/backend/index.js";
import { dcAndCeLoss, dcAndBceLoss, deepSupervisionWeights, deepSupervisionLoss, oneHotLabels } from "../../sdk/training/loss.js";
import { RandomState } from "../../sdk/util/random-state.js";
import { runPythonJson, pythonSkipReason } from "../helpers/python.js";

// The backend the SDK itself picks (cpu-onednn when the addon is built), so the native kernels are what is checked.
beforeAll(async () => {
  await initBackend();
});

function randomCase(seed: number, shape: number[], numLabels: number) {
  const rs = new RandomState(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const logits = Float32Array.from({ length: n }, () => rs.uniform(-3, 3));
  const tShape = [shape[0]!, 1, ...shape.slice(2)];
  const seg = Int16Array.from({ length: n / shape[1]! }, () => rs.randint(0, numLabels));
  return { logits, seg, tShape };
}

describe("dcAndCeLoss", () => {
  it("matches a hand computation on 2 voxels, 2 classes", () => {
    // voxel 0: logits (0, 0), label 1; voxel 1: logits (0, ln 3), label 0.
    const logits = tf.tensor([0, 0, 0, Math.log(3)], [1, 2, 2]);
    const loss = dcAndCeLoss({ batchDice: false })(logits, { data: Int16Array.from([1, 0]), shape: [1, 1, 2] });
    const ce = (-Math.log(0.5) - Math.log(0.25)) / 2;
    const p1 = [0.5, 0.75];
    const dc = (2 * p1[0]! + 1e-5) / (1 + (p1[0]! + p1[1]!) + 1e-5);
    expect(loss.dataSync()[0]).toBeCloseTo(ce - dc, 6);
  });

  it("ignores voxels with the ignore label in both terms", () => {
    const logits = tf.tensor([0, 5, 0, 0, 2, Math.log(3)], [1, 2, 3]);
    const withIgnore = dcAndCeLoss({ batchDice: false, ignoreLabel: 2 })(logits, { data: Int16Array.from([1, 2, 0]), shape: [1, 1, 3] });
    const logits2 = tf.tensor([0, 0, 0, Math.log(3)], [1, 2, 2]);
    const without = dcAndCeLoss({ batchDice: false })(logits2, { data: Int16Array.from([1, 0]), shape: [1, 1, 2] });
    expect(withIgnore.dataSync()[0]).toBeCloseTo(without.dataSync()[0]!, 6);
  });

  it("oneHotLabels zeroes ignored voxels and counts annotated ones", () => {
    const r = oneHotLabels({ data: Int16Array.from([0, 2, 1]), shape: [1, 1, 3] }, 2, 2);
    expect(Array.from(r.y)).toEqual([1, 0, 0, 0, 0, 1]);
    expect(Array.from(r.mask!)).toEqual([1, 0, 1]);
    expect(r.annotated).toBe(2);
  });

  const skip = pythonSkipReason(["torch"]);
  it.skipIf(skip !== null).each([
    [false, null],
    [true, null],
    [false, 3],
    [true, 3],
  ] as const)(`matches torch (batch_dice %s, ignore %s) ${skip ?? ""}`, (batchDice, ignore) => {
    const shape = [2, 3, 4, 5, 6];
    const { logits, seg, tShape } = randomCase(7, shape, ignore === null ? 3 : 4);
    const ours = dcAndCeLoss({ batchDice, ignoreLabel: ignore })(tf.tensor(logits, shape), { data: seg, shape: tShape }).dataSync()[0]!;
    const ref = runPythonJson<number>(
      `
import json, sys, torch
d = json.loads(sys.stdin.read())
x = torch.tensor(d["x"], dtype=torch.float32).reshape(d["shape"])
t = torch.tensor(d["t"], dtype=torch.long).reshape(d["tshape"])
ign = d["ignore"]
if ign is not None:
    mask = (t != ign).float(); td = torch.where(t != ign, t, torch.zeros_like(t))
else:
    mask = None; td = t
p = torch.softmax(x, 1)
y = torch.zeros_like(x).scatter_(1, td, 1)[:, 1:]
pp = p[:, 1:]
axes = (2, 3, 4)
if mask is None:
    I = (pp * y).sum(axes); P = pp.sum(axes); G = y.sum(axes)
else:
    I = (pp * y * mask).sum(axes); P = (pp * mask).sum(axes); G = (y * mask).sum(axes)
if d["bd"]:
    I, P, G = I.sum(0), P.sum(0), G.sum(0)
dc = -((2 * I + 1e-5) / torch.clip(G + P + 1e-5, 1e-8)).mean()
ce = torch.nn.functional.cross_entropy(x, t[:, 0], ignore_index=ign if ign is not None else -100)
print(json.dumps(float(ce + dc)))
`,
      [],
      { input: JSON.stringify({ x: Array.from(logits), t: Array.from(seg), shape, tshape: tShape, bd: batchDice, ignore }) },
    );
    expect(ours).toBeCloseTo(ref, 5);
  });

  it.skipIf(skip !== null)(`dcAndBceLoss matches torch with an ignore channel ${skip ?? ""}`, () => {
    const shape = [2, 2, 3, 4, 5];
    const rs = new RandomState(3);
    const n = shape.reduce((a, b) => a * b, 1);
    const logits = Float32Array.from({ length: n }, () => rs.uniform(-3, 3));
    const tShape = [2, 3, 3, 4, 5];
    const t = Uint8Array.from({ length: (n / 2) * 3 }, () => (rs.randomSample() < 0.4 ? 1 : 0));
    const ours = dcAndBceLoss({ batchDice: true, ignoreLabel: 9 })(tf.tensor(logits, shape), { data: t, shape: tShape }).dataSync()[0]!;
    const ref = runPythonJson<number>(
      `
import json, sys, torch
d = json.loads(sys.stdin.read())
x = torch.tensor(d["x"]).reshape(d["shape"])
t = torch.tensor(d["t"]).reshape(d["tshape"]).float()
mask = 1 - t[:, -1:]; tr = t[:, :-1]
p = torch.sigmoid(x)
axes = (2, 3, 4)
I = (p * tr * mask).sum(axes).sum(0); P = (p * mask).sum(axes).sum(0); G = (tr * mask).sum(axes).sum(0)
dc = -((2 * I + 1e-5) / torch.clip(G + P + 1e-5, 1e-8)).mean()
bce = torch.nn.functional.binary_cross_entropy_with_logits(x, tr, reduction="none")
ce = (bce * mask).sum() / torch.clip(mask.sum(), min=1e-8)
print(json.dumps(float(ce + dc)))
`,
      [],
      { input: JSON.stringify({ x: Array.from(logits), t: Array.from(t), shape, tshape: tShape }) },
    );
    expect(ours).toBeCloseTo(ref, 5);
  });
});

describe("deep supervision", () => {
  it("deepSupervisionWeights(5) = [8,4,2,1,0]/15", () => {
    const w = deepSupervisionWeights(5);
    [8, 4, 2, 1, 0].forEach((v, i) => expect(w[i]).toBeCloseTo(v / 15, 12));
  });
  it("deepSupervisionLoss sums the weighted terms and skips zero weights", () => {
    const loss = (x: tf.Tensor) => tf.sum(x) as tf.Scalar;
    const ds = deepSupervisionLoss(loss, [0.75, 0.25, 0]);
    const t = { data: new Int16Array(1), shape: [1, 1, 1] };
    const v = ds([tf.tensor([2], [1, 1, 1]), tf.tensor([4], [1, 1, 1]), tf.tensor([NaN], [1, 1, 1])], [t, t, t]);
    expect(v.dataSync()[0]).toBeCloseTo(2.5, 6);
  });
});

describe("dcAndCeLoss input checks", () => {
  it("a label the network cannot predict is a one-line error", () => {
    const logits = tf.zeros([1, 2, 3]);
    expect(() => dcAndCeLoss({ batchDice: false })(logits, { data: Int16Array.from([0, 2, 1]), shape: [1, 1, 3] })).toThrow(
      /loss: label 2 in the training target, but the network predicts 2 classes/,
    );
    expect(() => dcAndCeLoss({ batchDice: false })(logits, { data: Int16Array.from([0, 1]), shape: [1, 1, 2] })).toThrow(
      /target shape \[1,1,2\] does not fit logits shape \[1,2,3\]/,
    );
  });
});
