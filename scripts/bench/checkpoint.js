// `npm run bench checkpoint [sizeMB]`: load time of a ~400 MB nnssl-like checkpoint with our reader vs torch.load of
// the same file in the same run. The file is made by /usr/bin/python3's torch when it is installed (else by our
// writer, and torch is skipped). Each loader runs 3 times after a warm-up read (page cache); the best time counts.
// Our load includes what torch's does: reading the file, CRC checks, unpickling and building every tensor.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { loadTorchFile, saveTorchFile, TorchTensor, orderedDict } from "../../dist/sdk/io/torch/index.js";
import { initBackend } from "../../dist/sdk/backend/index.js";

// As in any SDK or CLI run: with the oneDNN addon loaded, checkpoints are memory-mapped instead of read.
const backend = await initBackend();

const PY = "/usr/bin/python3";
const sizeMB = Number(process.argv[2] ?? 400);
const targetFloats = Math.round((sizeMB * 1024 * 1024) / 4);
const dir = mkdtempSync(path.join(tmpdir(), "nnssl-bench-ckpt-"));
const file = path.join(dir, "checkpoint_final.pth");

/** ResEnc-like layer shapes until the target size is reached; each conv also appears under an alias key. */
function layerShapes() {
  const widths = [32, 64, 128, 256, 320, 320];
  /** @type {[string, number[]][]} */
  const out = [];
  let total = 0;
  for (let i = 0; total < targetFloats; i++) {
    const c = widths[i % widths.length];
    const cin = widths[Math.max(0, (i % widths.length) - 1)];
    out.push(
      [`encoder.stages.${i}.conv.weight`, [c, cin, 3, 3, 3]],
      [`encoder.stages.${i}.conv.bias`, [c]],
      [`encoder.stages.${i}.norm.weight`, [c]],
      [`encoder.stages.${i}.norm.bias`, [c]],
    );
    total += c * cin * 27 + 3 * c;
  }
  return out;
}

const hasTorch = existsSync(PY) && spawnSync(PY, ["-c", "import torch"], { stdio: "ignore" }).status === 0;
const shapes = layerShapes();
if (hasTorch) {
  const code = `
import sys, json, torch
torch.manual_seed(0)
sd = {}
for name, shape in json.loads(sys.stdin.read()):
    t = torch.randn(*shape)
    sd[name] = t
    if name.endswith("conv.weight"): sd[name.replace(".conv.", ".all_modules.0.")] = t
plan = {"architecture_plans": {"arch_class_name": "ResEncL", "arch_kwargs": None, "arch_kwargs_requiring_import": None},
        "key_to_encoder": "encoder.stages", "key_to_stem": "encoder.stem", "key_to_lpe": None}
torch.save({"network_weights": sd, "nnssl_adaptation_plan": plan, "trainer_name": "bench"}, sys.argv[1])`;
  const r = spawnSync(PY, ["-c", code, file], {
    input: JSON.stringify(shapes),
    stdio: ["pipe", "inherit", "inherit"],
    env: { ...process.env, OMP_NUM_THREADS: "1" },
  });
  if (r.status !== 0) throw new Error("generating the checkpoint with torch failed");
} else {
  const sd = {};
  let seed = 1;
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5;
    sd[name] = TorchTensor.fromTypedArray(a, shape);
    if (name.endsWith("conv.weight")) sd[name.replace(".conv.", ".all_modules.0.")] = sd[name];
  }
  await saveTorchFile(file, { network_weights: orderedDict(sd), trainer_name: "bench" });
}
const mb = statSync(file).size / 1024 / 1024;
readFileSync(file); // warm the page cache for both loaders

const ours = [];
let ntensors = 0;
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  const ck = /** @type {any} */ (await loadTorchFile(file));
  ours.push(performance.now() - t0);
  ntensors = Object.keys(ck.network_weights).length;
}
const best = (a) => Math.min(...a);
console.log(`checkpoint: ${mb.toFixed(1)} MB, ${ntensors} state-dict keys (${hasTorch ? "written by torch.save" : "written by our writer"})`);
console.log(
  `  backend ${backend}: the file is ${backend === "cpu-onednn" && process.env.NNSSL_ADAPT_MAP_FILES !== "0" ? "mapped (copy-on-write, prefaulted)" : "read"}`,
);
console.log(`  ours  loadTorchFile: best ${best(ours).toFixed(0)} ms (runs: ${ours.map((x) => x.toFixed(0)).join(", ")})`);
if (hasTorch) {
  const code = `
import sys, time, torch
ts = []
for _ in range(3):
    t = time.perf_counter(); torch.load(sys.argv[1]); ts.append((time.perf_counter() - t) * 1000)
print(" ".join(f"{x:.0f}" for x in ts))`;
  const r = spawnSync(PY, ["-c", code, file], { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: "1" } });
  if (r.status !== 0) throw new Error(`torch.load failed: ${r.stderr}`);
  const torchTimes = r.stdout.trim().split(" ").map(Number);
  console.log(`  torch torch.load:    best ${best(torchTimes).toFixed(0)} ms (runs: ${torchTimes.join(", ")})`);
  console.log(`  ratio ours/torch: ${(best(ours) / best(torchTimes)).toFixed(2)} (< 1 means faster than torch; shared machine, single run: noisy)`);
} else {
  console.log("  torch: /usr/bin/python3 with torch not found, no reference time");
}

// Writing (informative): saveTorchFile of what we loaded vs torch.save of what torch loaded.
const loaded = await loadTorchFile(file);
const out = path.join(dir, "resaved.pth");
const writes = [];
for (let i = 0; i < 2; i++) {
  const t0 = performance.now();
  await saveTorchFile(out, loaded);
  writes.push(performance.now() - t0);
  rmSync(out, { force: true });
}
console.log(`  ours  saveTorchFile: best ${best(writes).toFixed(0)} ms (runs: ${writes.map((x) => x.toFixed(0)).join(", ")})`);
if (hasTorch) {
  const code = `
import sys, time, torch, os
o = torch.load(sys.argv[1]); ts = []
for _ in range(2):
    t = time.perf_counter(); torch.save(o, sys.argv[2]); ts.append((time.perf_counter() - t) * 1000); os.remove(sys.argv[2])
print(" ".join(f"{x:.0f}" for x in ts))`;
  const r = spawnSync(PY, ["-c", code, file, out], { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: "1" } });
  if (r.status === 0) {
    const tw = r.stdout.trim().split(" ").map(Number);
    console.log(`  torch torch.save:    best ${best(tw).toFixed(0)} ms (runs: ${tw.join(", ")})`);
    console.log(`  ratio ours/torch (save): ${(best(writes) / best(tw)).toFixed(2)}`);
  }
}
rmSync(dir, { recursive: true, force: true });
