// What the benches share to state how close a run comes to the machine: the fp32 peak of this CPU (cores x clock x FMA
// width, from /proc/cpuinfo, stated in the output) and the convolution FLOPs a pass executes (counted from a profiled
// pass). Not a bench itself: scripts/bench.js runs only the files directly in scripts/bench/.
import { cpus } from "node:os";
import { readFileSync } from "node:fs";
import { tf } from "../../../dist/sdk/backend/index.js";

/**
 * fp32 peak GFLOP/s and how it was derived: cores x the clock in /proc/cpuinfo x fp32 lanes per FMA x 2 (an FMA is two
 * flops) x 2 FMA pipes per core (every current x86 server core has two). AMD before Zen 5 (family 26) executes 512-bit
 * FMAs on 256-bit pipes, so AVX-512 doubles no throughput there. /proc/cpuinfo gives the nominal clock; boost clocks run
 * higher, so a measured fraction can exceed what the stated peak allows. NNSSL_ADAPT_PEAK_GFLOPS overrides.
 */
export function machinePeak() {
  const info = readFileSync("/proc/cpuinfo", "utf8");
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(info)?.[1] ?? "").split(" "));
  const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)$/m.exec(info)?.[1] ?? 0);
  const vendor = /^vendor_id\s*:\s*(\S+)/m.exec(info)?.[1] ?? "";
  const family = Number(/^cpu family\s*:\s*(\d+)/m.exec(info)?.[1] ?? 0);
  const model = /^model name\s*:\s*(.*)$/m.exec(info)?.[1]?.trim() ?? "unknown CPU";
  const cores = cpus().length;
  let lanes = flags.has("avx512f") ? 16 : flags.has("fma") ? 8 : 4;
  const amd256 = lanes === 16 && vendor === "AuthenticAMD" && family < 26;
  if (amd256) lanes = 8;
  const pipes = 2;
  const computed = cores * mhz * 1e-3 * lanes * 2 * pipes;
  const override = Number(process.env.NNSSL_ADAPT_PEAK_GFLOPS);
  const gflops = override > 0 ? override : computed;
  const how =
    override > 0
      ? `NNSSL_ADAPT_PEAK_GFLOPS=${override}`
      : `${model}, ${cores} cores x ${mhz.toFixed(0)} MHz (/proc/cpuinfo) x ${lanes} fp32 lanes${amd256 ? " (AVX-512 on 256-bit pipes)" : ""} x 2 (FMA) x ${pipes} FMA pipes; nominal clock, boost runs higher, so more than 100% can show`;
  return { gflops, how };
}

/** "N GFLOP/s effective, P% of peak" for `flops` executed in `seconds`. */
export function rate(flops, seconds, peak) {
  const g = flops / seconds / 1e9;
  return `${g.toFixed(0)} GFLOP/s effective, ${((100 * g) / peak.gflops).toFixed(0)}% of fp32 peak`;
}

/**
 * Convolution and matmul FLOPs (2 per multiply-add) of the kernels `run` executes, counted from a profiled call and
 * multiplied by `scale` (for a U-Net, profile a small input and scale by the voxel ratio: every layer's voxels scale
 * with the input's; not for attention, whose cost grows with the square of the tokens). The outputs are read
 * asynchronously before they are freed, as the webgpu backend requires.
 */
export async function convFlops(run, scale = 1) {
  const r = await tf.profile(async () => {
    const out = run();
    const list = out instanceof tf.Tensor ? [out] : Object.values(out); // a tensor, an array or a map of tensors
    await Promise.all(list.map((t) => t.data()));
    tf.dispose(out);
  });
  const vol = (s) => s.reduce((a, b) => a * b, 1);
  let flops = 0;
  for (const k of r.kernels) {
    if (k.name === "Conv3D") {
      const w = k.inputShapes[1]; // DHWIO
      flops += 2 * vol(k.outputShapes[0]) * vol(w.slice(0, 4));
    } else if (k.name === "Conv3DBackpropInputV2") {
      // transposed conv (kernel = stride) forward, or a conv's data gradient: one MAC per (dy voxel, filter element).
      const [dy, w] = k.inputShapes;
      flops += 2 * vol(dy) * vol(w.slice(0, 3)) * w[3];
    } else if (k.name === "Conv3DBackpropFilterV2") {
      const dy = k.inputShapes[1];
      flops += 2 * vol(dy) * vol(k.outputShapes[0].slice(0, 4));
    } else if (k.name === "BatchMatMul" || k.name === "_FusedMatMul") {
      // out [..., M, N]; a [..., M, K] or [..., K, M] holds K x M values per batch entry.
      const [a] = k.inputShapes;
      const out = k.outputShapes[0];
      const m = out[out.length - 2];
      const kk = (a[a.length - 1] * a[a.length - 2]) / m;
      flops += 2 * vol(out) * kk;
    }
  }
  return flops * scale;
}
