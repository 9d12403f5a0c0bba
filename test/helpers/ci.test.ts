import { afterEach, describe, expect, it, vi } from "vitest";
import { skipUnlessCI } from "./ci.js";
import { pythonSkipReason } from "./python.js";

describe("skipUnlessCI: a missing oracle skips locally and fails under CI=true", () => {
  afterEach(() => vi.unstubAllEnvs());
  it("passes null through, under CI too", () => {
    vi.stubEnv("CI", "true");
    expect(skipUnlessCI(null)).toBeNull();
  });
  it("returns the reason without CI", () => {
    vi.stubEnv("CI", "");
    expect(pythonSkipReason(["no_such_module_xyz"])).toMatch(/cannot import no_such_module_xyz/);
  });
  it("throws under CI=true", () => {
    vi.stubEnv("CI", "true");
    expect(() => pythonSkipReason(["no_such_module_xyz"])).toThrow(/^CI=true, but a test oracle or tool is missing: .*no_such_module_xyz/);
  });
});
