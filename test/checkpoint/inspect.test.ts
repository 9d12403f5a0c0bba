// `nnssl-adapt checkpoint inspect` through the built CLI (npm test builds first), checked against real torch.

import { execFileSync, spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { summarizeCheckpoint, findTensors } from "../../sdk/checkpoint/inspect.js";
import { TorchTensor, PyTuple } from "../../sdk/io/torch/index.js";
import { pythonSkipReason, runPythonJson } from "../helpers/python.js";

const BIN = path.resolve("bin/nnssl-adapt.js");
const FIX = path.resolve("test/fixtures");
const skip = pythonSkipReason(["torch"]);
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 120_000 });

// The same summary computed by torch: dotted names, float64 sums, first 10 values via tolist().
const TORCH_SUMMARY = String.raw`
import sys, json, torch
obj = torch.load(sys.argv[1])
out = []
def walk(v, name):
    if isinstance(v, torch.Tensor):
        flat = v.reshape(-1)
        first = flat[:10].tolist() if v.dtype == torch.bool else flat[:10].double().tolist()
        out.append({"name": name, "dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape), "sum": flat.double().sum().item(), "first": first})
    elif isinstance(v, dict):
        for k, x in v.items(): walk(x, f"{name}.{k}" if name else str(k))
    elif isinstance(v, (list, tuple)):
        for i, x in enumerate(v): walk(x, f"{name}.{i}" if name else str(i))
walk(obj, "")
plan = obj.get("nnssl_adaptation_plan") if isinstance(obj, dict) else None
print(json.dumps({"adaptation_plan": plan, "tensors": sorted(out, key=lambda t: t["name"])}))`;

describe("nnssl-adapt checkpoint inspect <path> --json", () => {
  it.skipIf(skip).each(["nnssl/nnssl_ResEncMini.pth", "torch/dtypes.pth", "torch/shared_views.pth", "torch/zip_nested_state_dict.pth", "torch/legacy.pth"])(
    `%s: equals what torch reports${skip ? ` (skipped: ${skip})` : ""}`,
    (rel) => {
      const file = path.join(FIX, rel);
      const out = JSON.parse(execFileSync(process.execPath, [BIN, "checkpoint", "inspect", file, "--json"], { encoding: "utf8", maxBuffer: 1 << 28 }));
      const ref = runPythonJson<{ adaptation_plan: unknown; tensors: { name: string; sum: number; first: number[] }[] }>(TORCH_SUMMARY, [file]);
      expect(Object.keys(out)).toEqual(["adaptation_plan", "tensors"]);
      expect(out.adaptation_plan).toEqual(ref.adaptation_plan);
      // JSON has no -0 (JSON.stringify writes 0), so compare through JSON on both sides
      const rows = (ts: any[]) => JSON.parse(JSON.stringify(ts.map((t) => [t.name, t.dtype, t.shape, t.first])));
      expect(rows(out.tensors)).toEqual(rows(ref.tensors));
      out.tensors.forEach((t: { sum: number }, i: number) => {
        const r = ref.tensors[i]!.sum;
        expect(Math.abs(t.sum - r)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(r)) * out.tensors.length + (Math.abs(r) > 1e30 ? Math.abs(r) * 1e-15 : 0));
      });
    },
  );

  it("prints the plan summary and a table without --json", () => {
    const r = cli("checkpoint", "inspect", path.join(FIX, "nnssl/nnssl_ResEncMini.pth"));
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ {2}architecture {12}ResidualEncoderUNet/m);
    expect(r.stdout).toMatch(/^ {2}pretraining spacing {5}\[1, 1, 1\]$/m);
    expect(r.stdout).toMatch(/^ {2}key_to_encoder {10}encoder\.stages$/m);
    expect(r.stdout).toMatch(/^network_weights\.encoder\.stem\.convs\.0\.conv\.weight +float32 +\[8, 1, 3, 3, 3\]/m);
    expect(r.stdout).toMatch(/^citation {2}Synthetic public test checkpoint/m);
  });

  it("downloads a Hugging Face URL into $nnssl_pretrained_models first (mock hub), progress on stderr", async () => {
    const { startMockHub } = await import("../helpers/mock-hub.js");
    const { mkdtempSync, readFileSync, rmSync, existsSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const hub = await startMockHub({
      repos: {
        "org/ck": {
          "adaptation_plan.json": readFileSync(path.join(FIX, "nnssl/nnssl_ResEncMini_adaptation_plan.json")),
          "checkpoint_final.pth": readFileSync(path.join(FIX, "nnssl/nnssl_ResEncMini.pth")),
          "config.json": "{}",
        },
      },
    });
    const root = mkdtempSync(path.join(tmpdir(), "nnssl-inspect-"));
    try {
      // spawn without blocking the event loop: the mock hub answers from this process
      const { spawn } = await import("node:child_process");
      const child = spawn(process.execPath, [BIN, "checkpoint", "inspect", "https://huggingface.co/org/ck", "--json"], {
        env: { ...process.env, HF_ENDPOINT: hub.url, nnssl_pretrained_models: root },
      });
      let stdout = "",
        stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      const code = await new Promise((res) => child.on("close", res));
      expect(code, stderr).toBe(0);
      const out = JSON.parse(stdout);
      expect(out.adaptation_plan.key_to_stem).toBe("encoder.stem");
      expect(out.tensors).toHaveLength(356);
      expect(stderr).toMatch(/download checkpoint_final.pth/);
      expect(existsSync(path.join(root, "org_ck", "checkpoint_final.pth"))).toBe(true);
    } finally {
      await hub.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("fails with a one-line error on a malicious file", () => {
    const r = cli("checkpoint", "inspect", path.join(FIX, "torch/malicious_stack_global.pth"));
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim()).toBe(
      `nnssl-adapt: error: ${path.join(FIX, "torch/malicious_stack_global.pth")}: refusing to load: the pickle asks for os.system, which is not an allowed type`,
    );
  });
});

describe("findTensors(root)", () => {
  it("names tensors by dotted path with list indices as numbers, sorted, aliases under each name", () => {
    const t = TorchTensor.fromTypedArray(new Float32Array([1, 2]), [2]);
    const root = { b: [t, PyTuple.ofItems([1, t])], a: new Map<unknown, unknown>([[3, t]]), c: { d: t } };
    expect(findTensors(root).map(([n]) => n)).toEqual(["a.3", "b.0", "b.1.1", "c.d"]);
    expect(summarizeCheckpoint(root).adaptation_plan).toBeNull();
  });
});

describe("findTensors(shared-reference bomb)", () => {
  it("stops with a CheckpointError instead of walking exponentially many paths", () => {
    let v: unknown = [TorchTensor.fromTypedArray(new Float32Array(1), [1])];
    for (let i = 0; i < 40; i++) v = [v, v];
    expect(() => findTensors(v, { maxPaths: 100_000 })).toThrow("more than 100000 paths in the object tree");
  });
});
