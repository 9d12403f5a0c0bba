// Picks the fastest tfjs backend present, in this order: tfjs-node-gpu, tfjs-node (both optional dependencies whose
// install downloads libtensorflow, so they are often absent), our oneDNN CPU backend (native addon), pure JavaScript.
// The package re-exports the very tfjs instance it uses, so notebooks and the SDK share tensors and backends.

import { createRequire } from "node:module";
import * as tf from "@tensorflow/tfjs";
import { registerConv3dTransposeGradient } from "./gradients.js";
import { registerOnednnBackend } from "./onednn.js";

// Before anything computes a gradient: tf.conv3dTranspose (nnU-Net decoders) is not differentiable in stock tfjs 4.22.
registerConv3dTransposeGradient();

export { tf };

export interface BackendInfo {
  /** The active tfjs backend name: "tensorflow" (tfjs-node / tfjs-node-gpu), "cpu-onednn" or "cpu". */
  name: string;
  /** Which package or addon provides it. */
  provider: string;
  /** Why faster backends were not used, one line each. */
  skipped: string[];
}

let selected: Promise<BackendInfo> | undefined;

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

async function select(preferred?: string): Promise<BackendInfo> {
  const skipped: string[] = [];
  if (preferred) {
    await tf.setBackend(preferred);
    await tf.ready();
    silenceCpuBanner();
    return { name: tf.getBackend(), provider: "explicit", skipped };
  }
  for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    if (tryNodeBinding(pkg, skipped) && (await tf.setBackend("tensorflow"))) {
      await tf.ready();
      return { name: "tensorflow", provider: pkg, skipped };
    }
  }
  const onednn = await registerOnednnBackend();
  if (onednn.available && (await tf.setBackend("cpu-onednn"))) {
    await tf.ready();
    silenceCpuBanner();
    return { name: "cpu-onednn", provider: `native addon (${onednn.reason})`, skipped };
  }
  skipped.push(`cpu-onednn: ${onednn.reason}`);
  await tf.setBackend("cpu");
  await tf.ready();
  silenceCpuBanner();
  return { name: "cpu", provider: "@tensorflow/tfjs (pure JavaScript)", skipped };
}

/**
 * Selects the best available backend once and returns its name. Set NNSSL_ADAPT_BACKEND (e.g. "cpu") to force one.
 * @example const name = await initBackend(); // "cpu-onednn" on a machine with libdnnl
 */
export async function initBackend(): Promise<string> {
  return (await backendInfo()).name;
}

/** Like initBackend, with the provider and the reasons faster backends were skipped (shown by `nnssl-adapt doctor`). */
export function backendInfo(): Promise<BackendInfo> {
  selected ??= select(process.env.NNSSL_ADAPT_BACKEND || undefined);
  return selected;
}
