// `npm run bench backend [--js-step] [--steps N]`: conv3d GFLOP/s (forward, forward+backward) on nnU-Net-typical
// shapes and the time of one training step of a small ResidualEncoderUNet-like network (patch 64^3, batch 2), for
// tfjs' pure-JS cpu backend, our cpu-onednn backend and PyTorch (/usr/bin/python3, torch on the same shapes, same
// thread count), all in this one run, printed as ratios to PyTorch. The machine is usually shared, so compare ratios
// within a run rather than absolute numbers across runs.
// Pure JS runs ~100x slower: it gets one conv shape, one iteration, and the training step only with --js-step.
// Steps are the fastest of --steps (default 5) after a warm-up, for PyTorch and for us: our first steps after the
// warm-up are still slower (the heap and V8's GC pacing settle over a few steps), a cost a real run pays once.
// --backend webgpu: our side runs on the WebGPU adapter, and PyTorch on CUDA when it has a GPU (else on the CPU, said
// so), with nnU-Net's full-resolution shapes and a ResEncL-like network at 128^3 (tiny shapes on a software adapter).
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { backendInfo, tf } from "../../dist/sdk/backend/index.js";
import { registerOnednnBackend } from "../../dist/sdk/backend/onednn.js";
import { instanceNorm } from "../../dist/sdk/networks/layers.js";

const argv = process.argv.slice(2);
const withJsStep = argv.includes("--js-step");
const stepsIdx = argv.indexOf("--steps");
const STEPS = stepsIdx >= 0 ? Number(argv[stepsIdx + 1]) : 5;
const THREADS = cpus().length;
const PYTHON = process.env.NNSSL_ADAPT_BENCH_PYTHON ?? "/usr/bin/python3";
const backendIdx = argv.indexOf("--backend");
const GPU = backendIdx >= 0 && argv[backendIdx + 1] === "webgpu";
const gpuInfo = GPU ? await backendInfo({ backend: "webgpu", origin: "--backend" }) : null;
const SOFTWARE = gpuInfo?.adapter?.software ?? false;

// [batch, spatial, inChannels, outChannels], kernel 3, stride 1, same padding.
const CONV_SHAPES = !GPU
  ? [
      [2, 32, 32, 32],
      [2, 16, 64, 64],
      [2, 8, 128, 128],
    ]
  : SOFTWARE
    ? [[1, 8, 8, 8]]
    : [
        [2, 128, 32, 32],
        [2, 64, 64, 64],
        [2, 32, 128, 128],
        [2, 16, 256, 256],
        [2, 8, 320, 320],
      ];
const CONV_ITERS = 5;
// The network: stages of residual blocks, decoder with one conv per stage (like nnU-Net's). On a GPU: ResEncL's
// widths and block counts at 128^3 (without deep supervision).
const NET = !GPU
  ? { patch: 64, batch: 2, inChannels: 1, classes: 3, features: [16, 32, 64, 128], blocks: [1, 2, 2, 2] }
  : SOFTWARE
    ? { patch: 8, batch: 1, inChannels: 1, classes: 2, features: [4, 8], blocks: [1, 1] }
    : { patch: 128, batch: 2, inChannels: 1, classes: 3, features: [32, 64, 128, 256, 320, 320], blocks: [1, 3, 4, 6, 6, 6] };

/** @type {(shape: number[]) => number} */
const convFlops = ([n, s, c, o]) => 2 * n * s ** 3 * c * o * 27;

// ---- tfjs ----------------------------------------------------------------------------------------------------------

/**
 * Fastest of `iters` runs after a warm-up (which builds and caches oneDNN primitives). On a shared machine other
 * processes only ever add time, so the minimum is the least noisy estimate; PyTorch is timed the same way.
 */
async function timeIt(fn, iters) {
  await fn();
  let best = Infinity;
  for (let i = 0; i < iters; i++) best = Math.min(best, await timeOnce(fn));
  return best;
}

async function timeOnce(fn) {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Waits until `t` is computed: one element read back (a GPU runs its queue in order, so everything before is done). */
async function settle(t) {
  const one = tf.tidy(() => tf.slice(tf.reshape(t, [-1]), 0, 1));
  await one.data();
  one.dispose();
}

async function benchConvTfjs(shape, iters, warm = true) {
  const [n, s, c, o] = shape;
  /** @type {tf.Tensor5D} */
  const x = tf.randomNormal([n, s, s, s, c]);
  /** @type {tf.Tensor5D} */
  const w = tf.randomNormal([3, 3, 3, c, o], 0, 0.05);
  // Braces: tidy walks whatever it returns looking for tensors, which for a returned TypedArray is every element.
  const fwd = async () => {
    const y = tf.conv3d(x, w, 1, "same");
    await settle(y);
    y.dispose();
  };
  // An explicit upstream gradient (like PyTorch's y.backward(dy)), so only the convolutions are timed.
  /** @type {tf.Tensor5D} */
  const dy = tf.randomNormal([n, s, s, s, o]);
  const gradsOf = tf.grads((a, b) => tf.conv3d(/** @type {tf.Tensor5D} */ (a), /** @type {tf.Tensor5D} */ (b), 1, "same"));
  const fwdBwd = async () => {
    const gs = gradsOf([x, w], dy);
    for (const g of gs) await settle(g);
    tf.dispose(gs);
  };
  const fwdMs = warm ? await timeIt(fwd, iters) : await timeOnce(fwd);
  const fwdBwdMs = warm ? await timeIt(fwdBwd, iters) : await timeOnce(fwdBwd);
  tf.dispose([x, w, dy]);
  return { fwdMs, fwdBwdMs };
}

function buildNet() {
  const { inChannels, classes, features, blocks } = NET;
  const vars = [];
  let seed = 1;
  /** @type {(cin: number, cout: number, k: number) => tf.Variable<tf.Rank.R5>} */
  const conv = (cin, cout, k) => {
    const v = /** @type {tf.Variable<tf.Rank.R5>} */ (tf.variable(tf.randomNormal([k, k, k, cin, cout], 0, Math.sqrt(2 / (cin * k ** 3)), "float32", seed++)));
    vars.push(v);
    return v;
  };
  const norm = (ch) => {
    const g = tf.variable(tf.ones([ch])),
      b = tf.variable(tf.zeros([ch]));
    vars.push(g, b);
    return { g, b };
  };
  const stem = { w: conv(inChannels, features[0], 3), n: norm(features[0]) };
  const stages = features.map((f, s) =>
    Array.from({ length: blocks[s] }, (_, i) => {
      const cin = i === 0 ? features[Math.max(0, s - 1)] : f;
      const stride = i === 0 && s > 0 ? 2 : 1;
      return {
        stride,
        w1: conv(cin, f, 3),
        n1: norm(f),
        w2: conv(f, f, 3),
        n2: norm(f),
        skip: stride > 1 || cin !== f ? { w: conv(cin, f, 1), n: norm(f) } : null,
      };
    }),
  );
  const decoder = features
    .slice(1)
    .map((f, i) => ({
      up: conv(features[i], f, 2), // conv3dTranspose filter: [k, k, k, out, in]
      w: conv(2 * features[i], features[i], 3),
      n: norm(features[i]),
    }))
    .reverse();
  const head = conv(features[0], classes, 1);

  // The SDK's own norm op (what sdk/networks builds): on cpu-onednn, norm + LeakyReLU run as one fused kernel.
  /** @type {(x: tf.Tensor, n: { g: tf.Tensor, b: tf.Tensor }, slope?: number | null) => tf.Tensor5D} */
  const inorm = (x, { g, b }, slope = null) => /** @type {tf.Tensor5D} */ (instanceNorm(x, g, b, 1e-5, slope));
  /** @type {(x: tf.Tensor5D) => tf.Tensor5D} */
  const act = (x) => tf.leakyRelu(x, 0.01);
  const forward = (x) => {
    x = inorm(tf.conv3d(x, stem.w, 1, "same"), stem.n, 0.01);
    const skips = [];
    for (const stage of stages) {
      for (const blk of stage) {
        const y = inorm(tf.conv3d(inorm(tf.conv3d(x, blk.w1, blk.stride, "same"), blk.n1, 0.01), blk.w2, 1, "same"), blk.n2);
        // "valid" for the 1x1 skip: tfjs "same" pads -1 there (starting at voxel 1), PyTorch samples from voxel 0.
        const r = blk.skip ? inorm(tf.conv3d(x, blk.skip.w, blk.stride, "valid"), blk.skip.n) : x;
        x = act(y.add(r));
      }
      skips.push(x);
    }
    for (const [i, dec] of decoder.entries()) {
      const skip = skips[skips.length - 2 - i];
      const up = tf.conv3dTranspose(x, dec.up, skip.shape, 2, "valid");
      x = inorm(tf.conv3d(tf.concat([up, skip], 4), dec.w, 1, "same"), dec.n, 0.01);
    }
    return tf.conv3d(x, head, 1, "same");
  };
  return { vars, forward };
}

async function benchStepTfjs(steps) {
  const { patch, batch, inChannels, classes } = NET;
  const net = buildNet();
  const opt = tf.train.momentum(0.01, 0.99, true);
  const x = tf.randomNormal([batch, patch, patch, patch, inChannels], 0, 1, "float32", 7);
  const labels = tf.oneHot(tf.randomUniform([batch, patch, patch, patch], 0, classes, "int32", 8), classes);
  const step = async () => {
    const value = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, net.forward(x)));
      opt.applyGradients(/** @type {any} */ (grads));
      return value;
    });
    await value.data();
    value.dispose();
  };
  const ms = steps > 0 ? await timeIt(step, steps) : await timeOnce(step);
  tf.dispose([x, labels, ...net.vars]);
  opt.dispose();
  return ms;
}

// ---- PyTorch (same shapes, NCDHW) ------------------------------------------------------------------------------

const TORCH_SCRIPT = String.raw`
import json, sys, time, torch
import torch.nn as nn, torch.nn.functional as F
cfg = json.loads(sys.argv[1]); torch.set_num_threads(cfg["threads"]); torch.manual_seed(0)
cuda = cfg["cuda"] and torch.cuda.is_available()
dev = torch.device("cuda" if cuda else "cpu")
def sync():
    if cuda: torch.cuda.synchronize()
def timeit(fn, iters):
    fn(); sync(); best = float("inf")
    for _ in range(iters):
        t = time.perf_counter(); fn(); sync(); best = min(best, time.perf_counter() - t)
    return best * 1000
out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "conv": [], "device": torch.cuda.get_device_name(0) if cuda else "cpu"}
for n, s, c, o in (cfg["convShapes"] if cfg["section"] == "conv" else []):
    x = torch.randn(n, c, s, s, s, device=dev, requires_grad=True); w = (torch.randn(o, c, 3, 3, 3, device=dev) * 0.05).requires_grad_(); dy = torch.randn(n, o, s, s, s, device=dev)
    def fwd():
        with torch.no_grad(): F.conv3d(x, w, padding=1)
    def fwdbwd():
        x.grad = None; w.grad = None; F.conv3d(x, w, padding=1).backward(dy)
    out["conv"].append({"fwdMs": timeit(fwd, cfg["iters"]), "fwdBwdMs": timeit(fwdbwd, cfg["iters"])})
net = cfg["net"]; f = net["features"]
class Block(nn.Module):
    def __init__(s, cin, cout, stride):
        super().__init__()
        s.c1 = nn.Conv3d(cin, cout, 3, stride, 1, bias=False); s.n1 = nn.InstanceNorm3d(cout, affine=True)
        s.c2 = nn.Conv3d(cout, cout, 3, 1, 1, bias=False); s.n2 = nn.InstanceNorm3d(cout, affine=True)
        s.skip = nn.Sequential(nn.Conv3d(cin, cout, 1, stride, bias=False), nn.InstanceNorm3d(cout, affine=True)) if stride > 1 or cin != cout else None
    def forward(s, x):
        y = s.n2(s.c2(F.leaky_relu(s.n1(s.c1(x)), 0.01)))
        return F.leaky_relu(y + (s.skip(x) if s.skip is not None else x), 0.01)
class Net(nn.Module):
    def __init__(s):
        super().__init__()
        s.stem = nn.Sequential(nn.Conv3d(net["inChannels"], f[0], 3, 1, 1, bias=False), nn.InstanceNorm3d(f[0], affine=True), nn.LeakyReLU(0.01))
        s.stages = nn.ModuleList(nn.Sequential(*[Block(f[max(0, i - 1)] if b == 0 else f[i], f[i], 2 if b == 0 and i > 0 else 1) for b in range(net["blocks"][i])]) for i in range(len(f)))
        s.ups = nn.ModuleList(nn.ConvTranspose3d(f[i + 1], f[i], 2, 2, bias=False) for i in reversed(range(len(f) - 1)))
        s.decs = nn.ModuleList(nn.Sequential(nn.Conv3d(2 * f[i], f[i], 3, 1, 1, bias=False), nn.InstanceNorm3d(f[i], affine=True), nn.LeakyReLU(0.01)) for i in reversed(range(len(f) - 1)))
        s.head = nn.Conv3d(f[0], net["classes"], 1, bias=False)
    def forward(s, x):
        x = s.stem(x); skips = []
        for st in s.stages:
            x = st(x); skips.append(x)
        for i, (up, dec) in enumerate(zip(s.ups, s.decs)):
            x = dec(torch.cat([up(x), skips[-2 - i]], 1))
        return s.head(x)
if cfg["section"] != "step":
    print(json.dumps(out)); sys.exit(0)
model = Net().to(dev); opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.99, nesterov=True)
p = net["patch"]; x = torch.randn(net["batch"], net["inChannels"], p, p, p, device=dev); y = torch.randint(0, net["classes"], (net["batch"], p, p, p), device=dev)
def step():
    opt.zero_grad(); loss = F.cross_entropy(model(x), y); loss.backward(); opt.step(); loss.item()
out["stepMs"] = timeit(step, cfg["steps"])
if cuda:
    # nnU-Net's own GPU training: autocast to float16 with a gradient scaler
    scaler = torch.cuda.amp.GradScaler()
    def amp_step():
        opt.zero_grad()
        with torch.autocast("cuda", dtype=torch.float16):
            loss = F.cross_entropy(model(x), y)
        scaler.scale(loss).backward(); scaler.step(opt); scaler.update(); loss.item()
    out["ampStepMs"] = timeit(amp_step, cfg["steps"])
print(json.dumps(out))
`;

// Called right before the matching tfjs section (conv, then step) so both see similar machine load.
function runTorch(section) {
  const cfg = { section, threads: THREADS, convShapes: CONV_SHAPES, iters: CONV_ITERS, net: NET, steps: STEPS, cuda: GPU && !SOFTWARE };
  const r = spawnSync(PYTHON, ["-c", TORCH_SCRIPT, JSON.stringify(cfg)], { encoding: "utf8", maxBuffer: 1 << 24 });
  if (r.status !== 0) {
    const why = r.error ? r.error.message : (r.stderr.trim().split("\n").pop() ?? `exit ${r.status}`);
    return { error: `${PYTHON}: ${why}` };
  }
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

// ---- report ------------------------------------------------------------------------------------------------------

async function useBackend(name) {
  await tf.setBackend(name);
  /** @type {any} */ (tf.backend()).firstUse = false; // the cpu backend's "install tfjs-node" banner would break the table
}

const fmt = (v, d = 1) => (v === undefined || Number.isNaN(v) ? "-" : v.toFixed(d));
const gflops = (flops, ms) => flops / ms / 1e6;
const ratio = (ours, ref) => (ours === undefined || ref === undefined ? "-" : `${(ours / ref).toFixed(2)}x`);

const onednn = await registerOnednnBackend();
// Our side: cpu-onednn (with pure JS for scale), or the WebGPU adapter with --backend webgpu.
const OURS = GPU ? "webgpu" : "cpu-onednn";
const oursAvailable = GPU || onednn.available;
console.log(`machine: ${THREADS} logical cores; oneDNN: ${onednn.available ? onednn.reason : `unavailable (${onednn.reason})`}`);
if (GPU) console.log(`WebGPU adapter: ${gpuInfo.provider}`);
const torch = runTorch("conv");
console.log(
  torch.error
    ? `PyTorch: unavailable (${torch.error})`
    : `PyTorch ${torch.torch} on ${torch.device === "cpu" ? `the CPU, ${torch.threads} threads` : torch.device}`,
);
if (GPU && !torch.error && torch.device === "cpu")
  console.log("  (no CUDA GPU for PyTorch here: the ratios compare the WebGPU adapter with PyTorch on the CPU)");

const rows = [];
for (const [i, shape] of CONV_SHAPES.entries()) {
  const row = { shape, torch: torch.conv?.[i] };
  if (oursAvailable) {
    await useBackend(OURS);
    row.onednn = await benchConvTfjs(shape, CONV_ITERS);
  }
  if (i === 0 && !GPU) {
    await useBackend("cpu");
    row.js = await benchConvTfjs(shape, 1, false);
  }
  rows.push(row);
}

console.log(`\nconv3d 3x3x3 stride 1 same, GFLOP/s (forward+backward counts 3x the forward FLOPs); ratio = ours (${OURS}) / PyTorch`);
console.log(
  `shape (N x C x S^3 -> O)    | fwd: js  ${OURS.padStart(6)}  torch  ours/torch | fwd+bwd: js  ${OURS.padStart(6)}  torch  ours/torch | js/torch fwd+bwd`,
);
for (const r of rows) {
  const f = convFlops(r.shape);
  const g = (t, key, mult) => (t ? gflops(mult * f, t[key]) : undefined);
  const [js, on, pt] = [r.js, r.onednn, r.torch].map((t) => g(t, "fwdMs", 1));
  const [jsb, onb, ptb] = [r.js, r.onednn, r.torch].map((t) => g(t, "fwdBwdMs", 3));
  const [n, s, c, o] = r.shape;
  console.log(
    `${`${n}x${c}x${s}^3 -> ${o}`.padEnd(28)}| ${fmt(js).padStart(7)} ${fmt(on).padStart(7)} ${fmt(pt).padStart(6)} ${ratio(on, pt).padStart(11)} | ${fmt(jsb).padStart(11)} ${fmt(onb).padStart(7)} ${fmt(ptb).padStart(6)} ${ratio(onb, ptb).padStart(11)} | ${ratio(jsb, ptb).padStart(10)}`,
  );
}

console.log(
  `\ntraining step (forward, cross-entropy, backward, SGD-momentum update), ResidualEncoderUNet-like ` +
    `features ${NET.features.join("/")}, blocks ${NET.blocks.join("/")}, patch ${NET.patch}^3, batch ${NET.batch}; fastest of ${STEPS} after a warm-up`,
);
const stepRows = [];
const torchStep = torch.error ? torch : runTorch("step");
if (torchStep.stepMs !== undefined) stepRows.push([`PyTorch fp32 (${torchStep.device})`, torchStep.stepMs]);
if (torchStep.ampStepMs !== undefined) stepRows.push([`PyTorch mixed precision (${torchStep.device})`, torchStep.ampStepMs]);
if (oursAvailable) {
  await useBackend(OURS);
  stepRows.push([`tfjs ${OURS}`, await benchStepTfjs(STEPS)]);
}
if (GPU) {
  // nothing more: pure JS is not a reference for a GPU
} else if (withJsStep) {
  await useBackend("cpu");
  stepRows.push(["tfjs cpu (pure JS, 1 step)", await benchStepTfjs(0)]);
} else {
  stepRows.push(["tfjs cpu (pure JS)", undefined]);
}
for (const [name, ms] of stepRows) {
  const note =
    ms === undefined
      ? "skipped (minutes per step; pass --js-step to measure)"
      : `${fmt(ms, 0)} ms  time ratio to PyTorch fp32 ${ratio(ms, torchStep.stepMs)}` +
        (torchStep.ampStepMs !== undefined ? `, to mixed precision ${ratio(ms, torchStep.ampStepMs)}` : "");
  console.log(`  ${name.padEnd(36)} ${note}`);
}
