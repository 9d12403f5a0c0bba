// Picks the fastest tfjs backend present, in this order: tfjs-node-gpu (optional; its install downloads libtensorflow
// for CUDA 11.2), webgpu on a hardware adapter (Dawn through Vulkan/Metal/D3D12, sdk/backend/webgpu.ts), tfjs-node
// (optional, like tfjs-node-gpu), our oneDNN CPU backend (native addon), pure JavaScript. A software WebGPU adapter
// (SwiftShader, llvmpipe) is never chosen on its own: it is slower than cpu-onednn. NNSSL_ADAPT_BACKEND, the `backend`
// option of initBackend() and the CLI's --backend force one. The package re-exports the very tfjs instance it uses, so
// notebooks and the SDK share tensors and backends.

import { createRequire } from "node:module";
import * as tf from "@tensorflow/tfjs";
import { backendOverride } from "../config/switches.js";
import { ConfigError } from "../errors.js";
import { registerConv3dTransposeGradient } from "./gradients.js";
import { registerOnednnBackend } from "./onednn.js";
import { adapterLine, probeWebgpu, registerWebgpuBackend, type WebgpuAdapterReport } from "./webgpu.js";

// Before anything computes a gradient: tf.conv3dTranspose (nnU-Net decoders) is not differentiable in stock tfjs 4.22.
registerConv3dTransposeGradient();

export { tf };

/** The backends a user can force (`tensorflow` is tfjs-node or tfjs-node-gpu, whichever is installed). */
export const BACKEND_NAMES = ["webgpu", "cpu-onednn", "cpu", "tensorflow"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** The environment variable that forces a backend (same values as --backend; sdk/config/switches.ts). */
const BACKEND_ENV = "NNSSL_ADAPT_BACKEND";

export interface BackendInfo {
  /** The active tfjs backend name: "tensorflow" (tfjs-node / tfjs-node-gpu), "webgpu", "cpu-onednn" or "cpu". */
  name: string;
  /** Which package or addon provides it. */
  provider: string;
  /** Why faster backends were not used, one line each. */
  skipped: string[];
  /** The WebGPU adapter when webgpu is active. */
  adapter?: WebgpuAdapterReport;
  /** Whether the backend was forced (--backend, NNSSL_ADAPT_BACKEND, initBackend({ backend })). */
  forced: boolean;
}

export interface InitBackendOptions {
  /** Force this backend instead of choosing; an error says why when it cannot start. Default: NNSSL_ADAPT_BACKEND. */
  backend?: string;
  /** How the user named it, for error messages (default "NNSSL_ADAPT_BACKEND" or "backend"). */
  origin?: string;
}

let selected: Promise<BackendInfo> | undefined;
let selectedFor: string | undefined;

const require = createRequire(import.meta.url);

function tryNodeBinding(pkg: string, skipped: string[]): boolean {
  try {
    require(pkg);
    return true;
  } catch (err) {
    const msg = (err as Error).message.split("\n")[0];
    skipped.push(`${pkg}: ${(err as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND" ? "not installed" : msg}`);
    return false;
  }
}

/**
 * The cpu backend (and ours, built on it) prints an "install tfjs-node" banner on first use; we report the backend
 * ourselves instead (nnssl-adapt doctor).
 */
function silenceCpuBanner(): void {
  for (const name of ["cpu", tf.getBackend()]) {
    const backend = tf.findBackend(name) as unknown as { firstUse?: boolean } | null;
    if (backend && "firstUse" in backend) backend.firstUse = false;
  }
}

async function activate(name: string): Promise<boolean> {
  if (!(await tf.setBackend(name))) return false;
  await tf.ready();
  silenceCpuBanner();
  return true;
}

/** Starts exactly `name` or throws a ConfigError that says why it cannot. */
async function force(name: string, origin: string): Promise<BackendInfo> {
  const fail = (why: string): never => {
    throw new ConfigError(`${origin} ${name}: cannot start: ${why}`);
  };
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) fail(`unknown backend (expected one of ${BACKEND_NAMES.join(", ")})`);
  if (name === "webgpu") {
    const w = await registerWebgpuBackend();
    if (!w.available) fail(w.reason);
    if (!(await activate("webgpu"))) fail("the WebGPU device could not be created (see the messages above)");
    return { name, provider: `webgpu (Dawn): ${w.reason}`, skipped: [], adapter: w.adapter!, forced: true };
  }
  if (name === "cpu-onednn") {
    const o = await registerOnednnBackend();
    if (!o.available || !(await activate(name))) fail(o.reason);
    return { name, provider: `native addon (${o.reason})`, skipped: [], forced: true };
  }
  if (name === "tensorflow") {
    const skipped: string[] = [];
    const pkg = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"].find((p) => tryNodeBinding(p, skipped));
    if (!pkg || !(await activate(name))) fail(skipped.join("; ") || "tfjs-node did not register its backend");
    return { name, provider: pkg!, skipped, forced: true };
  }
  await activate("cpu");
  return { name: "cpu", provider: "@tensorflow/tfjs (pure JavaScript)", skipped: [], forced: true };
}

async function choose(): Promise<BackendInfo> {
  const skipped: string[] = [];
  if (tryNodeBinding("@tensorflow/tfjs-node-gpu", skipped) && (await activate("tensorflow"))) {
    return { name: "tensorflow", provider: "@tensorflow/tfjs-node-gpu", skipped, forced: false };
  }
  const probe = await probeWebgpu();
  if (typeof probe === "string") skipped.push(`webgpu: ${probe}`);
  else if (probe.software) skipped.push(`webgpu: ${adapterLine(probe)}: a software adapter, slower than the CPU backends (use it with --backend webgpu)`);
  else {
    const w = await registerWebgpuBackend();
    if (w.available && (await activate("webgpu")))
      return { name: "webgpu", provider: `webgpu (Dawn): ${w.reason}`, skipped, adapter: w.adapter!, forced: false };
    skipped.push(`webgpu: ${w.available ? "the WebGPU device could not be created" : w.reason}`);
  }
  if (tryNodeBinding("@tensorflow/tfjs-node", skipped) && (await activate("tensorflow"))) {
    return { name: "tensorflow", provider: "@tensorflow/tfjs-node", skipped, forced: false };
  }
  const onednn = await registerOnednnBackend();
  if (onednn.available && (await activate("cpu-onednn"))) {
    return { name: "cpu-onednn", provider: `native addon (${onednn.reason})`, skipped, forced: false };
  }
  skipped.push(`cpu-onednn: ${onednn.reason}`);
  await activate("cpu");
  return { name: "cpu", provider: "@tensorflow/tfjs (pure JavaScript)", skipped, forced: false };
}

/**
 * Selects the backend once and returns its name: the fastest available, or the one forced by `options.backend` or
 * NNSSL_ADAPT_BACKEND (webgpu, cpu-onednn, cpu, tensorflow). A different forced backend in a later call switches to it.
 * @example const name = await initBackend(); // "cpu-onednn" on a machine with libdnnl and no GPU
 * @example await initBackend({ backend: "webgpu" }); // throws a ConfigError saying why when there is no adapter
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<string> {
  return (await backendInfo(options)).name;
}

/** Like initBackend, with the provider and the reasons faster backends were skipped (shown by `nnssl-adapt doctor`). */
export function backendInfo(options: InitBackendOptions = {}): Promise<BackendInfo> {
  // Once selected, only an explicit different `backend` switches (the environment is read for the first choice).
  if (selected && (options.backend === undefined || options.backend === selectedFor)) return selected;
  const wanted = options.backend ?? backendOverride();
  const origin = options.origin ?? (options.backend !== undefined ? "backend" : BACKEND_ENV);
  selectedFor = wanted;
  const attempt = wanted ? force(wanted, origin) : choose();
  // A failed forced start is not remembered: the next call may ask for another backend.
  selected = attempt.catch((err: unknown) => {
    selected = undefined;
    selectedFor = undefined;
    throw err;
  });
  return selected;
}

/**
 * Upstream's `-device`: "cpu" (or none) runs on whatever backend was selected; "gpu"/"cuda" needs a GPU backend
 * (webgpu or tfjs-node-gpu; a forced software adapter counts, which is how tests run it); "mps" has no tfjs backend.
 */
export function checkDevice(device: string | undefined, info: BackendInfo): void {
  if (device === undefined || device === "cpu") return;
  if (device === "gpu" || device === "cuda") {
    const gpu = (info.name === "webgpu" && (info.forced || !info.adapter?.software)) || info.provider === "@tensorflow/tfjs-node-gpu";
    if (!gpu) {
      throw new ConfigError(
        `-device ${device}: no GPU backend (${info.name} is active; nnssl-adapt doctor says why webgpu was not chosen); -device cpu runs on ${info.name}`,
      );
    }
    return;
  }
  throw new ConfigError(`-device must be cpu or gpu, got ${device}`);
}

/** Whether a GPU tensor can only be read asynchronously (WebGPU), so callers must use `await tensor.data()`. */
export function readsAreAsyncOnly(): boolean {
  return tf.getBackend() === "webgpu";
}

/**
 * Downloads these tensors' values (once each) so that synchronous reads of them (dataSync, used when building state
 * dicts for checkpoints) work on the webgpu backend too. A no-op where reads are synchronous anyway.
 */
export async function cacheOnCpu(tensors: readonly tf.Tensor[]): Promise<void> {
  if (readsAreAsyncOnly()) await Promise.all(tensors.map((t) => t.data()));
}
