#!/usr/bin/env node
// Correctness on the machine's WebGPU adapter, as scripts/gpu-check.sh runs it on a GPU machine (no vitest there):
// the kernels the networks train with (conv3d and its gradients, transposed conv, fused instance norm, softmax) against
// tfjs' pure-JS cpu backend within 1e-4 relative, at sizes that exercise a real GPU's tiling, and the networks'
// outputs against PyTorch's fixtures (test/fixtures/forward) within 1e-4. Prints one line per check; exits 1 on a failure.
// Usage: node scripts/gpu-check/check.js [FIXTURES_FOLDER]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { backendInfo, tf } from "../../dist/sdk/backend/index.js";
import { parseNpy } from "../../dist/sdk/io/npy.js";
import { buildNetwork } from "../../dist/sdk/networks/index.js";
import { instanceNorm, transposedConvNd } from "../../dist/sdk/networks/layers.js";

const fixtures = process.argv[2] ?? new URL("../../test/fixtures/forward/", import.meta.url).pathname;
const info = await backendInfo({ backend: "webgpu", origin: "--backend" });
console.log(`adapter: ${info.provider}`);
let failures = 0;
const report = (what, err, tol = 1e-4) => {
  const ok = err < tol;
  if (!ok) failures++;
  console.log(`${ok ? "PASS" : "FAIL"} ${what}: ${err.toExponential(2)} (limit ${tol})`);
};

let seed = 1;
function rand(shape, scale = 1, offset = 0, from = seed++) {
  let a = from >>> 0;
  const out = new Float32Array(shape.reduce((p, q) => p * q, 1));
  for (let i = 0; i < out.length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale + offset;
  }
  return { a: out, shape };
}

/** Runs fn on cpu and on webgpu; returns max |gpu - cpu| / max |cpu| over all outputs. */
async function compare(fn) {
  const run = async (name) => {
    await tf.setBackend(name);
    const ts = /** @type {tf.Tensor[]} */ (tf.tidy(fn));
    const out = await Promise.all(ts.map((t) => t.data()));
    tf.dispose(ts);
    return out;
  };
  const ref = await run("cpu");
  const gpu = await run("webgpu");
  let worst = 0;
  ref.forEach((r, i) => {
    let scale = 0,
      diff = 0;
    for (let j = 0; j < r.length; j++) {
      scale = Math.max(scale, Math.abs(r[j]));
      diff = Math.max(diff, Math.abs(gpu[i][j] - r[j]));
    }
    worst = Math.max(worst, diff / scale);
  });
  return worst;
}

const withGrads = (f, ins) => () => {
  const xs = ins.map((i) => tf.tensor(i.a, i.shape));
  const y = f(...xs);
  // the same upstream gradient on both backends
  const w = tf.tensor(rand(y.shape, 1, 0, 12345).a, y.shape);
  return [y, ...tf.grads((...v) => tf.sum(tf.mul(f(...v), w)))(xs)];
};

for (const [n, s, c, o, k, st] of [
  [2, 24, 32, 32, 3, 1],
  [2, 20, 32, 64, 3, 2],
  [1, 12, 64, 64, 1, 1],
  [2, 16, 1, 32, 3, 1],
]) {
  report(
    `conv3d ${n}x${c}x${s}^3 -> ${o}, kernel ${k}, stride ${st} (y, dx, dw)`,
    await compare(
      withGrads((x, w) => tf.conv3d(x, w, st, /** @type {"valid"} */ (k === 1 ? "valid" : 1)), [rand([n, s, s, s, c]), rand([k, k, k, c, o], 0.2)]),
    ),
  );
}
report(
  "transposed conv3d 2x2x2, 64 -> 32 (y, dx, dw)",
  await compare(withGrads((x, w) => transposedConvNd(x, w, null, [2, 2, 2]), [rand([2, 10, 10, 10, 64]), rand([2, 2, 2, 32, 64], 0.2)])),
);
// Without the activation for the CT-like values: LeakyReLU's derivative jumps at 0, and float32 means that differ in
// the last bit put the few voxels that sit on the mean on different sides.
report(
  "instance norm + LeakyReLU (fused on webgpu, composed tfjs ops on cpu), 2x32x32^3 (y, dx, dgamma, dbeta)",
  await compare(withGrads((x, g, b) => instanceNorm(x, g, b, 1e-5, 0.01), [rand([2, 32, 32, 32, 32]), rand([32], 0.5, 1), rand([32], 0.5)])),
);
report(
  "instance norm, mean 100x the spread, 2x32x32^3 (y, dx, dgamma, dbeta)",
  await compare(withGrads((x, g, b) => instanceNorm(x, g, b, 1e-5, null), [rand([2, 32, 32, 32, 32], 3, 300), rand([32], 0.5, 1), rand([32], 0.5)])),
);
report("softmax over 4 classes, 2x48^3 (y, dx)", await compare(withGrads((x) => tf.softmax(x), [rand([2, 48, 48, 48, 4], 3)])));

await tf.setBackend("webgpu");
for (const name of ["ResidualEncoderUNet_2ch", "PlainConvUNet_aniso", "Primus_tiny"]) {
  const dir = join(fixtures, name);
  const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  const { input_channels, num_classes, deep_supervision, input_shape, ...archKwargs } = cfg.kwargs;
  const net = buildNetwork(
    { network_class_name: cfg.class, arch_kwargs: archKwargs, _kw_requires_import: ["conv_op", "norm_op", "dropout_op", "nonlin"] },
    { inputChannels: input_channels, numClasses: num_classes, deepSupervision: deep_supervision === true, patchSize: input_shape, seed: 1 },
  );
  await net.loadStateDict(join(dir, "state_dict.pth"));
  const npy = (f) => parseNpy(new Uint8Array(readFileSync(join(dir, f))), f);
  const input = npy("input.npy");
  const x = tf.tensor(/** @type {Float32Array} */ (input.data), input.shape);
  const out = net.forward(x);
  const outs = Array.isArray(out) ? out : [out];
  let worst = 0;
  for (const [i, ref] of cfg.outputs.entries()) {
    const got = await outs[i].data();
    const want = /** @type {Float32Array} */ (npy(ref.file).data);
    for (let j = 0; j < want.length; j++) worst = Math.max(worst, Math.abs(got[j] - want[j]));
  }
  report(`${name} forward vs PyTorch (max abs difference)`, worst);
  tf.dispose([x, ...outs]);
  net.dispose();
}
console.log(failures ? `${failures} check(s) failed` : "all checks passed");
process.exit(failures ? 1 : 0);
