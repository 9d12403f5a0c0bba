// `npm run bench predict [--full] [--tta] [--size 200] [--patch 64] [--batches 2] [--tiles-per-batch 2]`:
// seconds per case of sliding-window inference for a 3-class ResidualEncoderUNet on a size^3 volume (CPU), beside
// PyTorch (/usr/bin/python3 with torch) running the same network, same weights (saved by our torch writer) on the
// same tiles. Prints the max |logit difference| of those tiles as a parity check.
//
// The network is deliberately small (3 stages, 4/8/16 features, one residual block per stage): on the shared 2-core
// machine tfjs' elementwise kernels (InstanceNorm's mean/sub/mul) dominate and a full nnU-Net ResEnc tile takes
// minutes. Without --full, the network is timed on `--batches` batches of the case's real tile schedule and the
// per-case time is  (all tiles' extraction + Gaussian accumulation, measured on the whole case with a zero network)
//               + (network seconds per batch) x (number of batches);  --full runs the whole case for real.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import * as path from "node:path";
import { tf, initBackend } from "../../dist/sdk/backend/index.js";
import { buildNetwork } from "../../dist/sdk/networks/index.js";
import { orderedDict } from "../../dist/sdk/io/torch/index.js";
import { saveTorchFile } from "../../dist/sdk/io/torch/save.js";
import { writeNpyFile } from "../../dist/sdk/io/npy.js";
import { predictSlidingWindowReturnLogits, slidingWindowOrigins, maybeMirrorAndPredict } from "../../dist/sdk/inference/sliding-window.js";
import { computePadding } from "../../dist/sdk/inference/sliding-window-geometry.js";

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const FULL = argv.includes("--full");
const TTA = argv.includes("--tta");
const SIZE = opt("--size", 200);
const PATCH = opt("--patch", 64);
const BATCHES = opt("--batches", 2);
const TPB = opt("--tiles-per-batch", 2);
const PYTHON = process.env.NNSSL_ADAPT_BENCH_PYTHON ?? "/usr/bin/python3";
const THREADS = cpus().length;

const FEATURES = [4, 8, 16];
const arch = {
  network_class_name: "dynamic_network_architectures.architectures.unet.ResidualEncoderUNet",
  arch_kwargs: {
    n_stages: 3,
    features_per_stage: FEATURES,
    conv_op: "torch.nn.modules.conv.Conv3d",
    kernel_sizes: 3,
    strides: [1, 2, 2],
    n_blocks_per_stage: [1, 1, 1],
    n_conv_per_stage_decoder: [1, 1],
    conv_bias: true,
    norm_op: "torch.nn.modules.instancenorm.InstanceNorm3d",
    norm_op_kwargs: { eps: 1e-5, affine: true },
    dropout_op: null,
    dropout_op_kwargs: null,
    nonlin: "torch.nn.LeakyReLU",
    nonlin_kwargs: { inplace: true },
  },
  _kw_requires_import: ["conv_op", "norm_op", "dropout_op", "nonlin"],
};

const backend = await initBackend();
const patch = [PATCH, PATCH, PATCH];
const net = buildNetwork(arch, { inputChannels: 1, numClasses: 3, deepSupervision: false, patchSize: patch, seed: 42 });
// perturb the zero-initialised norm weights (init_last_bn_before_add_to_0) so every layer matters in the parity check
const sd = net.stateDict();
let k = 0;
for (const [, t] of sd) {
  const d = t.toFloat32();
  if (t.shape.length === 1) for (let i = 0; i < d.length; i++) d[i] = 1 + 0.1 * Math.sin(++k);
}
await net.loadStateDict(sd);

// a deterministic "preprocessed" case: smooth structures plus noise, zero mean-ish
const shape = [1, SIZE, SIZE, SIZE];
const vox = SIZE ** 3;
const data = new Float32Array(vox);
for (let i = 0, x = 0; x < SIZE; x++)
  for (let y = 0; y < SIZE; y++)
    for (let z = 0; z < SIZE; z++, i++) {
      data[i] = Math.sin(x / 9) * Math.cos(y / 13) + Math.sin(z / 7) * 0.5 + 0.1 * Math.sin(i * 12.9898);
    }
const origins = slidingWindowOrigins(computePadding(shape, patch).shape.slice(1), patch, 0.5);
const nBatches = Math.ceil(origins.length / TPB);
console.log(
  `backend ${backend}, ${THREADS} cores; volume ${SIZE}^3, patch ${PATCH}^3, ${origins.length} tiles in ${nBatches} batches of ${TPB}, TTA ${TTA ? "on (8 passes)" : "off"}`,
);

const tileBatch = (b) => {
  const tiles = origins.slice(b * TPB, (b + 1) * TPB);
  const buf = new Float32Array(tiles.length * PATCH ** 3);
  tiles.forEach((o, t) => {
    for (let x = 0; x < PATCH; x++)
      for (let y = 0; y < PATCH; y++) {
        const s = ((o[0] + x) * SIZE + o[1] + y) * SIZE + o[2];
        buf.set(data.subarray(s, s + PATCH), ((t * PATCH + x) * PATCH + y) * PATCH);
      }
  });
  return { tiles, buf };
};

let oursCase, oursPerBatch, overhead;
const sampleBatches = Array.from({ length: Math.min(BATCHES, nBatches) }, (_, i) => Math.floor((i * nBatches) / Math.max(1, BATCHES)));
const ourTileLogits = [];
{
  // network seconds per batch on real tiles (first call warms up kernels and is not counted)
  const run1 = async (b) => {
    const { tiles, buf } = tileBatch(b);
    const x = tf.tensor5d(buf, [tiles.length, 1, PATCH, PATCH, PATCH]);
    const y = maybeMirrorAndPredict((t) => net.forward(t), x, TTA ? [0, 1, 2] : null);
    const out = await y.data();
    tf.dispose([x, y]);
    return out;
  };
  await run1(sampleBatches[0]);
  const t0 = performance.now();
  for (const b of sampleBatches) ourTileLogits.push(await run1(b));
  oursPerBatch = (performance.now() - t0) / 1000 / sampleBatches.length;
  // everything except the network, over the whole case: tile extraction, Gaussian weighting, accumulation, division
  const zero = (x) => tf.zeros([x.shape[0], 3, ...x.shape.slice(2)]);
  const t1 = performance.now();
  await predictSlidingWindowReturnLogits(zero, data, shape, { patchSize: patch, numHeads: 3, mirrorAxes: TTA ? [0, 1, 2] : null, tilesPerBatch: TPB });
  overhead = (performance.now() - t1) / 1000;
  if (FULL) {
    const t2 = performance.now();
    await predictSlidingWindowReturnLogits((x) => net.forward(x), data, shape, {
      patchSize: patch,
      numHeads: 3,
      mirrorAxes: TTA ? [0, 1, 2] : null,
      tilesPerBatch: TPB,
    });
    oursCase = (performance.now() - t2) / 1000;
  } else {
    oursCase = overhead + oursPerBatch * nBatches;
  }
}

// ---- PyTorch: the same network (dynamic_network_architectures module names, so the state dict loads strictly) ----
const TORCH = String.raw`
import json, sys, time, numpy as np, torch, torch.nn as nn
torch.set_num_threads(int(sys.argv[5]))
F, P, TPB, TTA = json.loads(sys.argv[3]), int(sys.argv[4]), int(sys.argv[6]), sys.argv[7] == '1'
class CDNR(nn.Module):
    def __init__(s, cin, cout, k, stride, nonlin=True, bias=True):
        super().__init__()
        s.conv = nn.Conv3d(cin, cout, k, stride, padding=(k - 1) // 2, bias=bias)
        s.norm = nn.InstanceNorm3d(cout, eps=1e-5, affine=True)
        mods = [s.conv, s.norm]
        if nonlin:
            s.nonlin = nn.LeakyReLU(0.01, inplace=True); mods.append(s.nonlin)
        s.all_modules = nn.Sequential(*mods)
    def forward(s, x): return s.all_modules(x)
class Stacked(nn.Module):
    def __init__(s, n, cin, cout, k, stride):
        super().__init__(); s.convs = nn.Sequential(CDNR(cin, cout, k, stride), *[CDNR(cout, cout, k, 1) for _ in range(n - 1)])
    def forward(s, x): return s.convs(x)
class BasicBlockD(nn.Module):
    def __init__(s, cin, cout, k, stride):
        super().__init__()
        s.conv1 = CDNR(cin, cout, k, stride); s.conv2 = CDNR(cout, cout, k, 1, nonlin=False); s.nonlin2 = nn.LeakyReLU(0.01, inplace=True)
        ops = []
        if stride != 1: ops.append(nn.AvgPool3d(stride, stride))
        if cin != cout: ops.append(CDNR(cin, cout, 1, 1, nonlin=False, bias=False))
        s.skip = nn.Sequential(*ops) if ops else None
    def forward(s, x):
        r = s.skip(x) if s.skip is not None else x
        return s.nonlin2(s.conv2(s.conv1(x)) + r)
class Blocks(nn.Module):
    def __init__(s, cin, cout, stride):
        super().__init__(); s.blocks = nn.Sequential(BasicBlockD(cin, cout, 3, stride))
    def forward(s, x): return s.blocks(x)
class Encoder(nn.Module):
    def __init__(s):
        super().__init__()
        s.stem = Stacked(1, 1, F[0], 3, 1)
        strides = [1] + [2] * (len(F) - 1)
        s.stages = nn.Sequential(*[Blocks(F[max(i - 1, 0)], F[i], strides[i]) for i in range(len(F))])
    def forward(s, x):
        x = s.stem(x); out = []
        for st in s.stages:
            x = st(x); out.append(x)
        return out
class Decoder(nn.Module):
    def __init__(s, enc):
        super().__init__()
        s.encoder = enc; n = len(F)
        s.stages = nn.ModuleList([Stacked(1, 2 * F[-(i + 2)], F[-(i + 2)], 3, 1) for i in range(n - 1)])
        s.transpconvs = nn.ModuleList([nn.ConvTranspose3d(F[-(i + 1)], F[-(i + 2)], 2, 2, bias=True) for i in range(n - 1)])
        s.seg_layers = nn.ModuleList([nn.Conv3d(F[-(i + 2)], 3, 1, 1, 0, bias=True) for i in range(n - 1)])
    def forward(s, skips):
        x = skips[-1]
        for i in range(len(s.stages)):
            x = s.stages[i](torch.cat((s.transpconvs[i](x), skips[-(i + 2)]), 1))
        return s.seg_layers[-1](x)
class Net(nn.Module):
    def __init__(s):
        super().__init__(); s.encoder = Encoder(); s.decoder = Decoder(s.encoder)
    def forward(s, x): return s.decoder(s.encoder(x))
net = Net().eval()
sd = torch.load(sys.argv[1], map_location='cpu')
net.load_state_dict(sd['network_weights'], strict=True)
tiles = torch.from_numpy(np.load(sys.argv[2]))  # [nb, TPB, 1, P, P, P]
combos = [(2,), (3,), (4,), (2, 3), (2, 4), (3, 4), (2, 3, 4)] if TTA else []
def tta(x):
    p = net(x)
    for a in combos: p += torch.flip(net(torch.flip(x, a)), a)
    return p / (len(combos) + 1)
outs = []
with torch.no_grad():
    tta(tiles[0])
    t = time.time()
    for b in range(tiles.shape[0]): outs.append(tta(tiles[b]).numpy())
    per = (time.time() - t) / tiles.shape[0]
np.save(sys.argv[8], np.stack(outs))
print(json.dumps({'per_batch': per, 'torch': torch.__version__, 'threads': torch.get_num_threads()}))
`;

let torchLine = "PyTorch: not run";
const probe = spawnSync(PYTHON, ["-c", "import torch, numpy"], { stdio: "ignore" });
if (probe.status === 0) {
  const dir = mkdtempSync(path.join(tmpdir(), "bench-predict-"));
  const pth = path.join(dir, "net.pth");
  await saveTorchFile(pth, { network_weights: orderedDict(Object.fromEntries(net.stateDict())) });
  const per = sampleBatches.map((b) => tileBatch(b).buf);
  const nPer = Math.min(TPB, origins.length);
  const all = new Float32Array(per.length * nPer * PATCH ** 3);
  per.forEach((b, i) => all.set(b.subarray(0, nPer * PATCH ** 3), i * nPer * PATCH ** 3));
  await writeNpyFile(path.join(dir, "tiles.npy"), { dtype: "float32", shape: [per.length, nPer, 1, PATCH, PATCH, PATCH], data: all });
  const outNpy = path.join(dir, "torch_out.npy");
  const r = spawnSync(
    PYTHON,
    ["-c", TORCH, pth, path.join(dir, "tiles.npy"), JSON.stringify(FEATURES), String(PATCH), String(THREADS), String(TPB), TTA ? "1" : "0", outNpy],
    { encoding: "utf8", maxBuffer: 1 << 26 },
  );
  if (r.status !== 0) {
    torchLine = `PyTorch failed: ${r.stderr.trim().split("\n").slice(-2).join(" | ")}`;
  } else {
    const res = JSON.parse(r.stdout.trim().split("\n").pop());
    const { readNpyFile } = await import("../../dist/sdk/io/npy.js");
    const ref = /** @type {Float32Array} */ ((await readNpyFile(outNpy)).data);
    let maxDiff = 0;
    ourTileLogits.forEach((o, i) => {
      for (let j = 0; j < o.length; j++) maxDiff = Math.max(maxDiff, Math.abs(o[j] - ref[i * o.length + j]));
    });
    const torchCase = overhead + res.per_batch * nBatches;
    torchLine =
      `PyTorch ${res.torch} (${res.threads} threads): ${res.per_batch.toFixed(2)} s/batch -> ${torchCase.toFixed(1)} s/case (same tiles; our tile extraction/accumulation time added)` +
      `\n  ratio tfjs/PyTorch: ${(oursCase / torchCase).toFixed(1)}x per case, ${(oursPerBatch / res.per_batch).toFixed(1)}x per network batch; max |logit diff| on ${sampleBatches.length} batch(es): ${maxDiff.toExponential(2)}`;
  }
}
console.log(
  `nnssl-adapt (${backend}): ${oursPerBatch.toFixed(2)} s/batch, ${overhead.toFixed(1)} s extraction+accumulation per case -> ${oursCase.toFixed(1)} s/case ${FULL ? "(full run)" : `(network time extrapolated from ${sampleBatches.length} of ${nBatches} batches)`}`,
);
console.log(torchLine);
