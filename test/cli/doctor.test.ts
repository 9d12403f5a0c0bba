// `nnssl-adapt doctor` through the built CLI: reports instead of failing, and reflects the environment it runs in.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { hasTorch } from "../helpers/python.js";

const BIN = path.resolve("bin/nnssl-adapt.js");

describe("nnssl-adapt doctor --json", () => {
  it("reports versions, the backend, the four folders and the optional tools", () => {
    const raw = path.resolve("test/fixtures/datasets");
    const r = spawnSync(process.execPath, [BIN, "doctor", "--json"], {
      encoding: "utf8",
      timeout: 180_000,
      env: { ...process.env, nnUNet_raw: raw, nnUNet_preprocessed: "/nonexistent/pre", nnUNet_results: "", nnssl_pretrained_models: "" },
    });
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.versions.node).toBe(process.version);
    expect(j.versions["nnssl-adapt"]).toMatch(/^\d+\.\d+\.\d+/);
    expect(["tensorflow", "cpu-onednn", "cpu"]).toContain(j.backend.name);
    expect(j.paths).toEqual({
      nnUNet_raw: { value: raw, exists: true },
      nnUNet_preprocessed: { value: "/nonexistent/pre", exists: false },
      nnUNet_results: { value: null, exists: false },
      nnssl_pretrained_models: { value: null, exists: false },
    });
    expect(j.jupyter.ok).toBe(existsSync("/usr/bin/jupyter"));
    expect(j.pythonTorch.ok).toBe(hasTorch());
    expect(typeof j.tslabKernel.ok).toBe("boolean");
  });
});
