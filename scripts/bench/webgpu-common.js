// Shared by `bench train|predict --backend webgpu` (scripts/bench/webgpu-train.js, webgpu-predict.js): the network
// (nnssl's ResEncL, or the same layout with fewer features where the adapter is a software one), the convolution FLOP
// count of a pass, and PyTorch running the same network on the same device in the same run.
import { spawnSync } from "node:child_process";
import { backendInfo } from "../../dist/sdk/backend/index.js";
import { probeWebgpu, adapterLine } from "../../dist/sdk/backend/webgpu.js";
import { resEncArch as resEncUNet } from "./lib/networks.js";

export const argv = process.argv.slice(2);
export const has = (name) => argv.includes(name);
export const opt = (name, def) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
export const PYTHON = process.env.NNSSL_ADAPT_BENCH_PYTHON ?? "/usr/bin/python3";

/** Selects the webgpu backend (bench.js has done so already; the GPU check's bundles run these files directly) and names its adapter. */
export async function adapter() {
  await backendInfo({ backend: "webgpu", origin: "--backend" });
  const a = await probeWebgpu();
  if (typeof a === "string") throw new Error(`bench: no WebGPU adapter: ${a}`);
  return { report: a, line: adapterLine(a) };
}

/**
 * nnssl's ResEncL (6 stages, 32..320 features, 1/3/4/6/6/6 residual blocks) as a ResidualEncoderUNet arch block;
 * `div` divides the features and `stages` keeps the first stages (the software default: 1/8 of the channels and 5
 * stages, so that a 32^3 patch still has 2^3 voxels at the bottom, where PyTorch's instance norm needs more than one).
 */
export function resEncArch(div, stages = 6) {
  const features = [32, 64, 128, 256, 320, 320].slice(0, stages).map((f) => Math.max(2, Math.round(f / div)));
  return resEncUNet(features, [1, 3, 4, 6, 6, 6].slice(0, stages));
}

/** GFLOP/s with three significant digits (SwiftShader gives well under 1). */
export const gflops = (flops, ms) => Number((flops / ms / 1e6).toPrecision(3));

const TORCH_SCRIPT = String.raw`
import json, math, sys, time
cfg = json.loads(sys.argv[1])
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
cuda = torch.cuda.is_available()
if not cuda and not cfg["allowCpu"]:
    print(json.dumps({"error": "PyTorch %s has no CUDA device here" % torch.__version__})); sys.exit(0)
dev = torch.device("cuda" if cuda else "cpu")
a = cfg["arch"]["arch_kwargs"]; f = a["features_per_stage"]; ds = cfg["section"] == "train"
try:
    from dynamic_network_architectures.architectures.unet import ResidualEncoderUNet
    model = ResidualEncoderUNet(1, a["n_stages"], f, nn.Conv3d, 3, a["strides"], a["n_blocks_per_stage"], cfg["classes"], a["n_conv_per_stage_decoder"],
        conv_bias=True, norm_op=nn.InstanceNorm3d, norm_op_kwargs={"eps": 1e-5, "affine": True}, nonlin=nn.LeakyReLU, nonlin_kwargs={"inplace": True}, deep_supervision=ds)
    impl = "dynamic_network_architectures ResidualEncoderUNet"
except ImportError:
    impl = "plain-torch ResidualEncoderUNet (dynamic_network_architectures is not installed: same layers, BasicBlockD blocks)"
    def cna(cin, cout, s=1): return [nn.Conv3d(cin, cout, 3, s, 1), nn.InstanceNorm3d(cout, affine=True)]
    class Block(nn.Module):
        def __init__(s, cin, cout, stride):
            super().__init__()
            s.a = nn.Sequential(*cna(cin, cout, stride), nn.LeakyReLU(0.01, True), *cna(cout, cout))
            s.skip = None
            if stride > 1 or cin != cout:
                s.skip = nn.Sequential(*([nn.AvgPool3d(stride, stride)] if stride > 1 else []), nn.Conv3d(cin, cout, 1, bias=False), nn.InstanceNorm3d(cout, affine=True))
        def forward(s, x): return F.leaky_relu(s.a(x) + (s.skip(x) if s.skip is not None else x), 0.01)
    class Net(nn.Module):
        def __init__(s):
            super().__init__()
            s.stem = nn.Sequential(*cna(1, f[0]), nn.LeakyReLU(0.01, True))
            s.stages = nn.ModuleList(nn.Sequential(*[Block((f[i - 1] if i else f[0]) if b == 0 else f[i], f[i], a["strides"][i][0] if b == 0 else 1)
                for b in range(a["n_blocks_per_stage"][i])]) for i in range(len(f)))
            s.ups = nn.ModuleList(nn.ConvTranspose3d(f[i + 1], f[i], 2, 2) for i in reversed(range(len(f) - 1)))
            s.decs = nn.ModuleList(nn.Sequential(*cna(2 * f[i], f[i]), nn.LeakyReLU(0.01, True)) for i in reversed(range(len(f) - 1)))
            s.heads = nn.ModuleList(nn.Conv3d(f[i], cfg["classes"], 1) for i in reversed(range(len(f) - 1)))
        def forward(s, x):
            skips = []
            x = s.stem(x)
            for st in s.stages:
                x = st(x); skips.append(x)
            outs = []
            for i, (up, dec, head) in enumerate(zip(s.ups, s.decs, s.heads)):
                x = dec(torch.cat([up(x), skips[-2 - i]], 1))
                if ds or i == len(s.ups) - 1: outs.append(head(x))
            return outs[::-1] if ds else outs[0]
    model = Net()
model = model.to(dev)
def sync():
    if cuda: torch.cuda.synchronize()
def timeit(fn, n):
    fn(); sync(); best = float("inf")
    for _ in range(max(1, n)):
        t = time.perf_counter(); fn(); sync(); best = min(best, time.perf_counter() - t)
    return best * 1000
out = {"torch": torch.__version__, "device": torch.cuda.get_device_name(0) if cuda else "cpu", "impl": impl}
if cfg["section"] == "train":
    p = cfg["patch"]; b = cfg["batch"]
    x = torch.randn(b, 1, p, p, p, device=dev)
    ys = [torch.randint(0, cfg["classes"], (b, p >> i, p >> i, p >> i), device=dev) for i in range(len(f) - 1)]
    w = [1 / 2 ** i for i in range(len(f) - 1)]; w[-1] = 0; tw = sum(w); w = [v / tw for v in w]
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.99, nesterov=True)
    def dc_ce(o, y):
        # nnU-Net's DC_and_CE_loss: soft Dice over the foreground classes (batch_dice False, smooth 1e-5) + cross-entropy
        pr = o.softmax(1); oh = F.one_hot(y, o.shape[1]).permute(0, 4, 1, 2, 3).float()
        ax = (2, 3, 4); inter = (pr * oh).sum(ax); den = pr.sum(ax) + oh.sum(ax)
        dc = ((2 * inter + 1e-5) / (den + 1e-5).clamp_min(1e-8))[:, 1:].mean()
        return F.cross_entropy(o, y) - dc
    def loss_of(outs): return sum(wi * dc_ce(o, y) for wi, o, y in zip(w, outs, ys) if wi > 0)
    def step():
        opt.zero_grad(set_to_none=True); l = loss_of(model(x)); l.backward(); opt.step(); l.item()
    out["stepMs"] = timeit(step, cfg["steps"])
    if cuda:
        scaler = torch.amp.GradScaler("cuda") if hasattr(torch.amp, "GradScaler") else torch.cuda.amp.GradScaler()
        def amp_step():
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.float16):
                l = loss_of(model(x))
            scaler.scale(l).backward(); scaler.step(opt); scaler.update(); l.item()
        out["ampStepMs"] = timeit(amp_step, cfg["steps"])
else:
    model.eval(); p = cfg["patch"]; S = cfg["size"]; tpb = cfg["tilesPerBatch"]
    vol = torch.randn(1, 1, S, S, S, device=dev)
    starts = [round(i * (S - p) / max(1, math.ceil((S - p) / (p * 0.5)))) for i in range(math.ceil((S - p) / (p * 0.5)) + 1)]
    tiles = [(a_, b_, c_) for a_ in starts for b_ in starts for c_ in starts]
    g = torch.arange(p, device=dev, dtype=torch.float32) - (p - 1) / 2; g = torch.exp(-g ** 2 / (2 * (p / 8) ** 2))
    gauss = (g[:, None, None] * g[None, :, None] * g[None, None, :]); gauss = gauss / gauss.max() * 10
    def predict(amp):
        acc = torch.zeros(cfg["classes"], S, S, S, device=dev); cnt = torch.zeros(S, S, S, device=dev)
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16, enabled=amp):
            for i in range(0, len(tiles), tpb):
                batch = tiles[i:i + tpb]
                xb = torch.cat([vol[:, :, a_:a_ + p, b_:b_ + p, c_:c_ + p] for a_, b_, c_ in batch])
                o = model(xb).float()
                for (a_, b_, c_), oi in zip(batch, o):
                    acc[:, a_:a_ + p, b_:b_ + p, c_:c_ + p] += oi * gauss; cnt[a_:a_ + p, b_:b_ + p, c_:c_ + p] += gauss
        (acc / cnt).argmax(0).cpu()
    out["tiles"] = len(tiles)
    out["predictMs"] = timeit(lambda: predict(False), cfg["steps"])
    if cuda: out["ampPredictMs"] = timeit(lambda: predict(True), cfg["steps"])
print(json.dumps(out))
`;

/**
 * PyTorch on the same network and shapes, on CUDA when it has a GPU; on the CPU only with `allowCpu` (the caller labels
 * it). Returns its timings, or { error } saying why there is no reference.
 */
export function runTorch(cfg) {
  const r = spawnSync(PYTHON, ["-c", TORCH_SCRIPT, JSON.stringify(cfg)], { encoding: "utf8", maxBuffer: 1 << 24 });
  if (r.status !== 0) {
    const why = r.error ? r.error.message : (r.stderr.trim().split("\n").pop() ?? `exit ${r.status}`);
    return { error: `${PYTHON}: ${why}` };
  }
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

/** The reference's line: what ran where, or why nothing did. */
export function describeTorch(t) {
  if (t.error) return `PyTorch reference: not available on this device (${t.error}); the time ratio to PyTorch stays open here`;
  return `PyTorch ${t.torch} on ${t.device === "cpu" ? "the CPU (no CUDA device here: the ratio compares the WebGPU adapter with PyTorch on the CPU)" : t.device}, ${t.impl}`;
}

/** What was built, in words. */
export function describeArch(arch, div, net) {
  const k = arch.arch_kwargs;
  const base = div === 1 && k.n_stages === 6 ? "nnssl ResEncL" : `ResEncL layout (${k.n_stages} stages, 1/${div} of the features)`;
  return `${base} [${k.features_per_stage}], ${(net.numParameters() / 1e6).toFixed(1)} M parameters`;
}

export const ratio = (ours, ref) => (ref === undefined ? "-" : `${(ours / ref).toFixed(2)}x`);
