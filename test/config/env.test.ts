import { describe, expect, it } from "vitest";
import { requirePath } from "../../sdk/config/env.js";

describe("requirePath(name, paths)", () => {
  it("prefers the option over the environment", () => {
    expect(requirePath("nnUNet_raw", { nnUNet_raw: "/data/raw" })).toBe("/data/raw");
  });
  it("names the variable to set when it is missing", () => {
    const saved = process.env.nnUNet_results;
    delete process.env.nnUNet_results;
    try {
      expect(() => requirePath("nnUNet_results")).toThrow(/^nnUNet_results is not set: export nnUNet_results=/);
    } finally {
      if (saved !== undefined) process.env.nnUNet_results = saved;
    }
  });
});
