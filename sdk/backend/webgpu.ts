// The one seam to WebGPU: Dawn's Node bindings (the `webgpu` npm package, whose prebuilt dawn.node ships inside it) and
// tfjs' WebGPU backend (@tensorflow/tfjs-backend-webgpu). Dawn talks to the GPU through Vulkan on Linux (NVIDIA, AMD,
// Intel), Metal on macOS and D3D12 on Windows. Nothing is loaded until a caller asks: probing costs ~0.1 s and needs
// the Vulkan loader (Debian: libvulkan1).
//
// Software adapters (SwiftShader, llvmpipe, lavapipe) are reported but never chosen on their own: they emulate the GPU
// on the CPU and are slower than cpu-onednn. Tests force them (NNSSL_ADAPT_BACKEND=webgpu) to check every kernel.

import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { useVulkanDriver, vulkanSearch } from "../config/switches.js";
import { registerWebgpuConv3dKernels } from "./webgpu-conv3d.js";
import { registerWebgpuNormKernels } from "./webgpu-norm.js";
import { patchTfjsWebgpuKernels } from "./webgpu-workarounds.js";
import { bindingLimit, GpuLimitError, registerWebgpuSplitKernels } from "./webgpu-split.js";

export const WEBGPU_BACKEND_NAME = "webgpu";

export interface WebgpuAdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU emulation of a GPU (SwiftShader, llvmpipe, lavapipe, or Dawn's own fallback adapter). */
  software: boolean;
  /** The adapter can run f16 arithmetic in shaders (WGSL `enable f16`). */
  shaderF16: boolean;
  limits: {
    maxBufferSize: number;
    maxStorageBufferBindingSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxComputeWorkgroupsPerDimension: number;
  };
}

export interface WebgpuStatus {
  /** A tfjs `webgpu` backend is registered and can be selected. */
  available: boolean;
  /** Why not, or a one-line description of the adapter. */
  reason: string;
  adapter: WebgpuAdapterReport | null;
}

/** The limits requested from the device: each as high as the adapter allows (the defaults are far lower). */
const REQUESTED_LIMITS = [
  "maxBufferSize",
  "maxStorageBufferBindingSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBuffersPerShaderStage",
] as const;

const SOFTWARE_NAMES = /swiftshader|llvmpipe|lavapipe|softpipe|software/i;

/** SwiftShader's Vulkan driver as Debian's chromium package installs it. */
export const SWIFTSHADER_ICD = "/usr/lib/chromium/vk_swiftshader_icd.json";

interface Found {
  gpu: GPU;
  adapter: GPUAdapter;
  report: WebgpuAdapterReport;
}

let probed: Promise<Found | string> | undefined;
let registered: Promise<WebgpuStatus> | undefined;
/** Set when the device is lost; every later kernel call fails with it. */
let deviceFault: string | null = null;
/**
 * A GPU error nobody caught (an invalid shader or binding). WebGPU reports it asynchronously, so it is thrown by the
 * next kernel call rather than by the one that caused it; the outputs computed in between are not to be trusted.
 */
let pendingError: string | null = null;

function describe(adapter: GPUAdapter): WebgpuAdapterReport {
  const info = adapter.info;
  const l = adapter.limits;
  const names = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    software: (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true || SOFTWARE_NAMES.test(names),
    shaderF16: adapter.features.has("shader-f16"),
    limits: {
      maxBufferSize: l.maxBufferSize,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    },
  };
}

/** One line naming the adapter, e.g. "nvidia hopper (NVIDIA H100 80GB HBM3), 1.0 GiB bindings". */
export function adapterLine(a: WebgpuAdapterReport): string {
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  const name = [a.vendor, a.architecture].filter(Boolean).join(" ") || "unknown adapter";
  return `${name} (${a.description || a.device})${a.software ? ", software" : ""}${a.shaderF16 ? ", shader-f16" : ""}, buffers up to ${gib(a.limits.maxBufferSize)}, bindings up to ${gib(a.limits.maxStorageBufferBindingSize)}`;
}

/**
 * On Linux Dawn reaches the GPU through Vulkan: the loader libvulkan.so.1 plus a driver manifest (ICD json). Without
 * them Dawn finds nothing but prints several warnings to stderr, on every command of a CPU-only machine; looking
 * first (the loader's own search rules, in short) keeps those quiet and gives a reason a user can act on.
 */
function missingVulkan(): string | null {
  if (process.platform !== "linux") return null;
  const search = vulkanSearch();
  const libDirs = [
    ...search.libraryPath,
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
  ];
  if (!libDirs.some((d) => existsSync(join(d, "libvulkan.so.1")))) {
    return "the Vulkan loader libvulkan.so.1 is not installed (Debian: apt-get install libvulkan1)";
  }
  if (search.driverFiles.length) {
    return search.driverFiles.some((f) => existsSync(f))
      ? null
      : `no Vulkan driver: none of the files in VK_DRIVER_FILES/VK_ICD_FILENAMES exists (${search.driverFiles.join(", ")})`;
  }
  for (const base of [...search.configDirs, "/etc", ...search.dataDirs]) {
    const dir = join(base, "vulkan", "icd.d");
    try {
      if (readdirSync(dir).some((f) => f.endsWith(".json"))) return null;
    } catch {
      // not there: keep looking
    }
  }
  // No GPU driver. Debian's chromium ships SwiftShader, a Vulkan driver that runs on the CPU: offer it, so that
  // `--backend webgpu` works everywhere (that is how the tests run every kernel); it is never chosen on its own.
  if (existsSync(SWIFTSHADER_ICD)) {
    useVulkanDriver(SWIFTSHADER_ICD);
    return null;
  }
  return "no Vulkan driver (no ICD manifest in /etc/vulkan/icd.d or /usr/share/vulkan/icd.d: install the GPU's driver)";
}

async function findAdapter(): Promise<Found | string> {
  const vulkan = missingVulkan();
  if (vulkan) return vulkan;
  let create: (options: string[]) => GPU;
  let globals: object;
  try {
    ({ create, globals } = (await import("webgpu")) as { create: (options: string[]) => GPU; globals: object });
  } catch (err) {
    return `the webgpu package (Dawn) failed to load: ${(err as Error).message.split("\n")[0]}`;
  }
  // tfjs' WebGPU backend uses the GPUBufferUsage/GPUMapMode/... constants as globals, as in a browser.
  for (const [k, v] of Object.entries(globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  const gpu = create([]);
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch (err) {
    return `requesting a WebGPU adapter failed: ${(err as Error).message.split("\n")[0]}`;
  }
  if (!adapter) {
    return "no WebGPU adapter (no Vulkan driver found: needs a GPU driver and the Vulkan loader, Debian: libvulkan1)";
  }
  return { gpu, adapter, report: describe(adapter) };
}

/** Looks for a WebGPU adapter (once) without creating a device or registering anything. Never throws. */
export async function probeWebgpu(): Promise<WebgpuAdapterReport | string> {
  probed ??= findAdapter();
  const found = await probed;
  return typeof found === "string" ? found : found.report;
}

/**
 * Registers the tfjs `webgpu` backend on the adapter probeWebgpu() found, with the adapter's largest limits and our own
 * kernels (sdk/backend/webgpu-*.ts). Never throws: reports `{ available: false, reason }`. Registering does not select it.
 */
export function registerWebgpuBackend(): Promise<WebgpuStatus> {
  registered ??= register();
  return registered;
}

async function register(): Promise<WebgpuStatus> {
  probed ??= findAdapter();
  const found = await probed;
  if (typeof found === "string") return { available: false, reason: found, adapter: null };
  const { gpu, adapter, report } = found;
  // tfjs' backend looks for navigator.gpu; Node 20 has no navigator, Node 21+ has one without gpu.
  const nav = ((globalThis as { navigator?: object }).navigator ??= {}) as { gpu?: GPU };
  if (!nav.gpu) Object.defineProperty(nav, "gpu", { value: gpu, configurable: true });
  let mod: typeof import("@tensorflow/tfjs-backend-webgpu");
  try {
    mod = await import("@tensorflow/tfjs-backend-webgpu");
  } catch (err) {
    return { available: false, reason: `@tensorflow/tfjs-backend-webgpu failed to load: ${(err as Error).message.split("\n")[0]}`, adapter: report };
  }
  const requiredLimits: Record<string, number> = {};
  for (const k of REQUESTED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number | undefined>)[k];
    if (typeof v === "number") requiredLimits[k] = v;
  }
  const requiredFeatures: GPUFeatureName[] = [];
  for (const f of ["timestamp-query", "shader-f16"] as const) if (adapter.features.has(f)) requiredFeatures.push(f);
  // The package's own factory (registered on import, when navigator.gpu exists) asks for a few limits only; ours replaces it.
  if (tf.findBackendFactory(WEBGPU_BACKEND_NAME)) tf.removeBackend(WEBGPU_BACKEND_NAME);
  tf.registerBackend(
    WEBGPU_BACKEND_NAME,
    async () => {
      const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
      watchDevice(device);
      return new mod.WebGPUBackend(device, adapter.info);
    },
    0, // never picked by tfjs on its own: initBackend() decides
  );
  guardBackend(mod.WebGPUBackend);
  patchTfjsWebgpuKernels(WEBGPU_BACKEND_NAME, adapter.limits);
  registerWebgpuNormKernels(WEBGPU_BACKEND_NAME);
  registerWebgpuConv3dKernels();
  // Outermost, so that an operand over the binding limit is split before the workarounds reshape it.
  registerWebgpuSplitKernels(WEBGPU_BACKEND_NAME);
  return { available: true, reason: adapterLine(report), adapter: report };
}

function watchDevice(device: GPUDevice): void {
  deviceFault = null;
  pendingError = null;
  void device.lost.then((info) => {
    // "destroyed" is our own teardown (tf.removeBackend); anything else means the GPU went away (driver reset, TDR).
    if (info.reason !== "destroyed") deviceFault = `the GPU device was lost: ${info.message || info.reason}`;
  });
  device.addEventListener("uncapturederror", (ev) => {
    pendingError ??= (ev as GPUUncapturedErrorEvent).error.message.split("\n")[0]!;
  });
}

/** Bytes of one tensor on the GPU. */
function byteSize(shape: readonly number[], dtype: string): number {
  return shape.reduce((a, b) => a * b, 1) * (dtype === "complex64" ? 8 : dtype === "bool" ? 4 : 4);
}

type GPUBackendLimits = { device: { limits: { maxStorageBufferBindingSize: number } } };

/**
 * Checks every program's operands against the device's binding limit before it is recorded: WebGPU rejects a larger
 * binding with a validation error that surfaces later, far from its cause, and leaves the output undefined. Also turns
 * a lost device into an error on the next call and forbids synchronous reads, which tfjs can only do in a browser.
 */
function guardBackend(Backend: typeof WebGPUBackend): void {
  const proto = Backend.prototype as unknown as Record<string, unknown> & { __nnsslGuarded?: boolean };
  if (proto.__nnsslGuarded) return;
  proto.__nnsslGuarded = true;
  const run = proto.runWebGPUProgram as (this: WebGPUBackend, program: { outputShape: number[] }, inputs: tf.TensorInfo[], ...rest: unknown[]) => tf.TensorInfo;
  proto.runWebGPUProgram = function (
    this: WebGPUBackend,
    program: { outputShape: number[]; constructor: { name: string } },
    inputs: tf.TensorInfo[],
    ...rest: unknown[]
  ) {
    if (deviceFault) throw new Error(`webgpu: ${deviceFault}; restart the process (nnssl-adapt doctor shows the adapter)`);
    if (pendingError) {
      const message = pendingError;
      pendingError = null;
      throw new Error(`webgpu: an earlier GPU operation failed, so recent results are invalid: ${message}`);
    }
    // Kernels that split their work (sdk/backend/webgpu-split.ts) bind pieces; whatever is still too large ends here.
    const limit = bindingLimit(this as unknown as GPUBackendLimits);
    for (const t of [...inputs, { shape: program.outputShape, dtype: "float32" } as tf.TensorInfo]) {
      const bytes = byteSize(t.shape, t.dtype);
      if (bytes > limit) throw new GpuLimitError(t.shape, bytes, limit, program.constructor.name);
    }
    return run.call(this, program, inputs, ...rest);
  };
  const readSync = proto.readSync as (this: WebGPUBackend, dataId: object) => unknown;
  proto.readSync = function (this: WebGPUBackend, dataId: object) {
    const data = (this as unknown as { tensorMap: { get(id: object): { values: unknown } | undefined } }).tensorMap.get(dataId);
    if (data?.values == null) {
      throw new Error("webgpu: a GPU tensor was read synchronously (dataSync/arraySync), which WebGPU cannot do in Node; use `await tensor.data()`");
    }
    return readSync.call(this, dataId);
  };
}

export { GpuLimitError } from "./webgpu-split.js";
