// `nnssl-adapt doctor [--json]`: versions, the active tfjs backend, the four nnU-Net/nnssl folders and whether the
// optional tools are set up (Jupyter + the tslab kernel for notebooks, Debian's python3-torch / python3-nibabel that
// the reference tests use). Never fails because something is missing: it says what is missing and how to get it.

import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { backendInfo, tf } from "../../backend/index.js";
import { adapterLine, probeWebgpu, type WebgpuAdapterReport } from "../../backend/webgpu.js";
import { PATH_NAMES, lookupPath } from "../../config/env.js";
import { applyBackendFlag, BACKEND_FLAG_HELP } from "../backend-flag.js";

const JUPYTER = "/usr/bin/jupyter";
const PYTHON = "/usr/bin/python3";

interface Check {
  ok: boolean;
  detail: string;
}

export interface DoctorReport {
  versions: Record<string, string>;
  backend: { name: string; provider: string; skipped: string[]; forced: boolean };
  /** The WebGPU adapter Dawn finds (chosen or not), or why there is none. */
  webgpu: { adapter: WebgpuAdapterReport | null; detail: string; chosen: boolean };
  paths: Record<string, { value: string | null; exists: boolean }>;
  jupyter: Check;
  tslabKernel: Check;
  pythonTorch: Check;
  pythonNibabel: Check;
}

function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, OMP_NUM_THREADS: "1" } }, (err, stdout, stderr) => {
      resolve({ ok: !err, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** The package.json of this package (found upwards from this file, so it works from sdk/ and dist/sdk/). */
function ownPackageJson(): { version?: string } {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = path.join(dir, "package.json");
    if (existsSync(p)) {
      const j = JSON.parse(readFileSync(p, "utf8")) as { name?: string; version?: string };
      if (j.name === "nnssl-adapt") return j;
    }
    dir = path.dirname(dir);
  }
  return {};
}

function moduleVersion(name: string): string {
  try {
    const require = createRequire(import.meta.url);
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return "not installed";
  }
}

async function pythonModule(module: string): Promise<Check> {
  if (!existsSync(PYTHON)) return { ok: false, detail: `${PYTHON} not found (apt-get install python3 python3-${module})` };
  const r = await run(PYTHON, ["-c", `import ${module}; print(${module}.__version__)`]);
  return r.ok
    ? { ok: true, detail: `${r.stdout.trim()} (${PYTHON})` }
    : { ok: false, detail: `not importable by ${PYTHON} (apt-get install python3-${module})` };
}

async function jupyterChecks(): Promise<{ jupyter: Check; tslabKernel: Check }> {
  if (!existsSync(JUPYTER)) {
    return {
      jupyter: { ok: false, detail: `${JUPYTER} not found (apt-get install jupyter-notebook or python3-notebook)` },
      tslabKernel: { ok: false, detail: "needs Jupyter first" },
    };
  }
  const [ver, specs] = await Promise.all([run(JUPYTER, ["--version"]), run(JUPYTER, ["kernelspec", "list", "--json"])]);
  const core = /jupyter_core\s*:\s*(\S+)/.exec(ver.stdout)?.[1];
  const jupyter: Check = { ok: true, detail: `${JUPYTER}${core ? ` (jupyter_core ${core})` : ""}` };
  if (!specs.ok) return { jupyter, tslabKernel: { ok: false, detail: `jupyter kernelspec list failed: ${specs.stderr.trim().split("\n").pop() ?? ""}` } };
  let kernels: Record<string, { spec?: { argv?: string[]; display_name?: string } }> = {};
  try {
    kernels = (JSON.parse(specs.stdout) as { kernelspecs: typeof kernels }).kernelspecs ?? {};
  } catch {
    /* an unparsable listing counts as no kernel */
  }
  const tslab = Object.entries(kernels).filter(([, k]) => (k.spec?.argv ?? []).some((a) => /tslab/.test(a)));
  if (tslab.length === 0) {
    return { jupyter, tslabKernel: { ok: false, detail: "no tslab kernel registered (npx tslab install, or the README's setup command)" } };
  }
  const missingBin = tslab.filter(([, k]) => {
    const bin = k.spec!.argv!.find((a) => /tslab/.test(a))!;
    return path.isAbsolute(bin) && !existsSync(bin);
  });
  const names = tslab.map(([n, k]) => `${n} (${k.spec?.display_name ?? "?"})`).join(", ");
  return missingBin.length === tslab.length
    ? { jupyter, tslabKernel: { ok: false, detail: `${names} registered, but its tslab binary is missing (npm install)` } }
    : { jupyter, tslabKernel: { ok: true, detail: names } };
}

export async function doctor(): Promise<DoctorReport> {
  const [backend, jup, pythonTorch, pythonNibabel] = await Promise.all([backendInfo(), jupyterChecks(), pythonModule("torch"), pythonModule("nibabel")]);
  const probe = await probeWebgpu();
  const webgpu =
    typeof probe === "string"
      ? { adapter: null, detail: probe, chosen: false }
      : { adapter: probe, detail: adapterLine(probe), chosen: backend.name === "webgpu" };
  const paths: DoctorReport["paths"] = {};
  for (const n of PATH_NAMES) {
    const v = lookupPath(n) ?? null;
    paths[n] = { value: v, exists: v !== null && existsSync(v) };
  }
  return {
    versions: {
      "nnssl-adapt": ownPackageJson().version ?? "unknown",
      node: process.version,
      "@tensorflow/tfjs": tf.version?.tfjs ?? moduleVersion("@tensorflow/tfjs"),
      tslab: moduleVersion("tslab"),
      typescript: moduleVersion("typescript"),
    },
    backend: { name: backend.name, provider: backend.provider, skipped: backend.skipped, forced: backend.forced },
    webgpu,
    paths,
    ...jup,
    pythonTorch,
    pythonNibabel,
  };
}

export function formatDoctor(r: DoctorReport): string {
  const mark = (c: Check) => `${c.ok ? "ok     " : "missing"} ${c.detail}`;
  const lines = [
    ...Object.entries(r.versions).map(([k, v]) => `${k.padEnd(24)} ${v}`),
    `${"backend".padEnd(24)} ${r.backend.name} via ${r.backend.provider}${r.backend.forced ? " (forced by --backend / NNSSL_ADAPT_BACKEND)" : ""}`,
    ...r.backend.skipped.map((s) => `${"".padEnd(24)}   skipped ${s}`),
    `${"webgpu adapter".padEnd(24)} ${r.webgpu.adapter ? `${r.webgpu.chosen ? "chosen " : "available, not chosen:"} ${r.webgpu.detail}` : `none: ${r.webgpu.detail}`}`,
    ...(r.webgpu.adapter
      ? [
          `${"".padEnd(24)}   limits: maxBufferSize ${r.webgpu.adapter.limits.maxBufferSize}, maxStorageBufferBindingSize ${r.webgpu.adapter.limits.maxStorageBufferBindingSize}, shader-f16 ${r.webgpu.adapter.shaderF16 ? "yes" : "no"}`,
        ]
      : []),
    ...Object.entries(r.paths).map(
      ([k, p]) => `${k.padEnd(24)} ${p.value === null ? `not set (export ${k}=/path/to/folder)` : `${p.value}${p.exists ? "" : " (does not exist yet)"}`}`,
    ),
    `${"jupyter".padEnd(24)} ${mark(r.jupyter)}`,
    `${"tslab kernel".padEnd(24)} ${mark(r.tslabKernel)}`,
    `${"python3-torch".padEnd(24)} ${mark(r.pythonTorch)}`,
    `${"python3-nibabel".padEnd(24)} ${mark(r.pythonNibabel)}`,
  ];
  return lines.join("\n");
}

export function register(program: Command): void {
  program
    .command("doctor")
    .description("versions, active backend, nnU-Net folders and whether Jupyter/tslab and python3-torch are set up")
    .option("--json", "print the report as JSON")
    .option("--backend <name>", BACKEND_FLAG_HELP)
    .action(async (opts: { json?: boolean; backend?: string }) => {
      await applyBackendFlag(opts.backend);
      const r = await doctor();
      process.stdout.write((opts.json ? JSON.stringify(r, null, 2) : formatDoctor(r)) + "\n");
    });
}
