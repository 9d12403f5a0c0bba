// Every environment variable nnssl-adapt reads, documented once (ENVIRONMENT) and read through the accessors below,
// so that no other module looks at process.env for a setting. The four folder variables (nnUNet_raw, ...) are read by
// env.ts. Each accessor takes the environment as an argument (process.env by default) so tests can pass their own.
// Unset or empty means "use the default"; a value that cannot be used is a ConfigError naming the variable.

import { ConfigError } from "../errors.js";
import { DEFAULT_NUM_PROCESSES } from "./constants.js";
import { PATH_MEANING } from "./env.js";

type Env = NodeJS.ProcessEnv;

/** Name -> what it does. ARCHITECTURE.md points here; keep it in step with the accessors. */
export const ENVIRONMENT: Readonly<Record<string, string>> = {
  ...PATH_MEANING,
  nnUNet_def_n_proc: `default worker count of fingerprint extraction and evaluation (-np, -npfp; default ${DEFAULT_NUM_PROCESSES})`,
  nnUNet_npp: "default worker count for preprocessing during prediction (-npp; default 3)",
  nnUNet_nps: "default worker count for exporting segmentations during prediction (-nps; default 3)",
  nnUNet_n_proc_DA: "data augmentation workers during training (default: cores - 1, at least 1, at most 4; 0 runs in the main thread)",
  NNSSL_ADAPT_BACKEND:
    "force a tfjs backend: webgpu, cpu-onednn, cpu or tensorflow (same as --backend); default: the fastest available (webgpu on a GPU, else cpu-onednn)",
  NNSSL_ADAPT_MALLOC: "'default' leaves glibc's allocator alone instead of keeping up to 1 GiB of freed tensor memory for reuse",
  NNSSL_ADAPT_FREE: "'gc' leaves freeing native tensor buffers to V8's garbage collector instead of freeing them when the tensor is disposed",
  NNSSL_ADAPT_MAP_FILES: "'0' reads .pth checkpoints into memory instead of memory-mapping them (cpu-onednn)",
  NNSSL_ADAPT_BF16: "'0' ignores the CPU's bf16 instructions: --precision bf16 then computes in fp32, with its notice (cpu-onednn)",
  NNSSL_ADAPT_VERBOSE: "'1' shows full stack traces of errors in notebooks (kernel-extensions; verboseErrors() does the same)",
  NNSSL_ADAPT_DEBUG: "'1' prints stack traces of errors on the command line (like --verbose)",
  NNSSL_ADAPT_SKIP_NATIVE: "set during npm install to skip building the oneDNN addon (scripts/build-native.js)",
  NNSSL_ADAPT_NATIVE_VERBOSE: "set during npm install to show the addon's compiler output (scripts/build-native.js)",
  NNSSL_ADAPT_PEAK_GFLOPS: "the machine's fp32 peak in GFLOP/s that scripts/bench/resencl.js divides by (default: from /proc/cpuinfo)",
  NNSSL_ADAPT_BENCH_PYTHON: "python3 with torch/nnU-Net used as the reference by scripts/bench/* (default /usr/bin/python3)",
  OMP_WAIT_POLICY: "libgomp's idle policy; set to 'passive' when neither it nor GOMP_SPINCOUNT is set (see backend/onednn.ts)",
  HF_TOKEN: "Hugging Face access token (hf_...) for gated or private checkpoints; HUGGING_FACE_HUB_TOKEN is read too",
  HF_ENDPOINT: "Hugging Face Hub URL (default https://huggingface.co), e.g. a mirror",
  HF_HUB_OFFLINE: "1/ON/YES/TRUE: use only checkpoints already downloaded",
  HF_HUB_ETAG_TIMEOUT: "seconds to wait for the Hub's response headers (default 10)",
  HF_HUB_DOWNLOAD_TIMEOUT: "seconds without downloaded bytes before a download is abandoned (default 10)",
  VK_DRIVER_FILES: "the Vulkan loader's driver manifests (VK_ICD_FILENAMES is the older name); read to tell whether webgpu can find a GPU",
  VK_ICD_FILENAMES: "set to SwiftShader's manifest (Debian's chromium) when no Vulkan driver is installed, so --backend webgpu works on any machine",
};

/** Where the Vulkan loader looks for libvulkan.so.1 and driver manifests (its own variables, read by backend/webgpu.ts). */
export interface VulkanSearch {
  libraryPath: string[];
  driverFiles: string[];
  configDirs: string[];
  dataDirs: string[];
}

export function vulkanSearch(env: Env = process.env): VulkanSearch {
  const list = (v: string | undefined) => (v ?? "").split(":").filter(Boolean);
  return {
    libraryPath: list(env.LD_LIBRARY_PATH),
    driverFiles: list(present(env, "VK_DRIVER_FILES") ?? present(env, "VK_ICD_FILENAMES")),
    configDirs: list(present(env, "XDG_CONFIG_DIRS") ?? "/etc/xdg"),
    dataDirs: [...list(present(env, "XDG_DATA_DIRS") ?? "/usr/local/share:/usr/share"), present(env, "XDG_DATA_HOME") ?? `${env.HOME ?? ""}/.local/share`],
  };
}

/** Points the Vulkan loader of this process at one driver manifest (used for the SwiftShader fallback). */
export function useVulkanDriver(manifest: string, env: Env = process.env): void {
  env.VK_ICD_FILENAMES = manifest;
}

function present(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

/** An integer variable >= min, or `fallback` when unset. */
function integer(env: Env, name: string, fallback: number, min: number): number {
  const v = present(env, name);
  if (v === undefined) return fallback;
  if (!/^[+-]?\d+$/.test(v) || Number(v) < min) throw new ConfigError(`${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return Number(v);
}

/** nnUNet_def_n_proc: default worker count of fingerprint extraction and evaluation (upstream's default_num_processes). */
export function defaultNumProcesses(env: Env = process.env): number {
  return integer(env, "nnUNet_def_n_proc", DEFAULT_NUM_PROCESSES, 1);
}

/** nnUNet_npp / nnUNet_nps: default preprocessing and export workers of prediction (-npp, -nps). */
export function predictionWorkers(env: Env = process.env): { npp: number; nps: number } {
  return { npp: integer(env, "nnUNet_npp", 3, 1), nps: integer(env, "nnUNet_nps", 3, 1) };
}

/** nnUNet_n_proc_DA: augmentation workers during training; undefined when unset (the trainer then picks from the core count). */
export function augmentationWorkers(env: Env = process.env): number | undefined {
  return present(env, "nnUNet_n_proc_DA") === undefined ? undefined : integer(env, "nnUNet_n_proc_DA", 0, 0);
}

/** NNSSL_ADAPT_BACKEND: the backend the user forces (e.g. "cpu"), or undefined to pick the fastest one available. */
export function backendOverride(env: Env = process.env): string | undefined {
  return present(env, "NNSSL_ADAPT_BACKEND");
}

/**
 * Whether the oneDNN addon may tell glibc to keep freed tensor memory for reuse: not with NNSSL_ADAPT_MALLOC=default,
 * nor when the user tunes glibc through its own MALLOC_MMAP_MAX_ / MALLOC_TRIM_THRESHOLD_.
 */
export function keepFreedHeap(env: Env = process.env): boolean {
  return env.NNSSL_ADAPT_MALLOC !== "default" && env.MALLOC_MMAP_MAX_ === undefined && env.MALLOC_TRIM_THRESHOLD_ === undefined;
}

/** True when the user chose libgomp's spinning behaviour (OMP_WAIT_POLICY or GOMP_SPINCOUNT set); else we set passive. */
export function ompWaitPolicySet(env: Env = process.env): boolean {
  return env.OMP_WAIT_POLICY !== undefined || env.GOMP_SPINCOUNT !== undefined;
}

/** NNSSL_ADAPT_FREE=gc: native buffers are left to the garbage collector (default: freed when their tensor is disposed). */
export function freeNativeOnDispose(env: Env = process.env): boolean {
  return env.NNSSL_ADAPT_FREE !== "gc";
}

/** NNSSL_ADAPT_BF16=0: the CPU's bf16 instructions are not used, as on a CPU without them. */
export function useCpuBf16(env: Env = process.env): boolean {
  return env.NNSSL_ADAPT_BF16 !== "0";
}

/** NNSSL_ADAPT_MAP_FILES=0: checkpoints are read, not memory-mapped. */
export function mapCheckpointFiles(env: Env = process.env): boolean {
  return env.NNSSL_ADAPT_MAP_FILES !== "0";
}

/** Sets OMP_WAIT_POLICY=passive for libgomp unless the user chose a policy (ompWaitPolicySet). */
export function preferPassiveOpenMp(env: Env = process.env): void {
  if (!ompWaitPolicySet(env)) env.OMP_WAIT_POLICY = "passive";
}

/** NNSSL_ADAPT_DEBUG=1: stack traces on the command line. */
export function debugErrors(env: Env = process.env): boolean {
  return env.NNSSL_ADAPT_DEBUG === "1";
}

export interface HfSettings {
  accessToken: string | undefined;
  hubUrl: string;
  offline: boolean;
  /** Seconds to wait for response headers (HF_HUB_ETAG_TIMEOUT, default 10 like huggingface_hub). */
  etagTimeout: number;
  /** Seconds without any body bytes before a download is abandoned (HF_HUB_DOWNLOAD_TIMEOUT, default 10). */
  downloadTimeout: number;
}

/**
 * The Hugging Face variables huggingface_hub reads (@huggingface/hub reads none): HF_TOKEN -> accessToken, HF_ENDPOINT
 * -> hubUrl, HF_HUB_OFFLINE -> offline (huggingface_hub's truthy values), and the two timeouts.
 */
export function hfSettings(env: Env = process.env): HfSettings {
  const token = (env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN)?.trim() || undefined;
  if (token && !token.startsWith("hf_")) throw new ConfigError("HF_TOKEN must be a Hugging Face access token starting with hf_");
  const hubUrl = (env.HF_ENDPOINT?.trim() || "https://huggingface.co").replace(/\/+$/, "");
  const offline = ["1", "ON", "YES", "TRUE"].includes((env.HF_HUB_OFFLINE ?? "").trim().toUpperCase());
  const seconds = (name: string): number => {
    const v = env[name]?.trim();
    if (!v) return 10;
    const x = Number(v);
    if (!(x > 0)) throw new ConfigError(`${name} must be a positive number of seconds, got ${JSON.stringify(v)}`);
    return x;
  };
  return { accessToken: token, hubUrl, offline, etagTimeout: seconds("HF_HUB_ETAG_TIMEOUT"), downloadTimeout: seconds("HF_HUB_DOWNLOAD_TIMEOUT") };
}
