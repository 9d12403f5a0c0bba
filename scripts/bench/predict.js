// `npm run bench predict [--network example|resencl] [--size N] [--patch P] [--tta on|off|both] [--tiles-per-batch 2]
// [--precision bf16]`: sliding-window inference of one whole synthetic case (every tile, Gaussian weighting and
// accumulation; nothing extrapolated), with test-time mirroring off and on, beside PyTorch (/usr/bin/python3 with
// torch, or NNSSL_ADAPT_BENCH_PYTHON) predicting the same case with the same network and weights (saved by our torch
// writer) by upstream's algorithm (predict_sliding_window_return_logits: the same tiles, the same Gaussian, logits summed
// and divided). Prints seconds per case, peak resident memory of each process, the effective GFLOP/s (convolution
// FLOPs executed, counted from a profiled forward pass) and the fraction of this machine's fp32 peak, and the max
// |logit difference| between the two whole-case outputs. Both sides run one tile batch first (warm-up, not timed). The
// machine is usually shared: CPU seconds (both processes use every core) are the steadier comparison.
//
// Networks (random weights, seeded; norm weights perturbed so every layer matters in the comparison):
// - example (default): the example dataset's network as the demo plans it (ResidualEncoderUNet 16-32-64-128, blocks
//   1-1-2-2, patch 32^3), on a --size 96 case;
// - resencl: nnssl's ResEncL (102 M parameters, 32..320 features, blocks 1-3-4-6-6-6), patch 128^3, on a --size 128
//   case (one tile; --size 160 gives 8). Random weights: timing and memory do not depend on them.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import * as path from "node:path";
import { tf, initBackend } from "../../dist/sdk/backend/index.js";
import { buildNetwork } from "../../dist/sdk/networks/index.js";
import { orderedDict } from "../../dist/sdk/io/torch/index.js";
import { saveTorchFile } from "../../dist/sdk/io/torch/save.js";
import { readNpyFile, writeNpyFile } from "../../dist/sdk/io/npy.js";
import { predictSlidingWindowReturnLogits, slidingWindowOrigins } from "../../dist/sdk/inference/sliding-window.js";
import { convFlops, machinePeak, rate } from "./lib/machine.js";
import { resEncArch } from "./lib/networks.js";

const argv = process.argv.slice(2);
const str = (name, def) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : def;
};
const NETWORK = str("--network", "example");
if (NETWORK !== "example" && NETWORK !== "resencl") {
  console.error(`bench predict: --network must be example or resencl, got ${NETWORK}`);
  process.exit(2);
}
const RESENCL = NETWORK === "resencl";
const SIZE = Number(str("--size", RESENCL ? 128 : 96));
const PATCH = Number(str("--patch", RESENCL ? 128 : 32));
const TTA_MODES = { off: [false], on: [true], both: [false, true] }[str("--tta", "both")];
const TPB = Number(str("--tiles-per-batch", 2));
const PRECISION = str("--precision", "fp32");
const PYTHON = process.env.NNSSL_ADAPT_BENCH_PYTHON ?? "/usr/bin/python3";
const THREADS = cpus().length;
if (!TTA_MODES || !(SIZE >= PATCH)) {
  console.error("bench predict: --tta must be on, off or both, and --size at least --patch (the case is one volume of size^3)");
  process.exit(2);
}

const FEATURES = RESENCL ? [32, 64, 128, 256, 320, 320] : [16, 32, 64, 128];
const BLOCKS = RESENCL ? [1, 3, 4, 6, 6, 6] : [1, 1, 2, 2];
const arch = resEncArch(FEATURES, BLOCKS);

const peak = machinePeak();
const backend = await initBackend();
const { setOnednnPrecision } = await import("../../dist/sdk/backend/onednn.js");
const precision = setOnednnPrecision(/** @type {"fp32" | "bf16"} */ (PRECISION));
if (precision.notice) console.log(precision.notice);
const patch = [PATCH, PATCH, PATCH];
const net = RESENCL
  ? buildNetwork("ResEncL", { inputChannels: 1, numClasses: 3, deepSupervision: false, seed: 42 })
  : buildNetwork(arch, { inputChannels: 1, numClasses: 3, deepSupervision: false, patchSize: patch, seed: 42 });
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
const data = new Float32Array(SIZE ** 3);
for (let i = 0, x = 0; x < SIZE; x++)
  for (let y = 0; y < SIZE; y++)
    for (let z = 0; z < SIZE; z++, i++) data[i] = Math.sin(x / 9) * Math.cos(y / 13) + Math.sin(z / 7) * 0.5 + 0.1 * Math.sin(i * 12.9898);
const origins = slidingWindowOrigins([SIZE, SIZE, SIZE], patch, 0.5);
const nBatches = Math.ceil(origins.length / TPB);
// Convolution FLOPs of one tile's forward pass (profiled at 32^3 and scaled when the patch is larger).
const small = Math.min(PATCH, 32);
const tileFlops = await convFlops(() => net.forward(tf.zeros([1, 1, small, small, small])), (PATCH / small) ** 3);
console.log(`fp32 peak ${peak.gflops.toFixed(0)} GFLOP/s (${peak.how})`);
console.log(
  `${RESENCL ? "ResEncL (random weights)" : "example network (ResidualEncoderUNet 16-32-64-128, random weights)"}: ` +
    `${(net.numParameters() / 1e6).toFixed(1)} M parameters, ${(tileFlops / 1e9).toFixed(1)} GFLOP per tile; backend ${backend}, ` +
    `precision ${precision.precision}, ${THREADS} cores; case ${SIZE}^3, patch ${PATCH}^3, ${origins.length} tiles in ${nBatches} batches of ${TPB}`,
);

const gib = (bytes) => (bytes / 2 ** 30).toFixed(2);
const forward = (x) => net.forward(x);
// warm-up, once: one batch of as many tiles as the case's batches hold (oneDNN primitive creation for these shapes;
// mirrored passes reuse them)
const warm = Math.min(TPB, origins.length);
{
  const w = PATCH + (warm - 1) * (PATCH / 2);
  await predictSlidingWindowReturnLogits(forward, data.subarray(0, PATCH * PATCH * w), [1, PATCH, PATCH, w], {
    patchSize: patch,
    numHeads: 3,
    tilesPerBatch: warm,
  });
}
const ours = {};
for (const tta of TTA_MODES) {
  const mirrorAxes = tta ? [0, 1, 2] : null;
  const opts = { patchSize: patch, numHeads: 3, mirrorAxes, tilesPerBatch: TPB };
  const c0 = process.cpuUsage(),
    t0 = performance.now();
  const logits = await predictSlidingWindowReturnLogits(forward, data, shape, opts);
  const seconds = (performance.now() - t0) / 1000,
    c = process.cpuUsage(c0);
  const flops = tileFlops * origins.length * (tta ? 8 : 1);
  const cpu = (c.user + c.system) / 1e6;
  ours[String(tta)] = { seconds, cpu, logits, flops };
  console.log(
    `nnssl-adapt, TTA ${tta ? "on (8 passes)" : "off"}: ${seconds.toFixed(1)} s per case (${cpu.toFixed(1)} s CPU), ` +
      `${rate(flops, seconds, peak)} (per CPU time: ${rate(flops, cpu / THREADS, peak)}); peak resident ${gib(process.resourceUsage().maxRSS * 1024)} GiB so far`,
  );
}

// ---- PyTorch: the same network (dynamic_network_architectures module names, so the state dict loads strictly) ----
const TORCH = String.raw`
import json, resource, sys, time, numpy as np, torch, torch.nn as nn
from scipy.ndimage import gaussian_filter
torch.set_num_threads(int(sys.argv[5]))
F, B, P, TPB, TTA = json.loads(sys.argv[3]), json.loads(sys.argv[9]), int(sys.argv[4]), int(sys.argv[6]), sys.argv[7] == '1'
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
    def __init__(s, n, cin, cout, stride):
        super().__init__(); s.blocks = nn.Sequential(BasicBlockD(cin, cout, 3, stride), *[BasicBlockD(cout, cout, 3, 1) for _ in range(n - 1)])
    def forward(s, x): return s.blocks(x)
class Encoder(nn.Module):
    def __init__(s):
        super().__init__()
        s.stem = Stacked(1, 1, F[0], 3, 1)
        strides = [1] + [2] * (len(F) - 1)
        s.stages = nn.Sequential(*[Blocks(B[i], F[max(i - 1, 0)], F[i], strides[i]) for i in range(len(F))])
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
data = torch.from_numpy(np.load(sys.argv[2]))  # [1, X, Y, Z]
origins = json.loads(open(sys.argv[10]).read())
combos = [(2,), (3,), (4,), (2, 3), (2, 4), (3, 4), (2, 3, 4)] if TTA else []
def tta(x):
    p = net(x)
    for a in combos: p += torch.flip(net(torch.flip(x, a)), a)
    return p / (len(combos) + 1)
# nnU-Net's compute_gaussian(tile, sigma_scale=1/8, value_scaling_factor=10) (float16, as upstream) and
# predict_sliding_window_return_logits, with float32 accumulators as ours (upstream's are float16 on the GPU)
tmp = np.zeros((P, P, P)); tmp[P // 2, P // 2, P // 2] = 1
g = torch.from_numpy(gaussian_filter(tmp, [P / 8] * 3, 0, mode='constant', cval=0))
g /= torch.max(g) / 10
g = g.half()
g[g == 0] = torch.min(g[g != 0])
g = g.float()
with torch.no_grad():
    net(torch.stack([data[:, :P, :P, :P]] * min(TPB, len(origins))))
    t, c = time.time(), time.process_time()
    logits = torch.zeros((3,) + tuple(data.shape[1:]))
    n_pred = torch.zeros(tuple(data.shape[1:]))
    for b in range(0, len(origins), TPB):
        tiles = origins[b:b + TPB]
        x = torch.stack([data[:, o[0]:o[0] + P, o[1]:o[1] + P, o[2]:o[2] + P] for o in tiles])
        pred = tta(x)
        for j, o in enumerate(tiles):
            logits[:, o[0]:o[0] + P, o[1]:o[1] + P, o[2]:o[2] + P] += pred[j] * g
            n_pred[o[0]:o[0] + P, o[1]:o[1] + P, o[2]:o[2] + P] += g
    logits /= n_pred
    seconds, cpu = time.time() - t, time.process_time() - c
np.save(sys.argv[8], logits.numpy())
print(json.dumps({'seconds': seconds, 'cpu': cpu, 'torch': torch.__version__, 'threads': torch.get_num_threads(),
                  'peak_gib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
`;

const probe = spawnSync(PYTHON, ["-c", "import torch, numpy, scipy"], { stdio: "ignore" });
if (probe.status !== 0) {
  console.log(`PyTorch: ${PYTHON} cannot import torch, numpy and scipy; no reference run`);
} else {
  const dir = mkdtempSync(path.join(tmpdir(), "bench-predict-"));
  try {
    const pth = path.join(dir, "net.pth");
    await saveTorchFile(pth, { network_weights: orderedDict(Object.fromEntries(net.stateDict())) });
    await writeNpyFile(path.join(dir, "case.npy"), { dtype: "float32", shape, data });
    const originsFile = path.join(dir, "origins.json");
    (await import("node:fs")).writeFileSync(originsFile, JSON.stringify(origins));
    for (const tta of TTA_MODES) {
      const outNpy = path.join(dir, "torch_out.npy");
      const args = [pth, path.join(dir, "case.npy"), JSON.stringify(FEATURES), String(PATCH), String(THREADS), String(TPB), tta ? "1" : "0", outNpy];
      const r = spawnSync(PYTHON, ["-c", TORCH, ...args, JSON.stringify(BLOCKS), originsFile], { encoding: "utf8", maxBuffer: 1 << 26 });
      if (r.status !== 0) {
        console.log(`PyTorch failed: ${r.stderr.trim().split("\n").slice(-2).join(" | ")}`);
        break;
      }
      const res = JSON.parse(r.stdout.trim().split("\n").pop());
      const ref = /** @type {Float32Array} */ ((await readNpyFile(outNpy)).data);
      const mine = ours[String(tta)];
      let maxDiff = 0,
        range = 0;
      for (let j = 0; j < ref.length; j++) {
        maxDiff = Math.max(maxDiff, Math.abs(mine.logits[j] - ref[j]));
        range = Math.max(range, Math.abs(ref[j]));
      }
      console.log(
        `PyTorch ${res.torch} (${res.threads} threads), TTA ${tta ? "on" : "off"}: ${res.seconds.toFixed(1)} s per case (${res.cpu.toFixed(1)} s CPU), ` +
          `${rate(mine.flops, res.seconds, peak)} (per CPU time: ${rate(mine.flops, res.cpu / THREADS, peak)}); peak resident ${res.peak_gib.toFixed(2)} GiB\n` +
          `  nnssl-adapt / PyTorch: ${(mine.seconds / res.seconds).toFixed(2)}x wall time, ${(mine.cpu / res.cpu).toFixed(2)}x CPU time; whole-case max |logit diff| ${maxDiff.toExponential(2)} ` +
          `(logits up to ${range.toFixed(2)})`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
