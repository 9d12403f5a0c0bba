// The one seam to the optional oneDNN native addon (native/, built at install time by scripts/build-native.js).
// Nothing else loads the .node file. When it loads, a tfjs backend `cpu-onednn` is registered: a MathBackendCPU
// instance whose Conv3D/Conv2D (forward and both gradients) and BatchMatMul kernels run in oneDNN
// (sdk/backend/onednn-kernels.ts) while every other kernel is the pure-JS cpu one.

import { freeNativeOnDispose, keepFreedHeap, mapCheckpointFiles, preferPassiveOpenMp, useCpuBf16 } from "../config/switches.js";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { registerOnednnKernels, setConvPrecision, type OnednnAddon } from "./onednn-kernels.js";
import { releaseBuffersOnDispose } from "./onednn-memory.js";
import { setFileMapper } from "../io/torch/load.js";

export const ONEDNN_BACKEND_NAME = "cpu-onednn";
const ADDON_FILE = join("native", "build", "Release", "nnssl_onednn.node");

export interface OnednnStatus {
  available: boolean;
  /** Why the addon is not available (not built, load error), or the oneDNN version when it is. */
  reason: string;
}

export interface RegisterOnednnOptions {
  /** Load the addon from this file instead of native/build/Release/nnssl_onednn.node (tests force a missing one). */
  addonPath?: string;
}

/** native/build/Release/nnssl_onednn.node of this package, from sdk/backend (vitest) or dist/sdk/backend (built). */
function defaultAddonPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 4; up++) {
    const candidate = join(dir, ADDON_FILE);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return join(dirname(fileURLToPath(import.meta.url)), "..", "..", ADDON_FILE);
}

let registered: OnednnStatus | undefined;
let active: OnednnAddon | undefined;

/**
 * How many oneDNN primitives are cached (one per kernel and shape), or null when the addon is not loaded. Tests use it
 * to prove a kernel ran in oneDNN rather than in its pure-JS fallback.
 */
export function onednnPrimitiveCount(): number | null {
  return active ? active.cacheSize() : null;
}

/**
 * Tries to load the native addon and register the `cpu-onednn` tfjs backend (once; later calls return the same
 * status unless `addonPath` names another file). Never throws: a missing or broken addon is reported as `{ available: false, reason }`.
 * @example const { available, reason } = await registerOnednnBackend(); if (available) await tf.setBackend("cpu-onednn");
 */
export async function registerOnednnBackend(options: RegisterOnednnOptions = {}): Promise<OnednnStatus> {
  // An explicit path is always tried (and reported) as given; the default one is loaded once.
  if (options.addonPath !== undefined) return load(options.addonPath);
  if (!registered?.available) registered = load(defaultAddonPath());
  return registered;
}

export type OnednnPrecision = "fp32" | "bf16";

/** Whether the CPU has the bf16 dot-product instructions oneDNN's bf16 kernels use (AVX512-BF16 or AMX-BF16; Linux). */
export function cpuHasBf16(): boolean {
  try {
    const flags = /^flags\s*:\s*(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.split(" ") ?? [];
    return flags.includes("avx512_bf16") || flags.includes("amx_bf16");
  } catch {
    return false;
  }
}

/**
 * Sets the precision of cpu-onednn's convolutions (`--precision`): for inference, or with `training` for training as
 * well (bf16 forward and backward convolutions, fp32 accumulation; master weights, optimizer state and the loss stay
 * fp32). bf16 takes effect only where the active backend is cpu-onednn and the CPU has bf16 instructions; otherwise
 * fp32 stays, and `notice` says why in one line.
 */
export function setOnednnPrecision(precision: OnednnPrecision, options: { training?: boolean } = {}): { precision: OnednnPrecision; notice: string | null } {
  if (precision === "fp32") {
    setConvPrecision("fp32");
    return { precision, notice: null };
  }
  let why: string | null = null;
  if (tf.getBackend() !== ONEDNN_BACKEND_NAME) why = `the ${tf.getBackend()} backend has no bf16 kernels (cpu-onednn has)`;
  else if (!cpuHasBf16()) why = "this CPU has no bf16 instructions (avx512_bf16 or amx_bf16)";
  else if (!useCpuBf16()) why = "NNSSL_ADAPT_BF16=0 turns the CPU's bf16 instructions off";
  setConvPrecision(why ? "fp32" : "bf16", options);
  return why ? { precision: "fp32", notice: `--precision bf16: ${why}; computing in fp32` } : { precision: "bf16", notice: null };
}

/** Freed heap glibc may keep for reuse (beyond it, the top of the heap goes back to the kernel). */
const KEEP_FREED_BYTES = 1 << 30;

/**
 * Tensor buffers of a 3D U-Net are tens of MB and are freed and re-allocated in the same sizes every step; glibc maps
 * each one freshly from the kernel (page faults plus zeroing, about 0.5 ms per MB: a few hundred ms per training
 * step). The addon tells glibc to reuse its heap instead (native/src/addon.cc, keepLargeBlocks). The process then
 * keeps up to 1 GiB of freed memory. Skipped when the user tunes glibc through its own MALLOC_* variables, or sets
 * NNSSL_ADAPT_MALLOC=default.
 */
function tuneAllocator(lib: OnednnAddon): void {
  if (keepFreedHeap()) lib.keepLargeBlocks(KEEP_FREED_BYTES);
}

function load(file: string): OnednnStatus {
  if (!existsSync(file)) {
    return {
      available: false,
      reason: `native addon not built (${file} missing; apt-get install libdnnl-dev, then node scripts/build-native.js)`,
    };
  }
  // libgomp reads this once, when the addon pulls it in. Its default lets idle OpenMP threads spin, which on a small
  // machine steals the core that tfjs' JavaScript kernels (everything not native) run on between our calls;
  // measured on a loaded 2-core box: an 8 MB multiply 26 ms spinning vs 5 ms passive, conv3d unchanged.
  preferPassiveOpenMp();
  let lib: OnednnAddon;
  try {
    lib = createRequire(import.meta.url)(file) as OnednnAddon;
  } catch (err) {
    // Typically "libdnnl.so.2: cannot open shared object file" after libdnnl was removed.
    return { available: false, reason: `native addon failed to load: ${(err as Error).message.split("\n")[0]}` };
  }
  tuneAllocator(lib);
  // Checkpoints are mapped rather than read (sdk/io/torch/load.ts); NNSSL_ADAPT_MAP_FILES=0 keeps plain reads.
  if (mapCheckpointFiles() && typeof lib.mapFile === "function") setFileMapper((file) => lib.mapFile(file));
  try {
    const cpuFactory = tf.findBackendFactory("cpu");
    if (!cpuFactory) return { available: false, reason: "the tfjs cpu backend is not registered" };
    if (!tf.findBackendFactory(ONEDNN_BACKEND_NAME)) {
      registerOnednnKernels(lib, ONEDNN_BACKEND_NAME);
      // A new MathBackendCPU per backend instance: tensors of `cpu` and `cpu-onednn` stay in separate stores, and
      // tfjs moves them across on first use like between any two backends. Priority 0 keeps tfjs from choosing it
      // on its own; initBackend() selects it explicitly.
      tf.registerBackend(
        ONEDNN_BACKEND_NAME,
        () => {
          const backend = cpuFactory() as tf.KernelBackend & { firstUse?: boolean };
          // MathBackendCPU's first-use banner recommends tfjs-node, which is not what runs here.
          backend.firstUse = false;
          // NNSSL_ADAPT_FREE=gc leaves every buffer to V8's collector, as plain MathBackendCPU does.
          if (freeNativeOnDispose()) {
            releaseBuffersOnDispose(backend as unknown as Parameters<typeof releaseBuffersOnDispose>[0], (b) => lib.detach(b));
          }
          return backend;
        },
        0,
      );
    }
    active ??= lib;
    const v = lib.version();
    return { available: true, reason: `oneDNN ${v.major}.${v.minor}.${v.patch}, ${v.cpuRuntime}` };
  } catch (err) {
    return { available: false, reason: `registering ${ONEDNN_BACKEND_NAME} failed: ${(err as Error).message}` };
  }
}
