// The webgpu tests run every kernel on whatever WebGPU adapter Dawn finds: a real GPU where there is one, otherwise
// SwiftShader (Debian's chromium package; sdk/backend/webgpu.ts offers it when no GPU driver is installed). Without
// any adapter they skip with the reason, except under CI=true, where .ci/run installs chromium and they must run.

import { tf } from "../../sdk/backend/index.js";
import { registerOnednnBackend } from "../../sdk/backend/onednn.js";
import { registerWebgpuBackend } from "../../sdk/backend/webgpu.js";

const status = await registerWebgpuBackend();

/** Null when a webgpu backend can run, else why not (for describe.skipIf titles). */
export const webgpuSkipReason: string | null = status.available || process.env.CI === "true" ? null : `no WebGPU adapter: ${status.reason}`;
if (webgpuSkipReason) console.log(`webgpu tests skipped: ${webgpuSkipReason}`);

export const adapterDescription = status.adapter ? `${status.adapter.architecture} (${status.adapter.description})` : "none";

/** The reference backend: cpu-onednn where the addon is built, else tfjs' pure-JS cpu backend. */
export async function referenceBackend(): Promise<string> {
  const o = await registerOnednnBackend();
  return o.available ? "cpu-onednn" : "cpu";
}

async function use(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} could not be started`);
  await tf.ready();
}

/**
 * Runs `fn` (which builds its inputs from seeded arrays) on the reference backend and on webgpu, and returns the values
 * of what it returns on each. Everything `fn` creates is disposed.
 */
export async function onReferenceAndWebgpu(fn: () => tf.Tensor[]): Promise<{ ref: Float32Array[]; gpu: Float32Array[] }> {
  const run = async (name: string) => {
    await use(name);
    const ts = tf.tidy(fn);
    const out = await Promise.all(ts.map(async (t) => Float32Array.from((await t.data()) as Float32Array)));
    tf.dispose(ts);
    return out;
  };
  const ref = await run(await referenceBackend());
  const gpu = await run("webgpu");
  return { ref, gpu };
}

/** max |gpu - ref| / max |ref| below `tol` (1e-4 unless given); a reference of all zeros fails, it would test nothing. */
export function relativeError(gpu: Float32Array, ref: Float32Array): number {
  if (gpu.length !== ref.length) throw new Error(`length ${gpu.length} vs ${ref.length}`);
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    scale = Math.max(scale, Math.abs(ref[i]!));
    worst = Math.max(worst, Math.abs(gpu[i]! - ref[i]!));
  }
  if (!(scale > 0)) throw new Error("the reference is all zeros: the case tests nothing");
  return worst / scale;
}

export async function useWebgpu(): Promise<void> {
  await use("webgpu");
}
